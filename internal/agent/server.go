package agent

import (
	"context"
	"errors"
	"io"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// maxSessions bounds the exec sessions a host may run at once.
const maxSessions = 1024

// ServerConfig configures a Server. Its zero value works: processes start with
// ExecSpawner, as the server's own user, with an empty environment.
type ServerConfig struct {
	// Spawner starts processes; nil means ExecSpawner.
	Spawner Spawner
	// Hello is sent to every host that connects. Version is filled in, and
	// Uptime too when zero (from CLOCK_BOOTTIME).
	Hello Hello
	// Env is the environment of exec requests that carry none.
	Env []string
	// ExitGrace is how long output is still awaited after a process exits
	// while something it started keeps its stdout or stderr open; 0 means
	// 250ms.
	ExitGrace time.Duration
	// OnShutdown, if set, runs in its own goroutine when the host asks the
	// guest to shut down.
	OnShutdown func()
}

// Server is the guest side of the protocol: it runs the host's exec requests
// and reports the main process. One connection is served at a time; sessions
// end with the connection, the main session lives on to the next.
type Server struct {
	cfg ServerConfig

	mu      sync.Mutex
	serving bool
	conn    *serverConn // the greeted connection, if any
	greets  int         // connections greeted so far
	main    *MainSession
	// mainReady is closed once main is set (see mainReadyLocked).
	mainReady chan struct{}
	// earlySize is the last terminal size the host sent for the main
	// process before it was attached, applied when it is.
	earlySize *[2]uint16
}

// NewServer returns a Server.
func NewServer(cfg ServerConfig) *Server {
	if cfg.Spawner == nil {
		cfg.Spawner = ExecSpawner{}
	}
	if cfg.ExitGrace == 0 {
		cfg.ExitGrace = 250 * time.Millisecond
	}
	return &Server{cfg: cfg}
}

// Serve speaks the protocol on conn until the host goes away, a protocol
// error, or ctx ends, and closes conn. A host that goes away (the stream
// reaches EOF, as a virtio-serial port does while no host is connected) is an
// error wrapping ErrDisconnected: the caller reopens the port and calls Serve
// again, after a pause. Exec sessions still running are killed.
func (s *Server) Serve(ctx context.Context, conn io.ReadWriteCloser) error {
	s.mu.Lock()
	if s.serving {
		s.mu.Unlock()
		return errors.New("serving agent: already serving a connection")
	}
	s.serving = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.serving = false
		s.mu.Unlock()
	}()

	sc := &serverConn{srv: s, conn: conn, enc: NewEncoder(conn), sessions: make(map[uint32]*execSession),
		mainOut: newCredit(), mainErr: newCredit(), mainIn: newInbound(), done: make(chan struct{})}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	err := sc.run()
	sc.close()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// hello returns the Hello to send now.
func (s *Server) hello() Hello {
	h := s.cfg.Hello
	h.Version = Version
	if h.Uptime == 0 {
		var ts unix.Timespec
		if unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts) == nil {
			h.Uptime = time.Duration(ts.Nano())
		}
	}
	return h
}

// greeted records sc as the connection a host has greeted.
func (s *Server) greeted(sc *serverConn) {
	s.mu.Lock()
	s.conn = sc
	s.greets++
	m := s.main
	s.mu.Unlock()
	if m != nil {
		m.connected(sc)
	}
}

// gone forgets sc.
func (s *Server) gone(sc *serverConn) {
	s.mu.Lock()
	if s.conn == sc {
		s.conn = nil
	}
	m := s.main
	s.mu.Unlock()
	if m != nil {
		m.disconnected(sc)
	}
}

// process turns an exec request into a process to spawn, without its stdio.
func (s *Server) process(req ExecRequest) (*Process, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	env := req.Env
	if len(env) == 0 {
		env = slices.Clone(s.cfg.Env)
	}
	p := &Process{Argv: req.Argv, Dir: req.Dir}
	if req.User != "" {
		uid, gid, groups, home, err := ResolveUser("/", req.User)
		if err != nil {
			return nil, err
		}
		p.Credential = &syscall.Credential{Uid: uid, Gid: gid, Groups: groups}
		if _, ok := envValue(env, "HOME"); !ok {
			env = append(env, "HOME="+home)
		}
		if st, err := os.Stat(home); p.Dir == "" && err == nil && st.IsDir() {
			p.Dir = home
		}
	}
	if p.Dir == "" {
		p.Dir = "/"
	}
	p.Env = env
	path, err := LookPath(req.Argv[0], env, p.Dir)
	if err != nil {
		return nil, err
	}
	p.Path = path
	return p, nil
}

// ServeLoop serves one connection after another until ctx ends: it opens the
// transport with open and serves it, and when the host goes away or breaks
// the protocol opens it again, after a pause that starts at 10ms and doubles
// up to 250ms while no host greets the guest. The guest's init runs it for
// the life of the VM; a virtio-serial port reads EOF at once while no host is
// connected, so this loop is how the guest waits for one.
func (s *Server) ServeLoop(ctx context.Context, open func(ctx context.Context) (io.ReadWriteCloser, error)) error {
	const first, most = 10 * time.Millisecond, 250 * time.Millisecond
	pause := first
	for {
		conn, err := open(ctx)
		if err == nil {
			s.mu.Lock()
			greets := s.greets
			s.mu.Unlock()
			s.Serve(ctx, conn) //nolint:errcheck // every end means: open again
			s.mu.Lock()
			if s.greets != greets {
				pause = first
			}
			s.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, most)
	}
}
