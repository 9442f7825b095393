package agent

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestHelloCarriesBootInfo(t *testing.T) {
	hello := Hello{Kernel: "6.1.0-test", Init: "banger-init test", Info: map[string]string{"vm": "web"}}
	r := newRig(t, transports[1].pair, ServerConfig{Hello: hello})
	h, err := r.client.WaitHello(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if h.Version != Version || h.Kernel != hello.Kernel || h.Init != hello.Init || h.Info["vm"] != "web" {
		t.Errorf("hello = %+v", h)
	}
	if h.Uptime <= 0 {
		t.Errorf("uptime %v, want it taken from CLOCK_BOOTTIME", h.Uptime)
	}
}

// rawHost connects a server to a host side the test drives frame by frame.
type rawHost struct {
	enc    *Encoder
	frames chan Frame
	served chan error
}

func newRawHost(t *testing.T, greet bool) *rawHost {
	t.Helper()
	host, guest := transports[0].pair(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); host.Close() })
	h := &rawHost{enc: NewEncoder(host), frames: make(chan Frame, 100), served: make(chan error, 1)}
	go func() { h.served <- NewServer(ServerConfig{}).Serve(ctx, guest) }()
	go func() {
		dec := NewDecoder(host)
		for {
			f, err := dec.Next()
			if err != nil {
				close(h.frames)
				return
			}
			h.frames <- f
		}
	}()
	if greet {
		h.enc.Encode(Frame{Type: FrameHostHello, Payload: []byte{0, Version}})
	}
	return h
}

func (h *rawHost) serveErr(t *testing.T) error {
	t.Helper()
	select {
	case err := <-h.served:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("server did not give up")
		return nil
	}
}

func TestServerRejectsHostileFrames(t *testing.T) {
	tests := []struct {
		name  string
		greet bool
		raw   []byte
	}{
		{"unknown type", true, []byte{0, 0, 0, 0, 0x7f, 0, 0, 0, 0, 0, 0, 1}},
		{"reserved bits", true, []byte{0, 0, 0, 0, byte(FrameStdinClose), 1, 0, 0, 0, 0, 0, 1}},
		{"huge length", true, []byte{0xff, 0xff, 0xff, 0xff, byte(FrameExec), 0, 0, 0, 0, 0, 0, 1}},
		{"oversized chunk", true, frameBytes(FrameStdin, 1, make([]byte, MaxChunk+1))},
		{"truncated exec", true, frameBytes(FrameExec, 1, []byte{0, 0, 0, 9, 0})},
		{"hostile list count", true, frameBytes(FrameExec, 1, []byte{0xff, 0xff, 0xff, 0xff})},
		{"exec on main session", true, frameBytes(FrameExec, 0, ExecRequest{Argv: []string{"true"}}.encode())},
		{"guest frame from host", true, frameBytes(FrameStdout, 1, []byte("x"))},
		{"window on stdin", true, frameBytes(FrameWindow, 0, encodeWindow(streamStdin, 10))},
		{"window overflow", true, frameBytes(FrameWindow, 0, encodeWindow(streamStdout, MaxPayload*64+1))},
		{"signal zero", true, frameBytes(FrameSignal, 0, encodeSignal(0, false))},
		{"wrong version", false, frameBytes(FrameHostHello, 0, []byte{0, 99})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newRawHost(t, tt.greet)
			h.enc.w.Write(tt.raw)
			err := h.serveErr(t)
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("Serve returned %v, want ErrProtocol", err)
			}
			var sawError bool
			for f := range h.frames {
				sawError = sawError || f.Type == FrameError
			}
			if !sawError {
				t.Errorf("the server hung up without an Error frame")
			}
		})
	}
}

func TestLeftoversBeforeHelloIgnored(t *testing.T) {
	// The guest ignores what precedes the host's hello.
	h := newRawHost(t, false)
	h.enc.Encode(Frame{Type: FrameExec, Session: 1, Payload: ExecRequest{Argv: []string{"sh", "-c", "exit 1"}}.encode()})
	h.enc.Encode(Frame{Type: FrameStdin, Session: 1, Payload: []byte("stale")})
	h.enc.Encode(Frame{Type: FrameHostHello, Payload: []byte{0, Version}})
	h.enc.Encode(Frame{Type: FrameExec, Session: 2, Payload: ExecRequest{Argv: []string{"true"}}.encode()})
	exited := false
	for f := range h.frames {
		if f.Session == 1 {
			t.Fatalf("the guest ran a request sent before HostHello: %v", f.Type)
		}
		if f.Type == FrameExit && f.Session == 2 {
			exited = true
			break
		}
	}
	if !exited {
		t.Fatal("the request after HostHello did not run")
	}

	// The host ignores what precedes the guest's hello.
	raw := slices.Concat(
		frameBytes(FrameExit, 0, ExitStatus{Code: 4}.encode()),
		frameBytes(FrameStdout, 0, []byte("stale")),
		frameBytes(FrameHello, 0, Hello{Version: Version}.encode()),
		frameBytes(FrameStdout, 0, []byte("fresh")),
		frameBytes(FrameExit, 0, ExitStatus{Code: 5}.encode()))
	c := rawGuest(t, raw)
	var out bytes.Buffer
	st, err := c.AttachMain(testCtx(t), &out, io.Discard)
	if err != nil || st.Code != 5 || out.String() != "fresh" {
		t.Errorf("main after leftovers: %v, %v, %q; want exit 5 and only the fresh output", st, err, out.String())
	}
}

