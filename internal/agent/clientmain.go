package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

// MainHistory bounds the main-process output the client keeps while nobody
// is attached; AttachMain replays it, so a short-lived process loses nothing.
const MainHistory = 1 << 20

// hostMain follows the main session (id 0) on the host.
type hostMain struct {
	c *Client

	mu       sync.Mutex
	ring     ring
	attached bool
	allowed  [3]int  // bytes the guest may still send, per stream
	grant    [3]int  // window to hand back
	ack      bool    // an ExitAck is due
	stdin    *credit // what the guest lets us send to the main process's stdin
	status   *ExitStatus
	exited   chan struct{}
	gone     bool
	wake     chan struct{} // for control
	news     chan struct{} // for the attached reader
}

func newHostMain(c *Client) *hostMain {
	return &hostMain{c: c, exited: make(chan struct{}), wake: make(chan struct{}, 1),
		news: make(chan struct{}, 1), stdin: newCredit(), allowed: [3]int{0, InitialWindow, InitialWindow}}
}

func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// ErrAlreadyAttached is AttachMainStdin's answer while another caller is
// attached to the main process.
var ErrAlreadyAttached = errors.New("attaching to the main process: already attached")

// AttachMain copies the main process's output to stdout and stderr, starting
// with what arrived before (at most the last MainHistory bytes), until the
// process exits, and returns its status. When ctx ends it detaches and
// returns ctx's error; output keeps being kept for the next attach. Only one
// caller may be attached at a time.
func (c *Client) AttachMain(ctx context.Context, stdout, stderr io.Writer) (ExitStatus, error) {
	return c.AttachMainStdin(ctx, nil, stdout, stderr)
}

// AttachMainStdin is AttachMain that also copies stdin, if not nil, to the
// main process's stdin (a process started without one drops it), closing
// that at stdin's end. A read error other than EOF stops the copy and leaves
// the process's stdin open, for a later attach. The copy runs until stdin
// ends, even past the return: hand it a reader the caller can close, like
// an io.Pipe. The terminal size of a main process with one follows Resize
// with MainSessionID.
func (c *Client) AttachMainStdin(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) (ExitStatus, error) {
	m := c.main
	m.mu.Lock()
	if m.attached {
		m.mu.Unlock()
		return ExitStatus{}, ErrAlreadyAttached
	}
	m.attached = true
	m.mu.Unlock()
	defer m.detach()
	if stdin != nil {
		go m.pumpStdin(stdin)
	}
	w := [3]io.Writer{nil, stdout, stderr}
	for {
		m.mu.Lock()
		ch, ok := m.ring.pop()
		st, gone := m.status, m.gone
		m.mu.Unlock()
		switch {
		case ok:
			if w[ch.stream] != nil {
				w[ch.stream].Write(ch.b) //nolint:errcheck // the caller's terminal; keep draining
			}
			if !ch.granted {
				m.giveBack(ch.stream, len(ch.b))
			}
			continue
		case st != nil:
			return *st, nil
		case gone:
			return ExitStatus{}, fmt.Errorf("attaching to the main process: %w", c.Err())
		}
		select {
		case <-m.news:
		case <-ctx.Done():
			return ExitStatus{}, ctx.Err()
		}
	}
}

// MainExited is closed when the guest has reported the main process's exit.
func (c *Client) MainExited() <-chan struct{} { return c.main.exited }

// MainStatus returns the main process's exit status, once reported.
func (c *Client) MainStatus() (ExitStatus, bool) {
	m := c.main
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.status == nil {
		return ExitStatus{}, false
	}
	return *m.status, true
}

// data keeps output: for the attached reader, or else in the bounded history,
// whose window is handed back at once.
func (m *hostMain) data(stream uint8, b []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(b) > m.allowed[stream] {
		return fmt.Errorf("%w: guest sent main output past its window", ErrProtocol)
	}
	m.allowed[stream] -= len(b)
	if m.attached {
		m.ring.put(chunk{stream: stream, b: b})
		poke(m.news)
		return nil
	}
	m.ring.put(chunk{stream: stream, b: b, granted: true})
	m.ring.trim(MainHistory)
	m.grant[stream] += len(b)
	poke(m.wake)
	return nil
}

func (m *hostMain) exit(payload []byte) error {
	st, err := decodeExitStatus(payload)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ack = true
	if m.status == nil {
		m.status = &st
		close(m.exited)
	}
	poke(m.wake)
	poke(m.news)
	return nil
}

func (m *hostMain) giveBack(stream uint8, n int) {
	m.mu.Lock()
	m.grant[stream] += n
	m.mu.Unlock()
	poke(m.wake)
}

// detach hands back the window of output still kept for the reader.
func (m *hostMain) detach() {
	m.mu.Lock()
	m.attached = false
	for i := range m.ring.chunks {
		ch := &m.ring.chunks[i]
		if !ch.granted {
			ch.granted = true
			m.grant[ch.stream] += len(ch.b)
		}
	}
	m.ring.trim(MainHistory)
	m.mu.Unlock()
	poke(m.wake)
}

// pumpStdin sends r to the main process's stdin as the guest's window
// allows, then closes it at r's EOF.
func (m *hostMain) pumpStdin(r io.Reader) {
	send := func(b []byte) error { return m.c.send(FrameStdin, MainSessionID, b) }
	if pumpOut(r, m.stdin, send) == nil {
		m.c.send(FrameStdinClose, MainSessionID, nil) //nolint:errcheck // the connection fails on its own
	}
}

func (m *hostMain) fail() {
	m.stdin.close()
	m.mu.Lock()
	m.gone = true
	m.mu.Unlock()
	poke(m.news)
}

// control sends the Window and ExitAck frames the reader may not send itself.
func (m *hostMain) control() {
	for {
		select {
		case <-m.wake:
		case <-m.c.done:
			return
		}
		m.mu.Lock()
		grant, ack := m.grant, m.ack
		m.grant, m.ack = [3]int{}, false
		for i, n := range grant {
			m.allowed[i] += n
		}
		m.mu.Unlock()
		for stream, n := range grant {
			if n > 0 {
				m.c.send(FrameWindow, MainSessionID, encodeWindow(uint8(stream), uint32(n))) //nolint:errcheck
			}
		}
		if ack {
			m.c.send(FrameExitAck, MainSessionID, nil) //nolint:errcheck
		}
	}
}
