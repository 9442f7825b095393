package guestinit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/banger-dev/banger/internal/agent"
)

// hostLink is the guest's side of the agent: it serves the host's requests
// on the virtio-serial port and reports the main process under the agent's
// main session. A guest without the port has no link and says so.
type hostLink struct {
	srv  *agent.Server
	main *agent.MainSession
}

// startAgent finds the agent port and serves it in the background,
// reopening it whenever the host goes away. It returns nil, with an error
// saying why, when the port is missing.
func startAgent(ctx context.Context, cfg agent.ServerConfig) (*hostLink, error) {
	dev, err := findPort(agentPortName, 2*time.Second)
	if err != nil {
		return nil, err
	}
	srv := agent.NewServer(cfg)
	go servePort(ctx, srv, dev)
	return &hostLink{srv: srv}, nil
}

// servePort runs srv on the port device until ctx ends. With no host on the
// other side, reads return EOF at once, so reconnection backs off.
func servePort(ctx context.Context, srv *agent.Server, dev string) {
	pause := 20 * time.Millisecond
	for ctx.Err() == nil {
		f, err := os.OpenFile(dev, os.O_RDWR, 0)
		if err == nil {
			start := time.Now()
			err = srv.Serve(ctx, f)
			if time.Since(start) > time.Second {
				pause = 20 * time.Millisecond
			}
		}
		if err != nil && !errors.Is(err, agent.ErrDisconnected) && ctx.Err() == nil {
			logf("agent on %s: %v", dev, err)
		}
		time.Sleep(pause)
		pause = min(2*pause, 500*time.Millisecond)
	}
}

// attach hands the main process's output to the host. Without a link the
// output is only drained (it already went to the console).
func (h *hostLink) attach(mp *mainProc) error {
	if h == nil {
		if mp.stdin != nil && mp.pty == nil {
			mp.stdin.Close() // nobody can send any
		}
		for _, r := range []io.Reader{mp.stdout, mp.stderr} {
			if r != nil {
				go io.Copy(io.Discard, r)
			}
		}
		return nil
	}
	p := agent.MainProcess{Pid: mp.pid, Stdout: mp.stdout, Stderr: mp.stderr, Stdin: mp.stdin}
	if mp.pty != nil {
		p.TTY = true
		p.Resize = func(rows, cols uint16) error { return agent.SetWinsize(mp.pty, rows, cols) }
	}
	ms, err := h.srv.AttachMain(p)
	if err != nil {
		return fmt.Errorf("reporting main process: %w", err)
	}
	h.main = ms
	return nil
}

// reportExit sends the main process's exit status to the host and waits up
// to timeout for the host to acknowledge it.
func (h *hostLink) reportExit(st agent.ExitStatus, timeout time.Duration) {
	if h == nil || h.main == nil {
		logf("main process ended: %v (no agent: the host cannot be told)", st)
		return
	}
	h.main.Exit(st)
	select {
	case <-h.main.Delivered():
	case <-time.After(timeout):
		logf("main process ended: %v; no host acknowledged it within %v", st, timeout)
	}
}
