package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/banger-dev/banger/internal/agent"
	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/errdefs"
)

// An attach stream (see api.AttachProtocol) is a hijacked connection
// carrying agent frames between the CLI and one process in a VM.

// attachConn is the daemon's end of an attach stream.
type attachConn struct {
	conn net.Conn
	enc  *agent.Encoder
	dec  *agent.Decoder
}

// checkUpgrade refuses a request that does not ask for the attach protocol.
func checkUpgrade(r *http.Request) error {
	if !strings.EqualFold(r.Header.Get("Upgrade"), api.AttachProtocol) {
		return errdefs.Newf(errdefs.ErrInvalid, "%s needs the header Upgrade: %s", r.URL.Path, api.AttachProtocol)
	}
	return nil
}

// upgrade takes the connection over and answers 101 Switching Protocols,
// naming the VM, with the extra header lines given (empty ones skipped).
func upgrade(w http.ResponseWriter, vm string, extra ...string) (*attachConn, error) {
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, fmt.Errorf("taking over the attach connection: %w", err)
	}
	conn.SetDeadline(time.Time{}) //nolint:errcheck // a Unix socket has none to clear
	fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: %s\r\n%s: %s\r\n",
		api.AttachProtocol, api.HeaderVM, vm)
	for _, h := range extra {
		if h != "" {
			fmt.Fprintf(brw, "%s\r\n", h)
		}
	}
	fmt.Fprint(brw, "\r\n")
	if err := brw.Flush(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("answering the attach request: %w", err)
	}
	return &attachConn{conn: conn, enc: agent.NewEncoder(conn), dec: agent.NewDecoder(brw.Reader)}, nil
}

// writer returns a writer sending what it gets as frames of type t.
func (a *attachConn) writer(t agent.FrameType) io.Writer { return frameWriter{a.enc, t} }

// finish sends the exit code, or err when not nil, and hangs up.
func (a *attachConn) finish(code int, err error) {
	f := agent.Frame{Type: agent.FrameExit, Payload: api.EncodeExit(code)}
	if err != nil {
		body, _ := api.ErrorBody(err)
		b, _ := json.Marshal(body)
		f = agent.Frame{Type: agent.FrameError, Payload: b}
	}
	a.enc.Encode(f) //nolint:errcheck // the client may be gone
	a.conn.Close()
}

// attachTarget is what the client's control frames act on.
type attachTarget struct {
	stdin  *io.PipeWriter // nil: stdin frames are dropped
	signal func(ctx context.Context, sig syscall.Signal) error
	resize func(ctx context.Context, rows, cols uint16) error // nil: ignored
}

// control applies the client's frames to t until the client hangs up or
// sends something malformed, then calls gone.
func (a *attachConn) control(ctx context.Context, t attachTarget, gone func()) {
	defer gone()
	for {
		f, err := a.dec.Next()
		if err != nil {
			if t.stdin != nil {
				t.stdin.CloseWithError(io.ErrUnexpectedEOF)
			}
			return
		}
		switch f.Type {
		case agent.FrameStdin:
			if t.stdin != nil {
				t.stdin.Write(f.Payload) //nolint:errcheck // the process may have closed its stdin
			}
		case agent.FrameStdinClose:
			if t.stdin != nil {
				t.stdin.Close()
			}
		case agent.FrameSignal:
			if sig, err := api.DecodeSignal(f.Payload); err == nil && sig > 0 && sig <= 64 {
				t.signal(ctx, syscall.Signal(sig)) //nolint:errcheck // the process may have exited
			}
		case agent.FrameResize:
			if rows, cols, err := api.DecodeResize(f.Payload); err == nil && t.resize != nil {
				t.resize(ctx, rows, cols) //nolint:errcheck // the process may have exited
			}
		}
	}
}

// frameWriter sends each write as data frames of one type.
type frameWriter struct {
	enc *agent.Encoder
	t   agent.FrameType
}

func (w frameWriter) Write(p []byte) (int, error) {
	const chunk = agent.MaxChunk - agent.HeaderSize
	for off := 0; off < len(p); off += chunk {
		if err := w.enc.Encode(agent.Frame{Type: w.t, Payload: p[off:min(off+chunk, len(p))]}); err != nil {
			return off, err
		}
	}
	return len(p), nil
}
