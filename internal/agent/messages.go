package agent

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Hello is what the guest tells the host when a host connects: the protocol
// version and facts about the boot.
type Hello struct {
	// Version is the guest's protocol version; the server fills it in.
	Version uint16
	// Kernel is the guest kernel release (uname -r).
	Kernel string
	// Init names and versions the guest's init (banger-init).
	Init string
	// Uptime is the time since the guest kernel started, as of the hello.
	Uptime time.Duration
	// Info carries further boot facts as key/value pairs.
	Info map[string]string
}

func (h Hello) encode() []byte {
	var w wireWriter
	w.u16(h.Version)
	w.u64(uint64(h.Uptime))
	w.str(h.Kernel)
	w.str(h.Init)
	keys := slices.Sorted(maps.Keys(h.Info))
	w.u32(uint32(len(keys)))
	for _, k := range keys {
		w.str(k)
		w.str(h.Info[k])
	}
	return w.b
}

func decodeHello(p []byte) (Hello, error) {
	r := wireReader{b: p}
	h := Hello{Version: r.u16(), Uptime: time.Duration(r.u64()), Kernel: r.str(), Init: r.str()}
	n := r.u32()
	if uint64(n) > uint64(len(r.b))/8 { // each pair takes at least 8 bytes
		r.take(len(r.b) + 1)
	}
	for i := uint32(0); i < n && r.err == nil; i++ {
		if h.Info == nil {
			h.Info = make(map[string]string)
		}
		k := r.str()
		h.Info[k] = r.str()
	}
	return h, r.done("hello")
}

// ExecRequest asks the guest to run a process.
type ExecRequest struct {
	// Argv is the command and its arguments; Argv[0] is looked up in the
	// PATH of Env when it holds no slash.
	Argv []string
	// Env is the environment as KEY=value; empty means the server's default.
	Env []string
	// Dir is the working directory; empty means the user's home or "/".
	Dir string
	// User is a user name or uid, optionally followed by ":group" or ":gid";
	// empty runs as the init's own user (root).
	User string
	// TTY gives the process a pseudo-terminal of Rows x Cols; its output then
	// arrives on stdout only.
	TTY        bool
	Rows, Cols uint16
}

func (e ExecRequest) encode() []byte {
	var w wireWriter
	w.strs(e.Argv)
	w.strs(e.Env)
	w.str(e.Dir)
	w.str(e.User)
	var flags uint8
	if e.TTY {
		flags |= 1
	}
	w.u8(flags)
	w.u16(e.Rows)
	w.u16(e.Cols)
	return w.b
}

func decodeExecRequest(p []byte) (ExecRequest, error) {
	r := wireReader{b: p}
	e := ExecRequest{Argv: r.strs(), Env: r.strs(), Dir: r.str(), User: r.str()}
	e.TTY = r.u8()&1 != 0
	e.Rows, e.Cols = r.u16(), r.u16()
	return e, r.done("exec request")
}

// validate rejects requests the kernel would reject later with a vaguer error.
func (e ExecRequest) validate() error {
	if len(e.Argv) == 0 || e.Argv[0] == "" {
		return errors.New("exec request without a command")
	}
	all := slices.Concat(e.Argv, e.Env, []string{e.Dir, e.User})
	for _, s := range all {
		if strings.IndexByte(s, 0) >= 0 {
			return errors.New("exec request holds a NUL byte")
		}
	}
	return nil
}

// Stream numbers used by Window frames.
const (
	streamStdin  uint8 = 0
	streamStdout uint8 = 1
	streamStderr uint8 = 2
)

func encodeWindow(stream uint8, n uint32) []byte {
	var w wireWriter
	w.u8(stream)
	w.u32(n)
	return w.b
}

func decodeWindow(p []byte) (stream uint8, n uint32, err error) {
	r := wireReader{b: p}
	stream, n = r.u8(), r.u32()
	if err := r.done("window"); err != nil {
		return 0, 0, err
	}
	if stream > streamStderr || n == 0 || n > MaxPayload*64 {
		return 0, 0, fmt.Errorf("%w: bad window update (stream %d, %d bytes)", ErrProtocol, stream, n)
	}
	return stream, n, nil
}

func encodeSignal(sig syscall.Signal, group bool) []byte {
	var w wireWriter
	w.u32(uint32(sig))
	var flags uint8
	if group {
		flags |= 1
	}
	w.u8(flags)
	return w.b
}

func decodeSignal(p []byte) (sig syscall.Signal, group bool, err error) {
	r := wireReader{b: p}
	n, flags := r.u32(), r.u8()
	if err := r.done("signal"); err != nil {
		return 0, false, err
	}
	if n == 0 || n > 64 {
		return 0, false, fmt.Errorf("%w: signal %d out of range", ErrProtocol, n)
	}
	return syscall.Signal(n), flags&1 != 0, nil
}

func encodeU16Pair(a, b uint16) []byte {
	var w wireWriter
	w.u16(a)
	w.u16(b)
	return w.b
}

func decodeU16Pair(p []byte, what string) (a, b uint16, err error) {
	r := wireReader{b: p}
	a, b = r.u16(), r.u16()
	return a, b, r.done(what)
}

func encodeU32(v uint32) []byte {
	var w wireWriter
	w.u32(v)
	return w.b
}

func decodeU32(p []byte, what string) (uint32, error) {
	r := wireReader{b: p}
	v := r.u32()
	return v, r.done(what)
}

func encodeString(s string) []byte {
	var w wireWriter
	w.str(s)
	return w.b
}

func decodeString(p []byte, what string) (string, error) {
	r := wireReader{b: p}
	s := r.str()
	return s, r.done(what)
}
