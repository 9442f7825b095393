package agent

import (
	"errors"
	"io"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// stdio holds both ends of a process's standard streams: pipes, or a
// terminal whose master carries stdin and stdout.
type stdio struct {
	child          [3]*os.File // given to the process
	stdin          *os.File    // the server writes here
	stdout, stderr *os.File    // the server reads here; stderr is nil with a tty
	tty            *os.File    // the terminal master, or nil
}

func openStdio(tty bool, rows, cols uint16) (*stdio, error) {
	if tty {
		m, s, err := openPTY(rows, cols)
		if err != nil {
			return nil, err
		}
		return &stdio{child: [3]*os.File{s, s, s}, stdin: m, stdout: m, tty: m}, nil
	}
	io := &stdio{}
	for i := range 3 {
		r, w, err := os.Pipe()
		if err != nil {
			io.closeChild()
			io.closeParent()
			return nil, err
		}
		if i == 0 {
			io.child[0], io.stdin = r, w
		} else {
			io.child[i] = w
			if i == 1 {
				io.stdout = r
			} else {
				io.stderr = r
			}
		}
	}
	return io, nil
}

// closeChild closes the process's ends, once it has them.
func (s *stdio) closeChild() {
	for i, f := range s.child {
		if f != nil && (i == 0 || f != s.child[i-1]) {
			f.Close()
		}
	}
}

// closeParent closes the server's ends.
func (s *stdio) closeParent() {
	for _, f := range []*os.File{s.stdin, s.stdout, s.stderr} {
		if f != nil {
			f.Close() // the tty master twice: the second Close only errs
		}
	}
}

// deadliner is a reader whose reads can time out, like a pipe or a pty.
type deadliner interface {
	io.Reader
	SetReadDeadline(t time.Time) error
}

// graceReader reads a process's output. Once the process has exited, a read
// that waits longer than the grace ends the stream: whatever still holds the
// write end (a daemon the process left behind) is not waited for. A tty's EIO
// (all slave ends closed) ends the stream too.
type graceReader struct {
	r      io.Reader
	grace  time.Duration
	exited atomic.Bool
}

func (g *graceReader) Read(p []byte) (int, error) {
	d, ok := g.r.(deadliner)
	if ok && g.exited.Load() {
		d.SetReadDeadline(time.Now().Add(g.grace)) //nolint:errcheck // unsupported: wait for EOF
	}
	n, err := g.r.Read(p)
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, syscall.EIO) {
		err = io.EOF
	}
	return n, err
}

// exit starts the grace period.
func (g *graceReader) exit() {
	g.exited.Store(true)
	if d, ok := g.r.(deadliner); ok {
		d.SetReadDeadline(time.Now().Add(g.grace)) //nolint:errcheck // unsupported: wait for EOF
	}
}
