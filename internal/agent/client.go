package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
	"time"
)

// Client is the host side of the protocol over one connection to a guest.
// Its methods are safe for concurrent use; many sessions share the stream.
type Client struct {
	conn io.ReadWriteCloser
	enc  *Encoder

	mu       sync.Mutex
	sessions map[uint32]*Session
	nextID   uint32
	hello    Hello
	helloCh  chan struct{} // closed at the first Hello
	greeted  chan struct{} // closed once HostHello is out: every other frame follows it
	done     chan struct{} // closed when the connection ends
	err      error         // why it ended
	main     *hostMain
}

// NewClient starts speaking the protocol on conn, which it owns from now on:
// it sends the host's hello and reads frames until Close or disconnection.
func NewClient(conn io.ReadWriteCloser) *Client {
	c := &Client{conn: conn, enc: NewEncoder(conn), sessions: make(map[uint32]*Session),
		helloCh: make(chan struct{}), greeted: make(chan struct{}), done: make(chan struct{})}
	c.main = newHostMain(c)
	go func() {
		var w wireWriter
		w.u16(Version)
		err := c.enc.Encode(Frame{Type: FrameHostHello, Payload: w.b})
		close(c.greeted)
		if err != nil {
			c.fail(fmt.Errorf("greeting guest: %w (%w)", ErrDisconnected, err))
		}
	}()
	go c.read()
	go c.main.control()
	return c
}

// WaitHello waits for the guest's hello and returns it.
func (c *Client) WaitHello(ctx context.Context) (Hello, error) {
	select {
	case <-c.helloCh:
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.hello, nil
	case <-c.done:
		return Hello{}, c.Err()
	case <-ctx.Done():
		return Hello{}, ctx.Err()
	}
}

// Done is closed when the connection has ended; Err then says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended (wrapping ErrDisconnected or
// ErrProtocol), or nil while it is up.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close ends the connection. Sessions still running fail with ErrDisconnected.
func (c *Client) Close() error {
	c.fail(fmt.Errorf("closing agent client: %w", ErrDisconnected))
	return nil
}

// Shutdown asks the guest to shut down and waits until it hangs up. It
// returns ctx's error if the guest is still there when ctx ends.
func (c *Client) Shutdown(ctx context.Context) error {
	if err := c.sendCtx(ctx, FrameShutdown, 0, nil); err != nil {
		return err
	}
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for the guest to shut down: %w", ctx.Err())
	}
}

// Signal sends sig to the process of session id (MainSessionID for the main
// process) and, with group, to its whole process group.
func (c *Client) Signal(ctx context.Context, id uint32, sig syscall.Signal, group bool) error {
	return c.sendCtx(ctx, FrameSignal, id, encodeSignal(sig, group))
}

// Resize sets the terminal size of session id.
func (c *Client) Resize(ctx context.Context, id uint32, rows, cols uint16) error {
	return c.sendCtx(ctx, FrameResize, id, encodeU16Pair(rows, cols))
}

func (c *Client) send(t FrameType, id uint32, payload []byte) error {
	<-c.greeted
	return c.enc.Encode(Frame{Type: t, Session: id, Payload: payload})
}

// sendCtx sends a control frame, failing at once if the connection is down or
// ctx is done. A write in progress is not interrupted.
func (c *Client) sendCtx(ctx context.Context, t FrameType, id uint32, payload []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-c.done:
		return c.Err()
	default:
	}
	if err := c.send(t, id, payload); err != nil {
		return fmt.Errorf("sending %v: %w (%w)", t, ErrDisconnected, err)
	}
	return nil
}

// fail ends the connection with err, once.
func (c *Client) fail(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	sessions := c.sessions
	c.sessions = map[uint32]*Session{}
	close(c.done)
	c.mu.Unlock()
	c.conn.Close()
	for _, s := range sessions {
		s.fail(err)
	}
	c.main.fail()
}

// read dispatches frames until the connection ends. It never writes.
func (c *Client) read() {
	dec := NewDecoder(c.conn)
	for {
		f, err := dec.Next()
		if err == nil {
			err = c.dispatch(f)
		} else if !errors.Is(err, ErrProtocol) {
			err = fmt.Errorf("reading from guest: %w (%w)", ErrDisconnected, err)
		}
		if err != nil {
			if errors.Is(err, ErrProtocol) {
				c.reportError(err)
			}
			c.fail(err)
			return
		}
	}
}

// reportError tells the guest why the host hangs up, waiting briefly.
func (c *Client) reportError(err error) {
	sent := make(chan struct{})
	go func() {
		c.send(FrameError, 0, encodeString(err.Error())) //nolint:errcheck // best effort
		close(sent)
	}()
	select {
	case <-sent:
	case <-time.After(200 * time.Millisecond):
	}
}

func (c *Client) dispatch(f Frame) error {
	select {
	case <-c.helloCh:
	default:
		// Frames before the first Hello are left over from an earlier host
		// (a virtio-serial port delivers what it queued meanwhile).
		if f.Type != FrameHello && f.Type != FrameError {
			return nil
		}
	}
	switch f.Type {
	case FrameHello:
		return c.gotHello(f)
	case FrameStarted, FrameStartError, FrameExit:
		if f.Session == MainSessionID && f.Type == FrameExit {
			return c.main.exit(f.Payload)
		}
		if s := c.session(f.Session); s != nil {
			return s.control(f)
		}
		return nil
	case FrameStdout, FrameStderr:
		stream := streamStdout
		if f.Type == FrameStderr {
			stream = streamStderr
		}
		if f.Session == MainSessionID {
			return c.main.data(stream, f.Payload)
		}
		if s := c.session(f.Session); s != nil {
			return s.data(stream, f.Payload)
		}
		return nil
	case FrameWindow:
		return c.window(f)
	case FrameError:
		msg, _ := decodeString(f.Payload, "error")
		return fmt.Errorf("%w: guest reported: %s", ErrProtocol, msg)
	}
	return fmt.Errorf("%w: unexpected %v frame from guest", ErrProtocol, f.Type)
}

func (c *Client) gotHello(f Frame) error {
	h, err := decodeHello(f.Payload)
	if err != nil {
		return err
	}
	if h.Version != Version {
		return fmt.Errorf("%w: guest speaks version %d, host %d", ErrProtocol, h.Version, Version)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hello = h
	select {
	case <-c.helloCh:
	default:
		close(c.helloCh)
	}
	return nil
}

func (c *Client) window(f Frame) error {
	stream, n, err := decodeWindow(f.Payload)
	if err != nil {
		return err
	}
	if stream != streamStdin {
		return fmt.Errorf("%w: window for the guest's own stream", ErrProtocol)
	}
	if f.Session == MainSessionID {
		return c.main.stdin.add(int(n))
	}
	if s := c.session(f.Session); s != nil {
		return s.stdin.add(int(n))
	}
	return nil
}

func (c *Client) session(id uint32) *Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sessions[id]
}

func (c *Client) forget(id uint32) {
	c.mu.Lock()
	delete(c.sessions, id)
	c.mu.Unlock()
}
