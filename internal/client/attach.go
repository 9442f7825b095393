package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"

	"github.com/banger-dev/banger/internal/agent"
	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/errdefs"
)

// Attachment is a live attach stream to a process in a VM (see
// api.AttachProtocol). Its senders are safe for concurrent use; Wait is
// called once.
type Attachment struct {
	// VM is the name of the VM the process runs in.
	VM string
	// ForwardsStdin and TTY, for AttachVM, say whether the stream forwards
	// stdin and whether the process has a terminal.
	ForwardsStdin, TTY bool
	conn               net.Conn
	enc                *agent.Encoder
	dec                *agent.Decoder
}

// AttachExec starts a command in the running VM called name and returns the
// stream carrying its stdio.
func (c *Client) AttachExec(ctx context.Context, name string, req api.ExecAttachRequest) (*Attachment, error) {
	return c.attach(ctx, api.VMExecAttachPath(name), req)
}

// AttachRun boots a VM in the foreground and returns the stream carrying
// its main process's output. It returns once the guest is up.
func (c *Client) AttachRun(ctx context.Context, req api.RunVMRequest) (*Attachment, error) {
	return c.attach(ctx, api.PathVMRunAttach, req)
}

// AttachVM attaches to the main process of the running VM called name, as
// a foreground vm run does: its output (what it wrote while nobody was
// attached first, up to the agent's history), its exit code, and its
// stdin if it was started with one.
func (c *Client) AttachVM(ctx context.Context, name string, req api.AttachVMRequest) (*Attachment, error) {
	return c.attach(ctx, api.VMAttachPath(name), req)
}

// attach posts in to path asking for the attach protocol. Canceling ctx
// aborts the request until the daemon has switched protocols.
func (c *Client) attach(ctx context.Context, path string, in any) (*Attachment, error) {
	if err := c.init(); err != nil {
		return nil, err
	}
	body, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("encoding request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://banger"+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", api.ContentTypeJSON)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", api.AttachProtocol)
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.sock)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, errdefs.Newf(errdefs.ErrUnavailable, "daemon is not running (no answer on %s)", c.sock)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	br := bufio.NewReader(conn)
	h, err := handshake(conn, br, req)
	if !stop() {
		conn.Close()
		return nil, ctx.Err()
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &Attachment{VM: h.Get(api.HeaderVM), ForwardsStdin: h.Get(api.HeaderStdin) == "1", TTY: h.Get(api.HeaderTTY) == "1",
		conn: conn, enc: agent.NewEncoder(conn), dec: agent.NewDecoder(br)}, nil
}

// handshake sends req on conn and reads the answer, which must be 101; it
// returns the answer's headers.
func handshake(conn net.Conn, br *bufio.Reader, req *http.Request) (http.Header, error) {
	if err := req.Write(conn); err != nil {
		return nil, fmt.Errorf("calling banger daemon: %w", err)
	}
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, fmt.Errorf("reading the daemon's answer: %w", err)
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return resp.Header, nil
	}
	defer resp.Body.Close()
	var e api.Error
	if err := json.NewDecoder(io.LimitReader(resp.Body, api.MaxBodyBytes)).Decode(&e); err != nil {
		e.Message = fmt.Sprintf("daemon answered %s", resp.Status)
	}
	return nil, e.Err(resp.StatusCode)
}

// Stdin sends p to the process's stdin.
func (a *Attachment) Stdin(p []byte) error {
	const chunk = agent.MaxChunk - agent.HeaderSize
	for off := 0; off < len(p); off += chunk {
		if err := a.send(agent.FrameStdin, p[off:min(off+chunk, len(p))]); err != nil {
			return err
		}
	}
	return nil
}

// CloseStdin tells the process its stdin has ended.
func (a *Attachment) CloseStdin() error { return a.send(agent.FrameStdinClose, nil) }

// CopyStdin sends what r yields as stdin, then closes stdin at r's end.
func (a *Attachment) CopyStdin(r io.Reader) error {
	buf := make([]byte, 16<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if werr := a.Stdin(buf[:n]); werr != nil {
				return werr
			}
		}
		if errors.Is(err, io.EOF) {
			return a.CloseStdin()
		}
		if err != nil {
			return fmt.Errorf("reading stdin: %w", err)
		}
	}
}

// Resize sets the size of the process's terminal.
func (a *Attachment) Resize(rows, cols uint16) error {
	return a.send(agent.FrameResize, api.EncodeResize(rows, cols))
}

// Signal sends sig to the process and its process group.
func (a *Attachment) Signal(sig syscall.Signal) error {
	return a.send(agent.FrameSignal, api.EncodeSignal(int(sig)))
}

func (a *Attachment) send(t agent.FrameType, payload []byte) error {
	if err := a.enc.Encode(agent.Frame{Type: t, Payload: payload}); err != nil {
		return fmt.Errorf("sending %v to the daemon: %w", t, err)
	}
	return nil
}

// Wait copies the process's output to stdout and stderr until it exits and
// returns its exit code (128+signal when killed).
func (a *Attachment) Wait(stdout, stderr io.Writer) (int, error) {
	for {
		f, err := a.dec.Next()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
				return 0, errors.New("the daemon closed the attach stream before the process exited (see the daemon log)")
			}
			return 0, fmt.Errorf("reading the attach stream: %w", err)
		}
		switch f.Type {
		case agent.FrameStdout:
			stdout.Write(f.Payload) //nolint:errcheck // keep draining to the exit
		case agent.FrameStderr:
			stderr.Write(f.Payload) //nolint:errcheck
		case agent.FrameExit:
			return api.DecodeExit(f.Payload)
		case agent.FrameError:
			var e api.Error
			if err := json.Unmarshal(f.Payload, &e); err != nil {
				return 0, fmt.Errorf("decoding the daemon's error: %w", err)
			}
			return 0, e.Err(0)
		}
	}
}

// Close hangs up. For an exec the daemon then kills the process.
func (a *Attachment) Close() error { return a.conn.Close() }
