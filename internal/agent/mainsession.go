package agent

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
	"time"
)

// mainBuffer bounds the main-process output the guest keeps while no host is
// connected (the oldest is dropped) or while the host is slow (the process
// then blocks on its pipe).
const mainBuffer = 256 << 10

// MainProcess describes the image's main process, started by the init itself.
type MainProcess struct {
	// Pid, if not 0, receives the host's signals for the main session.
	Pid int
	// Stdout and Stderr are the read ends of its output; either may be nil.
	// They should reach EOF when the process exits (close the parent's
	// copies of the write ends); readers with SetReadDeadline, like pipes,
	// also end a grace period after Exit. Each is closed, if it is an
	// io.Closer, once read to its end.
	Stdout, Stderr io.Reader
	// Stdin, if set, receives the host's Stdin frames; StdinClose closes it,
	// unless TTY is set. Nil drops them.
	Stdin io.WriteCloser
	// TTY reports that Stdin and Stdout are a terminal's master.
	TTY bool
	// Resize, if set, applies the host's Resize frames.
	Resize func(rows, cols uint16) error
}

// MainSession reports the main process to hosts under session id 0.
type MainSession struct {
	srv    *Server
	pid    int
	stdin  io.WriteCloser
	tty    bool
	resize func(rows, cols uint16) error

	mu      sync.Mutex
	cond    sync.Cond
	ring    ring
	conn    *serverConn // the connected host, if any
	readers []*graceReader
	running int         // readers not yet at EOF
	status  *ExitStatus // set by Exit
	sentTo  *serverConn // the connection that got the Exit frame
	acked   chan struct{}
	ackOnce sync.Once
}

// AttachMain starts reporting the main process: its output streams to the
// host (kept, bounded, while none is connected) and, after Exit, its exit
// status, sent again to every host that connects later. There is one main
// process per server.
func (s *Server) AttachMain(p MainProcess) (*MainSession, error) {
	m := &MainSession{srv: s, pid: p.Pid, stdin: p.Stdin, tty: p.TTY, resize: p.Resize, acked: make(chan struct{})}
	m.cond.L = &m.mu
	streams := []uint8{}
	for i, r := range []io.Reader{p.Stdout, p.Stderr} {
		if r != nil {
			m.readers = append(m.readers, &graceReader{r: r, grace: s.cfg.ExitGrace})
			streams = append(streams, uint8(i+1))
		}
	}
	m.running = len(m.readers)
	s.mu.Lock()
	if s.main != nil {
		s.mu.Unlock()
		return nil, errors.New("attaching main process: already attached")
	}
	// A size the host sent before now applies first; one arriving while it
	// is applied is taken in turn, and from s.main on they apply directly.
	for s.earlySize != nil && m.resize != nil {
		early := *s.earlySize
		s.earlySize = nil
		s.mu.Unlock()
		m.resize(early[0], early[1]) //nolint:errcheck // as for a Resize frame
		s.mu.Lock()
	}
	s.main = m
	conn := s.conn
	close(s.mainReadyLocked())
	s.mu.Unlock()
	for i, g := range m.readers {
		go m.read(g, streams[i])
	}
	if conn != nil {
		m.connected(conn)
	}
	return m, nil
}

// mainSessionOrSize returns the main session, or, before there is one,
// keeps rows x cols to apply when it is attached: a host may resize the
// terminal of a process the init has not started yet.
func (s *Server) mainSessionOrSize(rows, cols uint16) *MainSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.main == nil {
		s.earlySize = &[2]uint16{rows, cols}
	}
	return s.main
}

func (s *Server) mainSession() *MainSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.main
}

// Exit records how the main process ended. The Exit frame follows the rest of
// its output, and waits for that at most the server's ExitGrace after the
// readers stop producing, or twice that in all for readers without deadlines.
func (m *MainSession) Exit(st ExitStatus) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.status != nil {
		return
	}
	m.status = &st
	for _, g := range m.readers {
		g.exit()
	}
	time.AfterFunc(2*m.srv.cfg.ExitGrace, func() {
		m.mu.Lock()
		m.running = 0
		m.cond.Broadcast()
		m.mu.Unlock()
	})
	m.cond.Broadcast()
}

// Delivered is closed once a host acknowledged the exit status. The init waits
// for it (with a timeout) before powering off.
func (m *MainSession) Delivered() <-chan struct{} { return m.acked }

func (m *MainSession) ack() { m.ackOnce.Do(func() { close(m.acked) }) }

