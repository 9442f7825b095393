package agent

import "io"

// The main session's stdin and terminal size. Stdin frames for session 0
// queue per connection, like an exec session's, and are written to the main
// process once the init has attached it (they may arrive before); Window
// frames for stream 0 of session 0 hand the credit back. A connection that
// ends leaves the main process's stdin open for the next one.

// mainReadyLocked returns the channel closed once the main process is
// attached; s.mu is held.
func (s *Server) mainReadyLocked() chan struct{} {
	if s.mainReady == nil {
		s.mainReady = make(chan struct{})
	}
	return s.mainReady
}

// mainAttached returns the channel closed once the main process is attached.
func (s *Server) mainAttached() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mainReadyLocked()
}

// mainInput handles Stdin, StdinClose and Resize frames for session 0.
func (sc *serverConn) mainInput(f Frame, rows, cols uint16) error {
	switch f.Type {
	case FrameResize:
		if m := sc.srv.mainSessionOrSize(rows, cols); m != nil && m.resize != nil {
			m.resize(rows, cols) //nolint:errcheck // the terminal may be closing; in line, so it precedes later stdin
		}
		return nil
	case FrameStdin:
		if err := sc.mainIn.push(f.Payload); err != nil {
			return err
		}
	default:
		sc.mainIn.closeWrite()
	}
	sc.mainInOnce.Do(func() { go sc.pumpMainStdin() })
	return nil
}

// pumpMainStdin writes the connection's main stdin queue to the main
// process once there is one, and closes its stdin at the host's StdinClose.
func (sc *serverConn) pumpMainStdin() {
	select {
	case <-sc.srv.mainAttached():
	case <-sc.done:
		return
	}
	m := sc.srv.mainSession()
	var w io.Writer
	if m.stdin != nil {
		w = m.stdin
	}
	sc.mainIn.run(w, func(n int) { //nolint:errcheck // the process may have closed its stdin
		sc.send(FrameWindow, MainSessionID, encodeWindow(streamStdin, uint32(n))) //nolint:errcheck
	})
	if sc.mainIn.ended() && m.stdin != nil && !m.tty {
		m.stdin.Close()
	}
}

// ended reports whether the stream reached its end (rather than being
// aborted).
func (in *inbound) ended() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.eof && !in.aborted
}
