package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
)

// Session is a process running in the guest for this host.
type Session struct {
	c              *Client
	id             uint32
	argv0          string
	stdout, stderr *inbound
	stdin          *credit
	started        chan struct{} // closed on Started, StartError or failure
	exited         chan struct{} // closed on Exit, StartError or failure
	pumps          sync.WaitGroup

	mu       sync.Mutex
	pid      int
	startErr error
	status   ExitStatus
	err      error // the connection ended before the Exit frame
	closed   [2]bool
}

// Exec runs req in the guest, copying stdin to the process (nil: none) and
// its output to stdout and stderr, and returns how it ended. With req.TTY all
// output arrives on stdout. When ctx ends the process group is killed and
// Exec returns ctx's error at once. If the guest goes away first the error
// wraps ErrDisconnected.
func (c *Client) Exec(ctx context.Context, req ExecRequest, stdin io.Reader, stdout, stderr io.Writer) (ExitStatus, error) {
	s, err := c.Start(ctx, req, stdin, stdout, stderr)
	if err != nil {
		return ExitStatus{}, err
	}
	return s.Wait(ctx)
}

// Start starts req in the guest and returns once the guest has started it,
// streaming stdio as Exec does. A reader of stdin that never returns keeps a
// goroutine until it does.
func (c *Client) Start(ctx context.Context, req ExecRequest, stdin io.Reader, stdout, stderr io.Writer) (*Session, error) {
	if err := req.validate(); err != nil {
		return nil, fmt.Errorf("starting process: %w", err)
	}
	payload := req.encode()
	if len(payload) > MaxPayload {
		return nil, fmt.Errorf("starting %s: request of %d bytes exceeds %d", req.Argv[0], len(payload), MaxPayload)
	}
	s := &Session{c: c, argv0: req.Argv[0], stdout: newInbound(), stderr: newInbound(), stdin: newCredit(),
		started: make(chan struct{}), exited: make(chan struct{})}
	if err := c.register(s); err != nil {
		return nil, err
	}
	for i, w := range []io.Writer{stdout, stderr} {
		in, stream := s.stdout, streamStdout
		if i == 1 {
			in, stream = s.stderr, streamStderr
		}
		s.pumps.Go(func() {
			in.run(w, func(n int) { c.send(FrameWindow, s.id, encodeWindow(stream, uint32(n))) }) //nolint:errcheck
		})
	}
	if err := c.sendCtx(ctx, FrameExec, s.id, payload); err != nil {
		s.fail(err)
		c.forget(s.id)
		return nil, fmt.Errorf("starting %s: %w", req.Argv[0], err)
	}
	return s, s.waitStarted(ctx, stdin)
}

func (c *Client) register(s *Session) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	for {
		c.nextID++
		if _, busy := c.sessions[c.nextID]; c.nextID != MainSessionID && !busy {
			break
		}
	}
	s.id = c.nextID
	c.sessions[s.id] = s
	return nil
}

func (s *Session) waitStarted(ctx context.Context, stdin io.Reader) error {
	select {
	case <-s.started:
	case <-ctx.Done():
		s.abandon()
		return ctx.Err()
	}
	s.mu.Lock()
	err := s.startErr
	if err == nil {
		err = s.err
	}
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("starting %s: %w", s.argv0, err)
	}
	go s.pumpStdin(stdin)
	return nil
}

func (s *Session) pumpStdin(stdin io.Reader) {
	if stdin != nil {
		send := func(b []byte) error { return s.c.send(FrameStdin, s.id, b) }
		if pumpOut(stdin, s.stdin, send) != nil {
			return
		}
	}
	s.c.send(FrameStdinClose, s.id, nil) //nolint:errcheck // the session fails on its own
}

// ID returns the session id, for Client.Signal and Client.Resize.
func (s *Session) ID() uint32 { return s.id }

// Pid returns the process id in the guest.
func (s *Session) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pid
}

// Signal sends sig to the process, or with group to its process group.
func (s *Session) Signal(ctx context.Context, sig syscall.Signal, group bool) error {
	return s.c.Signal(ctx, s.id, sig, group)
}

// Resize sets the size of the process's terminal.
func (s *Session) Resize(ctx context.Context, rows, cols uint16) error {
	return s.c.Resize(ctx, s.id, rows, cols)
}

// Wait waits for the process to exit and its output to be written, and
// returns how it ended. When ctx ends first, the process group is killed and
// Wait returns ctx's error.
func (s *Session) Wait(ctx context.Context) (ExitStatus, error) {
	select {
	case <-s.exited:
	case <-ctx.Done():
		s.abandon()
		return ExitStatus{}, ctx.Err()
	}
	drained := make(chan struct{})
	go func() {
		s.pumps.Wait()
		close(drained)
	}()
	select {
	case <-drained:
	case <-ctx.Done():
		s.abandon()
		return ExitStatus{}, ctx.Err()
	}
	s.stdin.close()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return ExitStatus{}, fmt.Errorf("running %s: %w", s.argv0, s.err)
	}
	return s.status, nil
}

// abandon kills the process group and stops writing to the caller's writers;
// the session lingers, draining, until the guest reports the exit.
func (s *Session) abandon() {
	s.stdout.discardOutput()
	s.stderr.discardOutput()
	s.stdin.close()
	go func() {
		<-s.started
		s.c.send(FrameSignal, s.id, encodeSignal(syscall.SIGKILL, true)) //nolint:errcheck
	}()
}

// control handles Started, StartError and Exit; the reader calls it.
func (s *Session) control(f Frame) error {
	switch f.Type {
	case FrameStarted:
		pid, err := decodeU32(f.Payload, "started")
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.pid = int(pid)
		s.mu.Unlock()
		s.close(0)
	case FrameStartError:
		msg, err := decodeString(f.Payload, "start error")
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.startErr = errors.New(msg)
		s.mu.Unlock()
		s.finish()
	case FrameExit:
		st, err := decodeExitStatus(f.Payload)
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.status = st
		s.mu.Unlock()
		s.finish()
	}
	return nil
}

// data queues output; the guest may not send more than the window.
func (s *Session) data(stream uint8, b []byte) error {
	if stream == streamStderr {
		return s.stderr.push(b)
	}
	return s.stdout.push(b)
}

// finish ends the session after its last frame.
func (s *Session) finish() {
	s.c.forget(s.id)
	s.stdout.closeWrite()
	s.stderr.closeWrite()
	s.stdin.close()
	s.close(0)
	s.close(1)
}

// fail ends the session because the connection ended.
func (s *Session) fail(err error) {
	s.mu.Lock()
	if !s.closed[1] {
		s.err = err
	}
	s.mu.Unlock()
	s.stdout.closeWrite()
	s.stderr.closeWrite()
	s.stdin.close()
	s.close(0)
	s.close(1)
}

// close closes started (0) or exited (1), once.
func (s *Session) close(which int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed[which] {
		return
	}
	s.closed[which] = true
	if which == 0 {
		close(s.started)
	} else {
		close(s.exited)
	}
}