// read moves output from r into the ring, then closes r if it can.
func (m *MainSession) read(r *graceReader, stream uint8) {
	buf := make([]byte, sendChunk)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			m.put(chunk{stream: stream, b: append([]byte(nil), buf[:n]...)})
		}
		if err != nil {
			break
		}
	}
	if c, ok := r.r.(io.Closer); ok {
		c.Close()
	}
	m.mu.Lock()
	m.running = max(m.running-1, 0)
	m.cond.Broadcast()
	m.mu.Unlock()
}

// put keeps c for the host, waiting for room while one is connected.
func (m *MainSession) put(c chunk) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for m.conn != nil && m.ring.size >= mainBuffer {
		m.cond.Wait()
	}
	m.ring.put(c)
	if m.conn == nil {
		m.ring.trim(mainBuffer)
	}
	m.cond.Broadcast()
}

func (m *MainSession) connected(sc *serverConn) {
	m.mu.Lock()
	if sc.closed.Load() { // gone already: disconnected has run or will find nothing
		m.mu.Unlock()
		return
	}
	m.conn = sc
	m.cond.Broadcast()
	m.mu.Unlock()
	go m.send(sc)
}

func (m *MainSession) disconnected(sc *serverConn) {
	m.mu.Lock()
	if m.conn == sc {
		m.conn = nil
		m.ring.trim(mainBuffer)
		m.cond.Broadcast()
	}
	m.mu.Unlock()
}

// send delivers output, then the exit status, to the host on sc.
func (m *MainSession) send(sc *serverConn) {
	for {
		m.mu.Lock()
		for m.conn == sc && m.ring.size == 0 && !(m.status != nil && m.running == 0 && m.sentTo != sc) {
			m.cond.Wait()
		}
		if m.conn != sc {
			m.mu.Unlock()
			return
		}
		c, ok := m.ring.pop()
		if !ok {
			m.sentTo = sc
			st := *m.status
			m.mu.Unlock()
			sc.send(FrameExit, MainSessionID, st.encode()) //nolint:errcheck // re-sent on the next connection
			continue
		}
		m.cond.Broadcast()
		m.mu.Unlock()
		if rest := m.deliver(sc, c); len(rest.b) > 0 {
			m.mu.Lock()
			m.ring.unpop(rest)
			m.mu.Unlock()
			return
		}
	}
}

// deliver sends c as the window allows and returns what it could not send.
func (m *MainSession) deliver(sc *serverConn, c chunk) chunk {
	t, cr := FrameStdout, sc.mainOut
	if c.stream == streamStderr {
		t, cr = FrameStderr, sc.mainErr
	}
	for len(c.b) > 0 {
		n := cr.take(len(c.b))
		if n == 0 || sc.send(t, MainSessionID, c.b[:n]) != nil {
			return c
		}
		c.b = c.b[n:]
	}
	return c
}

// signal forwards a host's signal to the main process.
func (m *MainSession) signal(sig syscall.Signal, group bool) {
	if m.pid <= 0 {
		return
	}
	if group && syscall.Kill(-m.pid, sig) == nil {
		return
	}
	syscall.Kill(m.pid, sig) //nolint:errcheck // it may have exited
}

// StartMain starts req as the main process the way an exec request starts:
// user, PATH lookup and environment resolved in the guest, through the
// server's Spawner, with stdin at EOF and output reported as AttachMain
// does. The init uses it when the main process needs no terminal.
func (s *Server) StartMain(req ExecRequest) (*MainSession, error) {
	if s.mainSession() != nil {
		return nil, errors.New("starting main process: already attached")
	}
	p, err := s.process(req)
	if err != nil {
		return nil, fmt.Errorf("starting main process: %w", err)
	}
	io, err := openStdio(false, 0, 0)
	if err != nil {
		return nil, fmt.Errorf("starting main process: %w", err)
	}
	p.Stdin, p.Stdout, p.Stderr = io.child[0], io.child[1], io.child[2]
	exited := make(chan ExitStatus, 1)
	pid, err := s.cfg.Spawner.Spawn(p, func(st ExitStatus) { exited <- st })
	io.closeChild()
	io.stdin.Close()
	if err != nil {
		io.closeParent()
		return nil, fmt.Errorf("starting main process %s: %w", p.Path, err)
	}
	m, err := s.AttachMain(MainProcess{Pid: pid, Stdout: io.stdout, Stderr: io.stderr})
	if err != nil {
		syscall.Kill(pid, syscall.SIGKILL) //nolint:errcheck // lost a race with AttachMain
		io.closeParent()
		return nil, err
	}
	go func() { m.Exit(<-exited) }()
	return m, nil
}
