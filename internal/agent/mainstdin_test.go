package agent

import (
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// spawnMain starts cmd and attaches it as srv's main process with p's
// streams, reaping it without os/exec as an init would.
func spawnMain(t *testing.T, srv *Server, cmd *exec.Cmd, p MainProcess, childFiles ...*os.File) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for _, f := range childFiles {
		f.Close()
	}
	p.Pid = cmd.Process.Pid
	m, err := srv.AttachMain(p)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		ws, _ := waitPid(cmd.Process.Pid)
		m.Exit(StatusFromWait(ws))
	}()
}

// TestMainStdin sends stdin to the main process, starting before the guest
// has attached it, and closes it at the end of the host's reader.
func TestMainStdin(t *testing.T) {
	eachTransport(t, func(t *testing.T, pair func(testing.TB) (io.ReadWriteCloser, io.ReadWriteCloser)) {
		r := newRig(t, pair, ServerConfig{})
		ctx := testCtx(t)
		big := strings.Repeat("0123456789abcdef", 40<<10) // 640 KiB: more than one window
		var out syncBuffer
		done := make(chan struct{})
		var st ExitStatus
		var err error
		go func() {
			defer close(done)
			st, err = r.client.AttachMainStdin(ctx, strings.NewReader("hi\n"+big), &out, io.Discard)
		}()
		time.Sleep(50 * time.Millisecond) // the stdin frames arrive first
		inR, inW, perr := os.Pipe()
		if perr != nil {
			t.Fatal(perr)
		}
		cmd := exec.Command("sh", "-c", "read x; echo got $x; cat; exit 4")
		cmd.Stdin = inR
		stdout, perr := cmd.StdoutPipe()
		if perr != nil {
			t.Fatal(perr)
		}
		spawnMain(t, r.srv, cmd, MainProcess{Stdout: stdout, Stdin: inW}, inR)
		<-done
		if err != nil {
			t.Fatal(err)
		}
		if st.Code != 4 {
			t.Errorf("status %v, want exit 4", st)
		}
		if got := out.String(); got != "got hi\n"+big {
			t.Errorf("stdout has %d bytes (prefix %q), want %d", len(got), got[:min(len(got), 20)], 7+len(big))
		}
	})
}

// TestMainTTYResize gives the main process a terminal whose size follows the
// host's Resize frames and whose input is the host's stdin.
func TestMainTTYResize(t *testing.T) {
	r := newRig(t, transports[0].pair, ServerConfig{})
	ctx := testCtx(t)
	master, slave, err := OpenPTY(24, 80)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	cmd := exec.Command("sh", "-c", "tty; stty size; read x; echo got $x; stty size; exit 6")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	spawnMain(t, r.srv, cmd, MainProcess{Stdout: master, Stdin: master, TTY: true,
		Resize: func(rows, cols uint16) error { return SetWinsize(master, rows, cols) }}, slave)
	stdinR, stdinW := io.Pipe()
	defer stdinW.Close()
	var out syncBuffer
	done := make(chan struct{})
	var st ExitStatus
	var aerr error
	go func() {
		defer close(done)
		st, aerr = r.client.AttachMainStdin(ctx, stdinR, &out, &out)
	}()
	waitFor(t, "the first size", func() bool { return strings.Contains(out.String(), "24 80") })
	if err := r.client.Resize(ctx, MainSessionID, 40, 100); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the Resize frame goes first
	stdinW.Write([]byte("hey\r"))
	<-done
	if aerr != nil {
		t.Fatal(aerr)
	}
	got := out.String()
	if st.Code != 6 || !strings.Contains(got, "/dev/pts/") || !strings.Contains(got, "got hey") || !strings.Contains(got, "40 100") {
		t.Errorf("status %v, output %q", st, got)
	}
}

// TestMainResizeBeforeAttach: a host may size the main process's terminal
// before the init has attached it (vm attach right after vm run -d); the
// size is kept and applied when it is.
func TestMainResizeBeforeAttach(t *testing.T) {
	r := newRig(t, transports[0].pair, ServerConfig{})
	ctx := testCtx(t)
	if err := r.client.Resize(ctx, MainSessionID, 41, 101); err != nil {
		t.Fatal(err)
	}
	if err := r.client.Resize(ctx, MainSessionID, 42, 102); err != nil {
		t.Fatal(err)
	}
	sizes := make(chan [2]uint16, 4)
	p := MainProcess{TTY: true, Resize: func(rows, cols uint16) error { sizes <- [2]uint16{rows, cols}; return nil }}
	kept := func() [2]uint16 {
		r.srv.mu.Lock()
		defer r.srv.mu.Unlock()
		if r.srv.earlySize == nil {
			return [2]uint16{}
		}
		return *r.srv.earlySize
	}
	for deadline := time.Now().Add(5 * time.Second); kept() != [2]uint16{42, 102} && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond) // until both frames are in
	}
	cmd := exec.Command("sh", "-c", "exit 0")
	spawnMain(t, r.srv, cmd, p)
	select {
	case got := <-sizes:
		if got != [2]uint16{42, 102} {
			t.Errorf("applied %v, want the last size sent, 42x102", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the size sent before attach was never applied")
	}
}
