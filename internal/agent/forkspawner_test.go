package agent

import (
	"bytes"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"
)

// reap runs a PID-1-style wait4(-1) loop for the test's lifetime.
func reap(t *testing.T, s *ForkSpawner) {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if err == nil && pid > 0 {
				s.Reaped(pid, ws)
				continue
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
}

func TestForkSpawner(t *testing.T) {
	sp := &ForkSpawner{}
	reap(t, sp)
	r := newRig(t, transports[1].pair, ServerConfig{Spawner: sp})
	ctx := testCtx(t)

	var out, errb bytes.Buffer
	st, err := r.client.Exec(ctx, ExecRequest{Argv: []string{"sh", "-c", "cat; echo e >&2; exit 5"}}, strings.NewReader("in\n"), &out, &errb)
	if err != nil || st.Code != 5 || out.String() != "in\n" || errb.String() != "e\n" {
		t.Errorf("exec: %v, %v, %q, %q", st, err, out.String(), errb.String())
	}

	out.Reset()
	st, err = r.client.Exec(ctx, ExecRequest{Argv: []string{"sh", "-c", "tty; stty size"}, TTY: true, Rows: 33, Cols: 99}, nil, &out, nil)
	if err != nil || st.Code != 0 || !strings.HasPrefix(out.String(), "/dev/pts/") || !strings.Contains(out.String(), "33 99") {
		t.Errorf("tty exec: %v, %v, %q", st, err, out.String())
	}

	s, err := r.client.Start(ctx, ExecRequest{Argv: []string{"sleep", "100"}}, nil, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s.Signal(ctx, syscall.SIGKILL, true)
	if st, err := s.Wait(ctx); err != nil || st.Signal != syscall.SIGKILL {
		t.Errorf("killed exec: %v, %v", st, err)
	}
}
