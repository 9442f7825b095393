package agent

import (
	"sync"
	"syscall"
)

// execSession is one process run for the host.
type execSession struct {
	sc        *serverConn
	id        uint32
	stdin     *inbound
	out, errc *credit
	ready     chan struct{} // closed once the spawn was tried

	mu     sync.Mutex
	pid    int
	tty    *stdio
	exited bool
	gone   bool // the host went away
}

func newExecSession(sc *serverConn, id uint32) *execSession {
	return &execSession{sc: sc, id: id, stdin: newInbound(), out: newCredit(), errc: newCredit(),
		ready: make(chan struct{})}
}

// run starts the process, streams its stdio and reports its exit.
func (e *execSession) run(req ExecRequest) {
	defer e.sc.forget(e.id)
	exitCh := make(chan ExitStatus, 1)
	io, err := e.start(req, func(st ExitStatus) { exitCh <- st })
	close(e.ready)
	if err != nil {
		e.sc.send(FrameStartError, e.id, encodeString(err.Error())) //nolint:errcheck // host gone: nobody to tell
		return
	}
	st := e.stream(io, exitCh)
	e.sc.send(FrameExit, e.id, st.encode()) //nolint:errcheck // host gone: nobody to tell
}

func (e *execSession) start(req ExecRequest, exited func(ExitStatus)) (*stdio, error) {
	p, err := e.sc.srv.process(req)
	if err != nil {
		return nil, err
	}
	io, err := openStdio(req.TTY, req.Rows, req.Cols)
	if err != nil {
		return nil, err
	}
	p.Stdin, p.Stdout, p.Stderr, p.TTY = io.child[0], io.child[1], io.child[2], req.TTY
	pid, err := e.sc.srv.cfg.Spawner.Spawn(p, exited)
	io.closeChild()
	if err != nil {
		io.closeParent()
		return nil, err
	}
	e.mu.Lock()
	e.pid = pid
	if req.TTY {
		e.tty = io
	}
	gone := e.gone
	e.mu.Unlock()
	if gone {
		syscall.Kill(-pid, syscall.SIGKILL) //nolint:errcheck // it may be gone already
	}
	e.sc.send(FrameStarted, e.id, encodeU32(uint32(pid))) //nolint:errcheck // handled by hostGone
	return io, nil
}

// stream pumps stdio until the process has exited and its output is drained.
func (e *execSession) stream(io *stdio, exitCh <-chan ExitStatus) ExitStatus {
	grace := e.sc.srv.cfg.ExitGrace
	readers := []*graceReader{{r: io.stdout, grace: grace}}
	if io.stderr != nil {
		readers = append(readers, &graceReader{r: io.stderr, grace: grace})
	}
	var wg sync.WaitGroup
	for i, r := range readers {
		t, c := FrameStdout, e.out
		if i == 1 {
			t, c = FrameStderr, e.errc
		}
		wg.Go(func() {
			pumpOut(r, c, func(b []byte) error { return e.sc.send(t, e.id, b) }) //nolint:errcheck // ends the stream either way
		})
	}
	go func() {
		e.stdin.run(io.stdin, func(n int) {
			e.sc.send(FrameWindow, e.id, encodeWindow(streamStdin, uint32(n))) //nolint:errcheck
		})
		if io.tty == nil {
			io.stdin.Close()
		}
	}()
	st := <-exitCh
	e.mu.Lock()
	e.exited = true
	e.mu.Unlock()
	for _, r := range readers {
		r.exit()
	}
	wg.Wait()
	e.stdin.abort()
	io.closeParent()
	return st
}

// signal sends sig to the process, or to its whole group.
func (e *execSession) signal(sig syscall.Signal, group bool) {
	<-e.ready
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.pid == 0 || e.exited {
		return
	}
	target := e.pid
	if group {
		target = -target
	}
	syscall.Kill(target, sig) //nolint:errcheck // the process may just have exited
}

// resize changes the terminal size; without a terminal it does nothing.
func (e *execSession) resize(rows, cols uint16) {
	<-e.ready
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.tty != nil && !e.exited {
		setWinsize(e.tty.tty, rows, cols) //nolint:errcheck // the terminal may be closing
	}
}

// hostGone kills the process: nobody is left to read its output.
func (e *execSession) hostGone() {
	e.mu.Lock()
	e.gone = true
	pid, exited := e.pid, e.exited
	e.mu.Unlock()
	if pid != 0 && !exited {
		syscall.Kill(-pid, syscall.SIGKILL) //nolint:errcheck // it may be gone already
	}
	e.out.close()
	e.errc.close()
	e.stdin.abort()
}
