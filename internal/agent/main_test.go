package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startMain runs script as the server's main process, the way banger-init
// would: pipes for its output, its exit reported through the MainSession.
func startMain(t *testing.T, srv *Server, script string) *MainSession {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	m, err := srv.AttachMain(MainProcess{Pid: cmd.Process.Pid, Stdout: stdout, Stderr: stderr})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		// os/exec's Wait closes the pipes, so wait for EOF on them first,
		// as a reaper-based init would by keeping them open.
		ws, _ := waitPid(cmd.Process.Pid)
		m.Exit(StatusFromWait(ws))
	}()
	return m
}

// waitPid reaps pid without os/exec, leaving the pipes to the MainSession.
func waitPid(pid int) (syscall.WaitStatus, error) {
	var ws syscall.WaitStatus
	_, err := syscall.Wait4(pid, &ws, 0, nil)
	return ws, err
}

func TestMainOutputBeforeAttach(t *testing.T) {
	eachTransport(t, func(t *testing.T, pair func(testing.TB) (io.ReadWriteCloser, io.ReadWriteCloser)) {
		r := newRig(t, pair, ServerConfig{})
		m := startMain(t, r.srv, "echo hello; echo oops >&2; head -c 300000 /dev/zero | tr '\\0' x; exit 3")
		ctx := testCtx(t)
		select {
		case <-r.client.MainExited():
		case <-ctx.Done():
			t.Fatal("main exit never reported")
		}
		select { // the host acknowledged the exit
		case <-m.Delivered():
		case <-ctx.Done():
			t.Fatal("exit never acknowledged")
		}
		var out, errb bytes.Buffer
		st, err := r.client.AttachMain(ctx, &out, &errb)
		if err != nil {
			t.Fatal(err)
		}
		if st.Code != 3 {
			t.Errorf("main status %v, want exit status 3", st)
		}
		if want := "hello\n" + strings.Repeat("x", 300000); out.String() != want {
			t.Errorf("main stdout has %d bytes, want %d", out.Len(), len(want))
		}
		if errb.String() != "oops\n" {
			t.Errorf("main stderr %q", errb.String())
		}
		if got, ok := r.client.MainStatus(); !ok || got.Code != 3 {
			t.Errorf("MainStatus = %v, %v", got, ok)
		}
	})
}

func TestMainAttachLive(t *testing.T) {
	r := newRig(t, transports[1].pair, ServerConfig{})
	ctx := testCtx(t)
	done := make(chan struct{})
	var out syncBuffer
	var st ExitStatus
	var err error
	go func() {
		defer close(done)
		st, err = r.client.AttachMain(ctx, &out, io.Discard)
	}()
	time.Sleep(20 * time.Millisecond)
	// 4 MiB: far more than the history, all of it must arrive when attached.
	startMain(t, r.srv, "head -c 4194304 /dev/zero; kill -TERM $$")
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if st.Signal != syscall.SIGTERM {
		t.Errorf("status %v, want killed by SIGTERM", st)
	}
	if n := len(out.String()); n != 4<<20 {
		t.Errorf("attached reader got %d bytes, want %d", n, 4<<20)
	}
}

func TestMainHistoryIsBounded(t *testing.T) {
	r := newRig(t, transports[0].pair, ServerConfig{})
	startMain(t, r.srv, "head -c 3000000 /dev/zero; printf END")
	ctx := testCtx(t)
	<-r.client.MainExited()
	var out bytes.Buffer
	if _, err := r.client.AttachMain(ctx, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if out.Len() != MainHistory || !strings.HasSuffix(out.String(), "END") {
		t.Errorf("replayed %d bytes (suffix %q), want the last %d", out.Len(), out.String()[max(0, out.Len()-3):], MainHistory)
	}
}

func TestMainExitReachesNextHost(t *testing.T) {
	srv := NewServer(ServerConfig{})
	startMain(t, srv, "echo before; exit 9")
	for i := range 2 { // the exit reaches each host that connects
		host, guest := transports[1].pair(t)
		ctx, cancel := context.WithCancel(testCtx(t))
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ctx, guest) }()
		c := NewClient(host)
		var out bytes.Buffer
		st, err := c.AttachMain(ctx, &out, io.Discard)
		if err != nil || st.Code != 9 {
			t.Fatalf("host %d: %v, %v", i, st, err)
		}
		if i == 0 && out.String() != "before\n" {
			t.Errorf("host %d: output %q", i, out.String())
		}
		c.Close()
		if err := <-served; !errors.Is(err, ErrDisconnected) {
			t.Errorf("host %d: Serve returned %v, want ErrDisconnected", i, err)
		}
		cancel()
	}
}

func TestMainSignalFromHost(t *testing.T) {
	r := newRig(t, transports[0].pair, ServerConfig{})
	startMain(t, r.srv, "exec sleep 100")
	ctx := testCtx(t)
	time.Sleep(20 * time.Millisecond)
	if err := r.client.Signal(ctx, MainSessionID, syscall.SIGINT, false); err != nil {
		t.Fatal(err)
	}
	st, err := r.client.AttachMain(ctx, io.Discard, io.Discard)
	if err != nil || st.Signal != syscall.SIGINT {
		t.Fatalf("main: %v, %v, want killed by SIGINT", st, err)
	}
}

func TestStartMain(t *testing.T) {
	sp := &ForkSpawner{}
	reap(t, sp)
	r := newRig(t, transports[1].pair, ServerConfig{Spawner: sp, Env: []string{"GREETING=hi"}})
	m, err := r.srv.StartMain(ExecRequest{Argv: []string{"sh", "-c", "cat; echo $GREETING; echo warn >&2; exit 4"}})
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	st, err := r.client.AttachMain(testCtx(t), &out, &errb)
	if err != nil || st.Code != 4 || out.String() != "hi\n" || errb.String() != "warn\n" {
		t.Errorf("main: %v, %v, %q, %q", st, err, out.String(), errb.String())
	}
	select {
	case <-m.Delivered():
	case <-time.After(5 * time.Second):
		t.Error("exit not acknowledged")
	}
	if _, err := r.srv.StartMain(ExecRequest{Argv: []string{"true"}}); err == nil {
		t.Error("a second main process was started")
	}
}

func TestServeLoopReconnects(t *testing.T) {
	srv := NewServer(ServerConfig{})
	startMain(t, srv, "echo once; exit 6")
	conns := make(chan io.ReadWriteCloser)
	ctx, cancel := context.WithCancel(testCtx(t))
	looped := make(chan error, 1)
	go func() {
		looped <- srv.ServeLoop(ctx, func(ctx context.Context) (io.ReadWriteCloser, error) {
			select {
			case c := <-conns:
				return c, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		})
	}()
	for i := range 3 { // each host gets the main exit status, and can exec
		host, guest := transports[1].pair(t)
		conns <- guest
		c := NewClient(host)
		st, err := c.AttachMain(ctx, io.Discard, io.Discard)
		if err != nil || st.Code != 6 {
			t.Fatalf("host %d: main %v, %v", i, st, err)
		}
		var out bytes.Buffer
		if _, err := c.Exec(ctx, ExecRequest{Argv: []string{"echo", fmt.Sprint(i)}}, nil, &out, nil); err != nil || out.String() != fmt.Sprintln(i) {
			t.Errorf("host %d: exec %q, %v", i, out.String(), err)
		}
		c.Close()
	}
	cancel()
	if err := <-looped; !errors.Is(err, context.Canceled) {
		t.Errorf("ServeLoop returned %v", err)
	}
}
