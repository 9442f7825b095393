package agent

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestExecStdoutStderrExitCode(t *testing.T) {
	eachTransport(t, func(t *testing.T, pair func(testing.TB) (io.ReadWriteCloser, io.ReadWriteCloser)) {
		r := newRig(t, pair, ServerConfig{})
		var out, errb bytes.Buffer
		st, err := r.client.Exec(testCtx(t), ExecRequest{Argv: []string{"sh", "-c", "echo out; echo err >&2; exit 7"}}, nil, &out, &errb)
		if err != nil {
			t.Fatal(err)
		}
		if st.Code != 7 || st.Signaled() {
			t.Errorf("status = %v, want exit status 7", st)
		}
		if out.String() != "out\n" || errb.String() != "err\n" {
			t.Errorf("stdout %q stderr %q, want %q and %q", out.String(), errb.String(), "out\n", "err\n")
		}
	})
}

func TestExecStdinThroughCat(t *testing.T) {
	eachTransport(t, func(t *testing.T, pair func(testing.TB) (io.ReadWriteCloser, io.ReadWriteCloser)) {
		r := newRig(t, pair, ServerConfig{})
		in := make([]byte, 3<<20+17) // several windows, an odd tail
		rand.Read(in)
		var out bytes.Buffer
		st, err := r.client.Exec(testCtx(t), ExecRequest{Argv: []string{"cat"}}, bytes.NewReader(in), &out, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if st.Code != 0 {
			t.Errorf("status = %v", st)
		}
		if !bytes.Equal(out.Bytes(), in) {
			t.Errorf("cat returned %d bytes, want the %d sent", out.Len(), len(in))
		}
	})
}

func TestExecEnvDirAndPathLookup(t *testing.T) {
	r := newRig(t, transports[0].pair, ServerConfig{Env: []string{"FROM_SERVER=yes", "PATH=/usr/bin:/bin"}})
	dir := t.TempDir()
	var out bytes.Buffer
	_, err := r.client.Exec(testCtx(t), ExecRequest{Argv: []string{"sh", "-c", "echo $FROM_SERVER $PWD"}, Dir: dir}, nil, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "yes "+dir+"\n"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
	out.Reset()
	req := ExecRequest{Argv: []string{"sh", "-c", "echo $A"}, Env: []string{"A=mine", "PATH=/bin"}}
	if _, err := r.client.Exec(testCtx(t), req, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if out.String() != "mine\n" {
		t.Errorf("request env: output %q, want %q", out.String(), "mine\n")
	}
}

func TestExecStartError(t *testing.T) {
	r := newRig(t, transports[0].pair, ServerConfig{})
	_, err := r.client.Exec(testCtx(t), ExecRequest{Argv: []string{"no-such-command-banger"}}, nil, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "no-such-command-banger") {
		t.Fatalf("err = %v, want a start error naming the command", err)
	}
	// The connection stays usable.
	if st, err := r.client.Exec(testCtx(t), ExecRequest{Argv: []string{"true"}}, nil, nil, nil); err != nil || st.Code != 0 {
		t.Fatalf("exec after a start error: %v, %v", st, err)
	}
}

func TestExecSignal(t *testing.T) {
	eachTransport(t, func(t *testing.T, pair func(testing.TB) (io.ReadWriteCloser, io.ReadWriteCloser)) {
		r := newRig(t, pair, ServerConfig{})
		ctx := testCtx(t)
		s, err := r.client.Start(ctx, ExecRequest{Argv: []string{"sleep", "100"}}, nil, io.Discard, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if s.Pid() <= 0 {
			t.Errorf("pid = %d", s.Pid())
		}
		if err := s.Signal(ctx, syscall.SIGTERM, false); err != nil {
			t.Fatal(err)
		}
		st, err := s.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Signal != syscall.SIGTERM || st.Code != 128+15 {
			t.Errorf("status = %+v, want killed by SIGTERM (code 143)", st)
		}
	})
}

func TestExecContextCancelKills(t *testing.T) {
	r := newRig(t, transports[1].pair, ServerConfig{})
	ctx, cancel := context.WithCancel(testCtx(t))
	s, err := r.client.Start(ctx, ExecRequest{Argv: []string{"sh", "-c", "sleep 100; echo never"}}, nil, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	pid := s.Pid()
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	if _, err := s.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Wait took %v after cancel", d)
	}
	waitFor(t, "the process group to be killed", func() bool { return processGone(pid) })
}

func TestExecTTY(t *testing.T) {
	eachTransport(t, func(t *testing.T, pair func(testing.TB) (io.ReadWriteCloser, io.ReadWriteCloser)) {
		r := newRig(t, pair, ServerConfig{})
		ctx := testCtx(t)
		var out bytes.Buffer
		st, err := r.client.Exec(ctx, ExecRequest{Argv: []string{"tty"}, TTY: true, Rows: 24, Cols: 80}, nil, &out, nil)
		if err != nil || st.Code != 0 {
			t.Fatalf("tty: %v, %v (output %q)", st, err, out.String())
		}
		if !regexp.MustCompile(`^/dev/pts/\d+\r\n$`).MatchString(out.String()) {
			t.Errorf("tty printed %q, want /dev/pts/N", out.String())
		}

		stdinR, stdinW := io.Pipe()
		var tout syncBuffer
		req := ExecRequest{Argv: []string{"sh", "-c", "stty size; read x; stty size"}, TTY: true, Rows: 24, Cols: 80}
		s, err := r.client.Start(ctx, req, stdinR, &tout, nil)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the first stty size", func() bool { return strings.Contains(tout.String(), "24 80") })
		if err := s.Resize(ctx, 50, 132); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(stdinW, "go")
		if st, err := s.Wait(ctx); err != nil || st.Code != 0 {
			t.Fatalf("stty: %v, %v", st, err)
		}
		stdinW.Close()
		if !strings.Contains(tout.String(), "50 132") {
			t.Errorf("after Resize the output is %q, want it to hold 50 132", tout.String())
		}
	})
}

func TestConcurrentExecs(t *testing.T) {
	eachTransport(t, func(t *testing.T, pair func(testing.TB) (io.ReadWriteCloser, io.ReadWriteCloser)) {
		r := newRig(t, pair, ServerConfig{})
		ctx := testCtx(t)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := range 8 {
			wg.Go(func() {
				var out, errb bytes.Buffer
				script := `i=$1; n=0; while [ $n -lt 200 ]; do echo "$i-$n"; n=$((n+1)); done; echo e$i >&2; exit $i`
				st, err := r.client.Exec(ctx, ExecRequest{Argv: []string{"sh", "-c", script, "sh", fmt.Sprint(i)}}, nil, &out, &errb)
				var want strings.Builder
				for n := range 200 {
					fmt.Fprintf(&want, "%d-%d\n", i, n)
				}
				switch {
				case err != nil:
					errs <- err
				case st.Code != i:
					errs <- fmt.Errorf("exec %d: status %v", i, st)
				case out.String() != want.String() || errb.String() != fmt.Sprintf("e%d\n", i):
					errs <- fmt.Errorf("exec %d: output mixed up: %q / %q", i, out.String()[:min(40, out.Len())], errb.String())
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

// peakLiveHeap samples the live heap until stop is closed and returns the
// peak.
func peakLiveHeap(stop <-chan struct{}) <-chan uint64 {
	res := make(chan uint64, 1)
	go func() {
		var peak uint64
		for {
			peak = max(peak, heapNow())
			select {
			case <-stop:
				res <- peak
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return res
}

func TestLargeOutputIntactAndBounded(t *testing.T) {
	eachTransport(t, func(t *testing.T, pair func(testing.TB) (io.ReadWriteCloser, io.ReadWriteCloser)) {
		const size = 32 << 20
		src := filepath.Join(t.TempDir(), "data")
		f, err := os.Create(src)
		if err != nil {
			t.Fatal(err)
		}
		want := sha256.New()
		if _, err := io.CopyN(io.MultiWriter(f, want), rand.Reader, size); err != nil {
			t.Fatal(err)
		}
		f.Close()
		r := newRig(t, pair, ServerConfig{})
		base := heapNow()
		stop := make(chan struct{})
		peak := peakLiveHeap(stop)
		got := sha256.New()
		n := &countWriter{w: got}
		start := time.Now()
		st, err := r.client.Exec(testCtx(t), ExecRequest{Argv: []string{"head", "-c", fmt.Sprint(size), src}}, nil, n, io.Discard)
		close(stop)
		if err != nil || st.Code != 0 {
			t.Fatalf("head: %v, %v", st, err)
		}
		if n.n != size || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
			t.Fatalf("received %d bytes with a different digest, want %d intact", n.n, size)
		}
		grew := int64(<-peak) - int64(base)
		t.Logf("32 MiB in %v; live heap grew by at most %d KiB", time.Since(start), grew>>10)
		if grew > 4<<20 {
			t.Errorf("live heap grew by %d KiB while streaming 32 MiB", grew>>10)
		}
	})
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.w.Write(p)
}

func TestSlowReaderBackpressure(t *testing.T) {
	r := newRig(t, transports[1].pair, ServerConfig{})
	ctx := testCtx(t)
	blocked := make(chan struct{})
	w := &blockingWriter{release: blocked}
	s, err := r.client.Start(ctx, ExecRequest{Argv: []string{"head", "-c", "64000000", "/dev/zero"}}, nil, w, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	// With the writer stuck, the guest may only have sent one window.
	if n := s.stdout.queued(); n > InitialWindow {
		t.Errorf("%d bytes queued on the host, window is %d", n, InitialWindow)
	}
	close(blocked)
	st, err := s.Wait(ctx)
	if err != nil || st.Code != 0 {
		t.Fatalf("head: %v, %v", st, err)
	}
	if w.n != 64000000 {
		t.Errorf("got %d bytes, want 64000000", w.n)
	}
}

type blockingWriter struct {
	release chan struct{}
	n       int
}

func (b *blockingWriter) Write(p []byte) (int, error) {
	<-b.release
	b.n += len(p)
	return len(p), nil
}

func TestUserExec(t *testing.T) {
	if _, _, _, _, err := ResolveUser("/", "nobody"); err != nil {
		t.Skipf("no user nobody on this machine: %v", err)
	}
	r := newRig(t, transports[0].pair, ServerConfig{})
	var out bytes.Buffer
	req := ExecRequest{Argv: []string{"sh", "-c", "id -u; id -g; echo $HOME"}, User: "nobody"}
	if _, err := r.client.Exec(testCtx(t), req, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	uid, gid, _, home, _ := ResolveUser("/", "nobody")
	if want := fmt.Sprintf("%d\n%d\n%s\n", uid, gid, home); out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
}

func TestGuestDisconnectMidExec(t *testing.T) {
	eachTransport(t, func(t *testing.T, pair func(testing.TB) (io.ReadWriteCloser, io.ReadWriteCloser)) {
		r := newRig(t, pair, ServerConfig{})
		ctx := testCtx(t)
		s, err := r.client.Start(ctx, ExecRequest{Argv: []string{"sleep", "100"}}, nil, io.Discard, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		pid := s.Pid()
		r.guest.Close() // the guest goes away
		_, err = s.Wait(ctx)
		if !errors.Is(err, ErrDisconnected) {
			t.Fatalf("err = %v, want ErrDisconnected", err)
		}
		if err := <-r.served; !errors.Is(err, ErrDisconnected) {
			t.Errorf("Serve returned %v, want ErrDisconnected", err)
		}
		r.served <- nil // for the cleanup
		waitFor(t, "the orphaned process to be killed", func() bool { return processGone(pid) })
		if _, err := r.client.Exec(ctx, ExecRequest{Argv: []string{"true"}}, nil, nil, nil); !errors.Is(err, ErrDisconnected) {
			t.Errorf("exec after disconnect: %v, want ErrDisconnected", err)
		}
	})
}

func TestTTYLargeOutputIntact(t *testing.T) {
	r := newRig(t, transports[1].pair, ServerConfig{})
	for range 3 {
		n := &countWriter{w: io.Discard}
		req := ExecRequest{Argv: []string{"sh", "-c", "head -c 1000000 /dev/zero | tr '\\0' x"}, TTY: true}
		st, err := r.client.Exec(testCtx(t), req, nil, n, nil)
		if err != nil || st.Code != 0 {
			t.Fatalf("%v, %v", st, err)
		}
		if n.n != 1000000 {
			t.Errorf("tty output of %d bytes, want 1000000", n.n)
		}
	}
}

func TestNoGoroutinesLeft(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		r := newRig(t, transports[1].pair, ServerConfig{})
		for range 5 {
			r.client.Exec(testCtx(t), ExecRequest{Argv: []string{"sh", "-c", "echo x; echo y >&2"}}, strings.NewReader("in"), io.Discard, io.Discard)
		}
		r.client.Close()
		<-r.served
		r.served <- nil
	}()
	waitFor(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before+1 })
}

func TestExecDoesNotWaitForLeftBehindChildren(t *testing.T) {
	r := newRig(t, transports[0].pair, ServerConfig{ExitGrace: 100 * time.Millisecond})
	var out bytes.Buffer
	start := time.Now()
	// The background sleep keeps stdout open after sh exits.
	st, err := r.client.Exec(testCtx(t), ExecRequest{Argv: []string{"sh", "-c", "sleep 3 & echo done"}}, nil, &out, io.Discard)
	if err != nil || st.Code != 0 || out.String() != "done\n" {
		t.Fatalf("%v, %v, %q", st, err, out.String())
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Exec waited %v for a child left behind", d)
	}
}
