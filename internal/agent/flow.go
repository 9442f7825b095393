package agent

import (
	"fmt"
	"io"
	"sync"
)

// maxCredit bounds the credit a peer may grant on one stream, so a hostile
// peer's Window frames cannot overflow the counter.
const maxCredit = 1 << 30

// credit counts the bytes a sender may still send on one stream. Window
// frames from the receiver add to it; sending takes from it.
type credit struct {
	mu     sync.Mutex
	cond   sync.Cond
	n      int
	closed bool
}

func newCredit() *credit {
	c := &credit{n: InitialWindow}
	c.cond.L = &c.mu
	return c
}

// add grants n more bytes.
func (c *credit) add(n int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n+n > maxCredit {
		return fmt.Errorf("%w: window grows past %d bytes", ErrProtocol, maxCredit)
	}
	c.n += n
	c.cond.Broadcast()
	return nil
}

// take waits for credit and takes up to limit bytes of it. It returns 0 once
// the stream is closed.
func (c *credit) take(limit int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.n == 0 && !c.closed {
		c.cond.Wait()
	}
	if c.closed {
		return 0
	}
	n := min(c.n, limit)
	c.n -= n
	return n
}

// putBack returns credit taken but not used.
func (c *credit) putBack(n int) {
	if n > 0 {
		c.add(n) //nolint:errcheck // cannot exceed what was taken
	}
}

// close wakes every waiter for good.
func (c *credit) close() {
	c.mu.Lock()
	c.closed = true
	c.cond.Broadcast()
	c.mu.Unlock()
}

// pumpOut reads r in chunks the credit allows and hands each to send. It
// returns nil at EOF, or the first read or send error.
func pumpOut(r io.Reader, c *credit, send func([]byte) error) error {
	buf := make([]byte, sendChunk)
	for {
		n := c.take(sendChunk)
		if n == 0 {
			return ErrDisconnected
		}
		m, err := r.Read(buf[:n])
		c.putBack(n - m)
		if m > 0 {
			if serr := send(buf[:m]); serr != nil {
				return serr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// inbound queues the bytes received on one stream until a pump writes them
// out. The sender may have at most the window's worth in flight, so the queue
// stays bounded; a sender that overruns is a protocol error.
type inbound struct {
	mu      sync.Mutex
	cond    sync.Cond
	q       [][]byte
	allowed int
	eof     bool
	aborted bool
	discard bool // keep draining and granting, but write nothing
}

func newInbound() *inbound {
	in := &inbound{allowed: InitialWindow}
	in.cond.L = &in.mu
	return in
}

// push queues one chunk; the reader loop calls it and it never blocks.
func (in *inbound) push(b []byte) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(b) > in.allowed {
		return fmt.Errorf("%w: peer sent %d bytes past its window", ErrProtocol, len(b)-in.allowed)
	}
	in.allowed -= len(b)
	if !in.aborted && !in.eof && len(b) > 0 {
		in.q = append(in.q, b)
		in.cond.Broadcast()
	}
	return nil
}

// closeWrite marks the end of the stream: run returns once the queue is empty.
func (in *inbound) closeWrite() {
	in.mu.Lock()
	in.eof = true
	in.cond.Broadcast()
	in.mu.Unlock()
}

// discardOutput makes run drop what it drains from now on: its writer
// belongs to a caller that has stopped waiting.
func (in *inbound) discardOutput() {
	in.mu.Lock()
	in.discard = true
	in.mu.Unlock()
}

// abort drops whatever is queued and makes run return.
func (in *inbound) abort() {
	in.mu.Lock()
	in.aborted, in.q = true, nil
	in.cond.Broadcast()
	in.mu.Unlock()
}

func (in *inbound) pop() (b []byte, discard, ok bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for len(in.q) == 0 && !in.eof && !in.aborted {
		in.cond.Wait()
	}
	if in.aborted || len(in.q) == 0 {
		return nil, false, false
	}
	b = in.q[0]
	in.q[0] = nil
	in.q = in.q[1:]
	return b, in.discard, true
}

// release re-opens n bytes of window and reports whether the queue is empty.
func (in *inbound) release(n int) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.allowed += n
	return len(in.q) == 0
}

// run writes queued chunks to w until the stream ends, calling grant to hand
// window back to the sender. After a write error it keeps draining (and
// granting) so the sender is never stuck, and returns that error at the end.
func (in *inbound) run(w io.Writer, grant func(n int)) error {
	var werr error
	pending := 0
	for {
		b, discard, ok := in.pop()
		if !ok {
			return werr
		}
		if werr == nil && w != nil && !discard {
			_, werr = w.Write(b)
		}
		pending += len(b)
		if in.release(len(b)) || pending >= MaxChunk {
			grant(pending)
			pending = 0
		}
	}
}

// queued returns the bytes waiting to be written.
func (in *inbound) queued() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	n := 0
	for _, b := range in.q {
		n += len(b)
	}
	return n
}
