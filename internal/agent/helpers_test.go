package agent

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// transports are the byte streams the tests run over.
var transports = []struct {
	name string
	pair func(t testing.TB) (host, guest io.ReadWriteCloser)
}{
	{"pipe", func(t testing.TB) (io.ReadWriteCloser, io.ReadWriteCloser) {
		h, g := net.Pipe()
		return h, g
	}},
	{"socketpair", socketPair},
}

// socketPair returns the host end as a net.Conn and the guest end as an
// *os.File, the way banger-init holds its virtio-serial port.
func socketPair(t testing.TB) (io.ReadWriteCloser, io.ReadWriteCloser) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	hf := os.NewFile(uintptr(fds[0]), "host")
	host, err := net.FileConn(hf)
	hf.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.SetNonblock(fds[1], true); err != nil {
		t.Fatal(err)
	}
	return host, os.NewFile(uintptr(fds[1]), "guest")
}

// rig is a server and a client connected by a transport.
type rig struct {
	srv    *Server
	client *Client
	guest  io.ReadWriteCloser
	cancel context.CancelFunc
	served chan error
}

func newRig(t testing.TB, pair func(testing.TB) (io.ReadWriteCloser, io.ReadWriteCloser), cfg ServerConfig) *rig {
	t.Helper()
	host, guest := pair(t)
	ctx, cancel := context.WithCancel(context.Background())
	r := &rig{srv: NewServer(cfg), guest: guest, cancel: cancel, served: make(chan error, 1)}
	go func() { r.served <- r.srv.Serve(ctx, guest) }()
	r.client = NewClient(host)
	t.Cleanup(func() {
		r.client.Close()
		cancel()
		select {
		case <-r.served:
		case <-time.After(5 * time.Second):
			t.Error("server did not stop")
		}
	})
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer wcancel()
	if _, err := r.client.WaitHello(wctx); err != nil {
		t.Fatalf("waiting for hello: %v", err)
	}
	return r
}

// eachTransport runs fn once per transport.
func eachTransport(t *testing.T, fn func(t *testing.T, pair func(testing.TB) (io.ReadWriteCloser, io.ReadWriteCloser))) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) { fn(t, tr.pair) })
	}
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// syncBuffer is a bytes.Buffer safe for a writer and a polling reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// processGone reports whether pid no longer exists (or is a zombie nobody
// reaped yet, which ExecSpawner's Wait does promptly).
func processGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
