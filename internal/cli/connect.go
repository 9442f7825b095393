package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/banger-dev/banger/internal/client"
	"github.com/banger-dev/banger/internal/errdefs"
	"github.com/banger-dev/banger/internal/paths"
)

// startTimeout bounds how long an automatically started daemon may take to
// answer.
const startTimeout = 10 * time.Second

// client returns a client for the daemon socket without checking it.
func (a *app) client() (*client.Client, error) {
	layout, err := a.layout()
	if err != nil {
		return nil, err
	}
	return &client.Client{SocketPath: layout.SocketPath()}, nil
}

// connect returns a client for a daemon that answers, starting one in the
// background if none does (unless BANGER_NO_AUTOSTART=1).
func (a *app) connect(ctx context.Context) (*client.Client, error) {
	c, err := a.client()
	if err != nil {
		return nil, err
	}
	_, err = c.Ping(ctx)
	if err == nil || !errors.Is(err, errdefs.ErrUnavailable) || a.env.getenv("BANGER_NO_AUTOSTART") == "1" {
		return c, err
	}
	layout, err := a.layout()
	if err != nil {
		return nil, err
	}
	if err := a.startDaemon(ctx, c, layout); err != nil {
		return nil, err
	}
	return c, nil
}

// startDaemon launches "banger daemon run" in its own session with its
// output appended to the daemon log, and waits until it answers.
func (a *app) startDaemon(ctx context.Context, c *client.Client, layout paths.Layout) error {
	exe, err := a.executable()
	if err != nil {
		return fmt.Errorf("starting daemon: %w", err)
	}
	if err := os.MkdirAll(layout.StateDir, 0o700); err != nil {
		return fmt.Errorf("starting daemon: %w", err)
	}
	logFile, err := os.OpenFile(layout.LogPath(), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("starting daemon: %w", err)
	}
	defer logFile.Close()
	args := []string{"daemon", "run"}
	if a.debug {
		args = append(args, "--debug")
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = a.env.Environ
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	a.debugf("starting daemon: %s %v", exe, args)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting daemon: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	return a.awaitDaemon(ctx, c, exited, layout.LogPath())
}

// executable is the absolute path of the banger binary (the daemon runs in "/").
func (a *app) executable() (string, error) {
	exe := a.env.Executable
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return "", fmt.Errorf("locating banger binary: %w", err)
		}
	}
	return filepath.Abs(exe)
}

// awaitDaemon polls until the daemon answers. If the process we started
// exits (perhaps because a concurrent CLI's daemon won), another daemon
// gets a short grace period to answer.
func (a *app) awaitDaemon(ctx context.Context, c *client.Client, exited <-chan struct{}, logPath string) error {
	deadline := time.Now().Add(startTimeout)
	var exitedAt time.Time
	for {
		pingCtx, cancel := context.WithTimeout(ctx, startTimeout)
		_, err := c.Ping(pingCtx)
		cancel()
		if err == nil || !errors.Is(err, errdefs.ErrUnavailable) {
			return err
		}
		select {
		case <-exited:
			if exitedAt.IsZero() {
				exitedAt = time.Now()
			}
		default:
		}
		if !exitedAt.IsZero() && time.Since(exitedAt) > time.Second {
			return fmt.Errorf("starting daemon: it exited; see %s", logPath)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("starting daemon: no answer after %s; see %s", startTimeout, logPath)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
