package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestAutoStartAndDaemonLifecycle(t *testing.T) {
	te := newTestEnv(t)
	if got := te.fails(t, "daemon", "status"); got != "banger: daemon is not running (no answer on "+te.socket()+")\n" {
		t.Fatalf("status before start: %q", got)
	}
	// Any command that needs the daemon starts it (as a subprocess).
	out := te.ok(t, "image", "list")
	if !strings.HasPrefix(out, "NAME") || strings.Count(out, "\n") != 1 {
		t.Fatalf("empty list: %q", out)
	}
	status := te.ok(t, "daemon", "status")
	var pid int
	for _, line := range strings.Split(status, "\n") {
		fmt.Sscanf(line, "pid: %d", &pid)
	}
	if !strings.HasPrefix(status, "banger daemon is running") || pid == 0 || pid == os.Getpid() {
		t.Fatalf("status after auto-start: %q", status)
	}
	if info, err := os.Stat(te.socket()); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("socket: %v %v", info, err)
	}
	logged, _ := os.ReadFile(te.stateDir() + "/daemon.log")
	if !strings.Contains(string(logged), "daemon ready") || strings.Count(string(logged), "daemon ready") != 1 {
		t.Fatalf("daemon log should hold one 'daemon ready' line:\n%s", logged)
	}

	if out := te.ok(t, "daemon", "stop"); out != "banger daemon stopped\n" {
		t.Fatalf("stop: %q", out)
	}
	if err := waitGone(pid); err != nil {
		t.Fatal(err)
	}
	te.fails(t, "daemon", "status")
	if out := te.ok(t, "daemon", "stop"); out != "banger daemon is not running\n" {
		t.Fatalf("second stop: %q", out)
	}
}

// waitGone waits for process pid to exit.
func waitGone(pid int) error {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); os.IsNotExist(err) {
			return nil
		}
		if stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); strings.Contains(string(stat), ") Z ") {
			return nil // exited, waiting for its reaper
		}
	}
	return fmt.Errorf("daemon pid %d still running", pid)
}

func TestNoAutoStart(t *testing.T) {
	te := newTestEnv(t, "BANGER_NO_AUTOSTART=1")
	if got := te.fails(t, "image", "list"); !strings.HasPrefix(got, "banger: daemon is not running") {
		t.Fatalf("got %q", got)
	}
	if _, err := os.Stat(te.socket()); !os.IsNotExist(err) {
		t.Fatalf("a daemon was started: %v", err)
	}
}

func TestDaemonRunForeground(t *testing.T) {
	te := newTestEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var stderr strings.Builder
	go func() {
		done <- Run(ctx, Env{Args: []string{"daemon", "run"}, Stderr: &stderr, Environ: te.environ})
	}()
	waitFor(t, func() bool { _, err := os.Stat(te.socket()); return err == nil })
	te.ok(t, "image", "list") // served by the foreground daemon, none started
	if got := te.fails(t, "daemon", "run"); !strings.HasPrefix(got, "banger: another banger daemon (pid ") {
		t.Fatalf("second daemon: %q", got)
	}
	cancel() // what SIGTERM does through main's NotifyContext
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("daemon run exited %d", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("daemon run did not stop")
	}
	if _, err := os.Stat(te.socket()); !os.IsNotExist(err) {
		t.Fatalf("socket left after stop: %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}

func TestSIGTERMStopsDaemon(t *testing.T) {
	te := newTestEnv(t)
	te.ok(t, "image", "list")
	var pid int
	for _, line := range strings.Split(te.ok(t, "daemon", "status"), "\n") {
		fmt.Sscanf(line, "pid: %d", &pid)
	}
	if pid == 0 {
		t.Fatal("no pid in status")
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := waitGone(pid); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(te.socket()); !os.IsNotExist(err) {
		t.Fatalf("socket left after SIGTERM: %v", err)
	}
	logged, _ := os.ReadFile(te.stateDir() + "/daemon.log")
	if !strings.Contains(string(logged), "stopping: signal received") || !strings.Contains(string(logged), "daemon stopped") {
		t.Fatalf("log:\n%s", logged)
	}
}

// The binary itself (not the in-process CLI): exit status and the one-line
// error on stderr.
func TestBinaryReportsErrors(t *testing.T) {
	te := newTestEnv(t)
	cmd := exec.Command(bangerBinary(), "image", "inspect", "nope")
	cmd.Env = te.environ
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v", err)
	}
	if stderr.String() != "banger: image \"nope\" not found\n" || stdout.String() != "" {
		t.Fatalf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}
}
