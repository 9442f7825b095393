package agent

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// serverConn is the guest side of one host connection.
type serverConn struct {
	srv  *Server
	conn io.ReadWriteCloser
	enc  *Encoder

	closed atomic.Bool
	done   chan struct{} // closed by close

	mu       sync.Mutex
	sessions map[uint32]*execSession
	greeted  bool
	// mainOut and mainErr meter main-process output on this connection.
	mainOut, mainErr *credit
	// mainIn queues the main process's stdin from this host; one pump
	// writes it (see mainInput).
	mainIn     *inbound
	mainInOnce sync.Once
}

// send writes one frame.
func (sc *serverConn) send(t FrameType, id uint32, payload []byte) error {
	return sc.enc.Encode(Frame{Type: t, Session: id, Payload: payload})
}

// run reads and dispatches frames until the stream ends or breaks the rules.
// The reader never writes: every reply goes out from another goroutine, so
// two peers writing at once cannot deadlock.
func (sc *serverConn) run() error {
	go sc.send(FrameHello, 0, sc.srv.hello().encode()) //nolint:errcheck // re-sent on HostHello
	dec := NewDecoder(sc.conn)
	for {
		f, err := dec.Next()
		if err != nil {
			if errors.Is(err, ErrProtocol) {
				sc.reportError(err)
				return err
			}
			return fmt.Errorf("reading from host: %w (%w)", ErrDisconnected, err)
		}
		if err := sc.dispatch(f); err != nil {
			sc.reportError(err)
			return err
		}
	}
}

// reportError tells the host why the guest hangs up, waiting briefly.
func (sc *serverConn) reportError(err error) {
	done := make(chan struct{})
	go func() {
		sc.send(FrameError, 0, encodeString(err.Error())) //nolint:errcheck // best effort
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(200 * time.Millisecond):
	}
}

// close ends the connection and every exec session on it.
func (sc *serverConn) close() {
	sc.closed.Store(true)
	sc.conn.Close()
	sc.mainOut.close()
	sc.mainErr.close()
	sc.mainIn.abort()
	close(sc.done)
	sc.srv.gone(sc)
	sc.mu.Lock()
	sessions := sc.sessions
	sc.sessions = nil
	sc.mu.Unlock()
	for _, e := range sessions {
		e.hostGone()
	}
}

func (sc *serverConn) dispatch(f Frame) error {
	if f.Type == FrameHostHello {
		return sc.hostHello(f)
	}
	if !sc.greeted {
		// Left over from an earlier host: a virtio-serial port keeps what
		// was sent while the guest had it closed. Only a hello starts over.
		return nil
	}
	switch f.Type {
	case FrameExec:
		return sc.exec(f)
	case FrameStdin, FrameStdinClose, FrameResize:
		return sc.stdinOrResize(f)
	case FrameSignal:
		return sc.signal(f)
	case FrameWindow:
		return sc.window(f)
	case FrameExitAck:
		if m := sc.srv.mainSession(); m != nil {
			m.ack()
		}
		return nil
	case FrameShutdown:
		if sc.srv.cfg.OnShutdown != nil {
			go sc.srv.cfg.OnShutdown()
		}
		return nil
	case FrameError:
		msg, _ := decodeString(f.Payload, "error")
		return fmt.Errorf("%w: host reported: %s", ErrProtocol, msg)
	}
	return fmt.Errorf("%w: unexpected %v frame from host", ErrProtocol, f.Type)
}

func (sc *serverConn) hostHello(f Frame) error {
	r := wireReader{b: f.Payload}
	v := r.u16()
	if err := r.done("host hello"); err != nil {
		return err
	}
	if v != Version {
		return fmt.Errorf("%w: host speaks version %d, guest %d", ErrProtocol, v, Version)
	}
	if !sc.greeted {
		sc.greeted = true
		sc.srv.greeted(sc)
	}
	go sc.send(FrameHello, 0, sc.srv.hello().encode()) //nolint:errcheck // a failed send ends the connection
	return nil
}

// session returns the live exec session id, or nil.
func (sc *serverConn) session(id uint32) *execSession {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.sessions[id]
}

func (sc *serverConn) forget(id uint32) {
	sc.mu.Lock()
	delete(sc.sessions, id)
	sc.mu.Unlock()
}

func (sc *serverConn) exec(f Frame) error {
	if f.Session == MainSessionID {
		return fmt.Errorf("%w: exec on the main session", ErrProtocol)
	}
	req, err := decodeExecRequest(f.Payload)
	if err != nil {
		return err
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if _, ok := sc.sessions[f.Session]; ok {
		return fmt.Errorf("%w: session %d already in use", ErrProtocol, f.Session)
	}
	if len(sc.sessions) >= maxSessions {
		go sc.send(FrameStartError, f.Session, encodeString("too many sessions")) //nolint:errcheck
		return nil
	}
	e := newExecSession(sc, f.Session)
	sc.sessions[f.Session] = e
	go e.run(req)
	return nil
}

func (sc *serverConn) stdinOrResize(f Frame) error {
	var rows, cols uint16
	if f.Type == FrameResize {
		var err error
		if rows, cols, err = decodeU16Pair(f.Payload, "resize"); err != nil {
			return err
		}
	}
	if f.Session == MainSessionID {
		return sc.mainInput(f, rows, cols)
	}
	e := sc.session(f.Session)
	if e == nil {
		return nil // the session has just ended
	}
	switch f.Type {
	case FrameStdin:
		return e.stdin.push(f.Payload)
	case FrameStdinClose:
		e.stdin.closeWrite()
	default:
		// In line once the process runs, so a resize is applied before the
		// stdin that follows it is read; before that, it waits aside.
		select {
		case <-e.ready:
			e.resize(rows, cols)
		default:
			go e.resize(rows, cols)
		}
	}
	return nil
}

func (sc *serverConn) signal(f Frame) error {
	sig, group, err := decodeSignal(f.Payload)
	if err != nil {
		return err
	}
	if f.Session == MainSessionID {
		if m := sc.srv.mainSession(); m != nil {
			m.signal(sig, group)
		}
		return nil
	}
	if e := sc.session(f.Session); e != nil {
		go e.signal(sig, group)
	}
	return nil
}

func (sc *serverConn) window(f Frame) error {
	stream, n, err := decodeWindow(f.Payload)
	if err != nil {
		return err
	}
	var out, errc *credit
	if f.Session == MainSessionID {
		out, errc = sc.mainOut, sc.mainErr
	} else if e := sc.session(f.Session); e != nil {
		out, errc = e.out, e.errc
	} else {
		return nil
	}
	switch stream {
	case streamStdout:
		return out.add(int(n))
	case streamStderr:
		return errc.add(int(n))
	}
	return fmt.Errorf("%w: window for the host's own stream", ErrProtocol)
}