func TestServerStdinPastWindow(t *testing.T) {
	h := newRawHost(t, true)
	h.enc.Encode(Frame{Type: FrameExec, Session: 1, Payload: ExecRequest{Argv: []string{"sleep", "100"}}.encode()})
	chunk := make([]byte, MaxChunk)
	// The window plus what the pipe to sleep can absorb (64 KiB), and more.
	for range 2 * InitialWindow / MaxChunk {
		if h.enc.Encode(Frame{Type: FrameStdin, Session: 1, Payload: chunk}) != nil {
			break
		}
	}
	if err := h.serveErr(t); !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), "window") {
		t.Fatalf("Serve returned %v, want a window violation", err)
	}
}

func frameBytes(t FrameType, id uint32, payload []byte) []byte {
	var b bytes.Buffer
	NewEncoder(&b).Encode(Frame{Type: t, Session: id, Payload: payload})
	if b.Len() == 0 { // rejected by the encoder: build it by hand
		var w wireWriter
		w.u32(uint32(len(payload)))
		w.u8(uint8(t))
		w.u8(0)
		w.u16(0)
		w.u32(id)
		return append(w.b, payload...)
	}
	return b.Bytes()
}

// rawGuest runs a client against a guest side the test drives.
func rawGuest(t *testing.T, raw []byte) *Client {
	t.Helper()
	host, guest := transports[0].pair(t)
	go io.Copy(io.Discard, guest)
	c := NewClient(host)
	t.Cleanup(func() { c.Close(); guest.Close() })
	go guest.Write(raw)
	return c
}

func TestClientRejectsHostileFrames(t *testing.T) {
	hello := frameBytes(FrameHello, 0, Hello{Version: Version}.encode())
	tests := []struct {
		name string
		raw  []byte
	}{
		{"wrong version", frameBytes(FrameHello, 0, Hello{Version: 2}.encode())},
		{"truncated hello", frameBytes(FrameHello, 0, []byte{0, 1, 0})},
		{"hostile info count", frameBytes(FrameHello, 0, append(Hello{Version: 1}.encode()[:18], 0xff, 0xff, 0xff, 0xff))},
		{"unknown type", slices.Concat(hello, []byte{0, 0, 0, 0, 0x55, 0, 0, 0, 0, 0, 0, 0})},
		{"host frame from guest", slices.Concat(hello, frameBytes(FrameExec, 1, ExecRequest{Argv: []string{"x"}}.encode()))},
		{"bad exit signal", slices.Concat(hello, frameBytes(FrameExit, 0, []byte{0, 0, 0, 0, 0xff, 0, 0, 0, 0}))},
		{"window for stdout", slices.Concat(hello, frameBytes(FrameWindow, 0, encodeWindow(streamStdout, 1)))},
		{"oversized chunk", slices.Concat(hello, frameBytes(FrameStdout, 0, make([]byte, MaxChunk+1)))},
		{"guest error", slices.Concat(hello, frameBytes(FrameError, 0, encodeString("boom")))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := rawGuest(t, tt.raw)
			select {
			case <-c.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("client did not give up")
			}
			if !errors.Is(c.Err(), ErrProtocol) {
				t.Errorf("Err() = %v, want ErrProtocol", c.Err())
			}
		})
	}
}

func TestClientMainOutputPastWindow(t *testing.T) {
	host, guest := transports[0].pair(t)
	go io.Copy(io.Discard, guest)
	c := NewClient(host)
	t.Cleanup(func() { c.Close(); guest.Close() })
	// Attached with a writer that never returns, the client grants nothing.
	block := make(chan struct{})
	defer close(block)
	stuck := writerFunc(func(p []byte) (int, error) { <-block; return len(p), nil })
	go c.AttachMain(context.Background(), stuck, nil)
	time.Sleep(20 * time.Millisecond)
	raw := frameBytes(FrameHello, 0, Hello{Version: Version}.encode())
	for range InitialWindow/MaxChunk + 1 {
		raw = append(raw, frameBytes(FrameStdout, 0, make([]byte, MaxChunk))...)
	}
	go guest.Write(raw)
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("client accepted output past the window")
	}
	if !errors.Is(c.Err(), ErrProtocol) {
		t.Errorf("Err() = %v, want ErrProtocol", c.Err())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestShutdown(t *testing.T) {
	host, guest := transports[1].pair(t)
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	asked := make(chan struct{})
	srv := NewServer(ServerConfig{OnShutdown: func() { close(asked); cancel() }})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, guest) }()
	c := NewClient(host)
	defer c.Close()
	if err := c.Shutdown(testCtx(t)); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	select {
	case <-asked:
	default:
		t.Error("OnShutdown was not called")
	}
	if err := <-served; !errors.Is(err, context.Canceled) {
		t.Errorf("Serve returned %v", err)
	}
	if !errors.Is(c.Err(), ErrDisconnected) {
		t.Errorf("client Err() = %v, want ErrDisconnected", c.Err())
	}
}
