package agent

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Version is the protocol version carried by both hellos. Peers refuse a
// different version: banger builds banger-init from the same tree as the
// daemon, so a mismatch means a stale initramfs.
const Version = 1

const (
	// HeaderSize is the size of a frame header in bytes.
	HeaderSize = 12
	// MaxPayload bounds the payload of any frame.
	MaxPayload = 1 << 20
	// MaxChunk bounds the payload of a data frame (Stdin, Stdout, Stderr).
	MaxChunk = 32 << 10
	// sendChunk is the payload size senders use for data frames: header and
	// payload then fit one 32 KiB write, which virtio-console (it moves at
	// most 32 KiB per write) delivers as one buffer, so frames stay whole.
	sendChunk = MaxChunk - HeaderSize
	// InitialWindow is the credit each side holds for each data stream of a
	// session when the session starts, before any Window frame.
	InitialWindow = 256 << 10
	// MainSessionID is the reserved session id of the image's main process.
	MainSessionID uint32 = 0
)

// Errors reported by the package. They are wrapped with detail.
var (
	// ErrProtocol reports a malformed, unexpected or oversized frame.
	ErrProtocol = errors.New("agent protocol error")
	// ErrDisconnected reports that the peer went away.
	ErrDisconnected = errors.New("agent peer disconnected")
)

// FrameType identifies the message carried by a frame.
type FrameType uint8

// Frame types; doc.go describes each payload.
const (
	FrameHello      FrameType = 0x01 // guest → host
	FrameHostHello  FrameType = 0x02 // host → guest
	FrameError      FrameType = 0x03 // either way, fatal
	FrameExec       FrameType = 0x10 // host → guest
	FrameStdin      FrameType = 0x11 // host → guest
	FrameStdinClose FrameType = 0x12 // host → guest
	FrameSignal     FrameType = 0x13 // host → guest
	FrameResize     FrameType = 0x14 // host → guest
	FrameShutdown   FrameType = 0x15 // host → guest
	FrameExitAck    FrameType = 0x16 // host → guest
	FrameStarted    FrameType = 0x20 // guest → host
	FrameStartError FrameType = 0x21 // guest → host
	FrameStdout     FrameType = 0x22 // guest → host
	FrameStderr     FrameType = 0x23 // guest → host
	FrameExit       FrameType = 0x24 // guest → host
	FrameWindow     FrameType = 0x30 // either way
)

var frameNames = map[FrameType]string{
	FrameHello: "Hello", FrameHostHello: "HostHello", FrameError: "Error",
	FrameExec: "Exec", FrameStdin: "Stdin", FrameStdinClose: "StdinClose",
	FrameSignal: "Signal", FrameResize: "Resize", FrameShutdown: "Shutdown",
	FrameExitAck: "ExitAck", FrameStarted: "Started", FrameStartError: "StartError",
	FrameStdout: "Stdout", FrameStderr: "Stderr", FrameExit: "Exit", FrameWindow: "Window",
}

// String names the frame type.
func (t FrameType) String() string {
	if n, ok := frameNames[t]; ok {
		return n
	}
	return fmt.Sprintf("FrameType(%#x)", uint8(t))
}

// Known reports whether t is a frame type of this protocol version.
func (t FrameType) Known() bool {
	_, ok := frameNames[t]
	return ok
}

// isData reports whether t carries stream bytes, limited to MaxChunk.
func (t FrameType) isData() bool {
	return t == FrameStdin || t == FrameStdout || t == FrameStderr
}

// Frame is one decoded frame. Payload is owned by the frame.
type Frame struct {
	Type    FrameType
	Session uint32
	Payload []byte
}

// Decoder reads frames from a byte stream and checks their headers.
type Decoder struct {
	r   *bufio.Reader
	hdr [HeaderSize]byte
}

// NewDecoder returns a Decoder reading from r.
func NewDecoder(r io.Reader) *Decoder {
	return &Decoder{r: bufio.NewReaderSize(r, 64<<10)}
}

// Next reads the next frame. A clean end of stream between frames is io.EOF;
// a stream cut inside a frame is io.ErrUnexpectedEOF; a bad header wraps
// ErrProtocol.
func (d *Decoder) Next() (Frame, error) {
	if _, err := io.ReadFull(d.r, d.hdr[:]); err != nil {
		return Frame{}, err
	}
	n := binary.BigEndian.Uint32(d.hdr[0:4])
	f := Frame{Type: FrameType(d.hdr[4]), Session: binary.BigEndian.Uint32(d.hdr[8:12])}
	if err := checkHeader(f.Type, d.hdr[5], binary.BigEndian.Uint16(d.hdr[6:8]), n); err != nil {
		return Frame{}, err
	}
	f.Payload = make([]byte, n)
	if _, err := io.ReadFull(d.r, f.Payload); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Frame{}, err
	}
	return f, nil
}

func checkHeader(t FrameType, flags uint8, reserved uint16, n uint32) error {
	switch {
	case !t.Known():
		return fmt.Errorf("%w: unknown frame type %#x", ErrProtocol, uint8(t))
	case flags != 0 || reserved != 0:
		return fmt.Errorf("%w: reserved header bits set in %v frame", ErrProtocol, t)
	case n > MaxPayload:
		return fmt.Errorf("%w: %v frame of %d bytes exceeds %d", ErrProtocol, t, n, MaxPayload)
	case t.isData() && n > MaxChunk:
		return fmt.Errorf("%w: %v chunk of %d bytes exceeds %d", ErrProtocol, t, n, MaxChunk)
	}
	return nil
}

// Encoder writes frames to a byte stream. It is safe for concurrent use: each
// frame goes out in a single Write, whole.
type Encoder struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

// NewEncoder returns an Encoder writing to w.
func NewEncoder(w io.Writer) *Encoder {
	return &Encoder{w: w}
}

// Encode writes one frame.
func (e *Encoder) Encode(f Frame) error {
	n := len(f.Payload)
	if err := checkHeader(f.Type, 0, 0, uint32(min(n, MaxPayload+1))); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if cap(e.buf) < HeaderSize+n {
		e.buf = make([]byte, HeaderSize+n, max(HeaderSize+n, HeaderSize+MaxChunk))
	}
	b := e.buf[:HeaderSize+n]
	binary.BigEndian.PutUint32(b[0:4], uint32(n))
	b[4], b[5], b[6], b[7] = byte(f.Type), 0, 0, 0
	binary.BigEndian.PutUint32(b[8:12], f.Session)
	copy(b[HeaderSize:], f.Payload)
	_, err := e.w.Write(b)
	if cap(e.buf) > 4*(HeaderSize+MaxChunk) {
		e.buf = nil // do not keep a rare large Exec buffer around
	}
	return err
}
