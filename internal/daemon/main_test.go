package daemon

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/client"
	"github.com/banger-dev/banger/internal/paths"
)

// childEnv makes the test binary act as a daemon whose copies stall at the
// first progress report, so a test can kill it in the middle of one.
const childEnv = "BANGER_DAEMON_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		layout, err := paths.FromEnv(os.Getenv)
		if err == nil {
			err = Run(context.Background(), Config{Layout: layout, Stderr: os.Stderr, Hooks: Hooks{
				Progress: func(ctx context.Context, ev api.Event) {
					if ev.Current > 0 {
						<-ctx.Done()
					}
				},
			}})
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// tempLayout returns a layout under a short fresh directory (socket paths
// are limited to 108 bytes, too few for t.TempDir under long test names),
// and the environment that yields it through paths.FromEnv.
func tempLayout(t *testing.T) (paths.Layout, []string) {
	t.Helper()
	root, err := os.MkdirTemp("", "bgd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	env := []string{
		"HOME=" + root,
		"XDG_STATE_HOME=" + filepath.Join(root, "state"),
		"XDG_CACHE_HOME=" + filepath.Join(root, "cache"),
		"XDG_RUNTIME_DIR=" + filepath.Join(root, "run"),
	}
	layout, err := paths.FromEnv(func(k string) string {
		for _, kv := range env {
			if strings.HasPrefix(kv, k+"=") {
				return kv[len(k)+1:]
			}
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	return layout, env
}

// testDaemon is a daemon running in-process on a private layout.
type testDaemon struct {
	layout paths.Layout
	client *client.Client
	stop   context.CancelFunc
	done   chan error
}

// startDaemon runs a daemon on layout until the test ends and waits until
// it is ready.
func startDaemon(t *testing.T, layout paths.Layout, hooks Hooks) *testDaemon {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	td := &testDaemon{layout: layout, stop: cancel, done: make(chan error, 1),
		client: &client.Client{SocketPath: layout.SocketPath()}}
	go func() { td.done <- Run(ctx, Config{Layout: layout, Hooks: hooks, Version: "test"}) }()
	t.Cleanup(func() { td.shutdown(t) })
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := td.client.Ping(ctx); err == nil {
			return td
		}
		select {
		case err := <-td.done:
			t.Fatalf("daemon exited during startup: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("daemon did not become ready")
		}
	}
}

// shutdown stops the daemon (once) and returns Run's error.
func (td *testDaemon) shutdown(t *testing.T) error {
	t.Helper()
	td.stop()
	select {
	case err, ok := <-td.done:
		if ok {
			close(td.done)
		}
		return err
	case <-time.After(40 * time.Second):
		t.Fatal("daemon did not stop")
		return nil
	}
}

// mkExt4 creates an ext4 image file of the given size (e.g. "64M").
func mkExt4(t *testing.T, path, size string) {
	t.Helper()
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		t.Skip("mkfs.ext4 not found: install the Debian package e2fsprogs")
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", path, size).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
