package agent

import (
	"encoding/binary"
	"fmt"
)

// wireWriter appends big-endian fields to a payload.
type wireWriter struct{ b []byte }

func (w *wireWriter) u8(v uint8)   { w.b = append(w.b, v) }
func (w *wireWriter) u16(v uint16) { w.b = binary.BigEndian.AppendUint16(w.b, v) }
func (w *wireWriter) u32(v uint32) { w.b = binary.BigEndian.AppendUint32(w.b, v) }
func (w *wireWriter) u64(v uint64) { w.b = binary.BigEndian.AppendUint64(w.b, v) }

func (w *wireWriter) str(s string) {
	w.u32(uint32(len(s)))
	w.b = append(w.b, s...)
}

func (w *wireWriter) strs(l []string) {
	w.u32(uint32(len(l)))
	for _, s := range l {
		w.str(s)
	}
}

// wireReader consumes fields from a payload. The first short read sets err and
// every later read returns zero values, so decoders check err once at the end.
type wireReader struct {
	b   []byte
	err error
}

func (r *wireReader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = fmt.Errorf("%w: payload truncated", ErrProtocol)
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *wireReader) u8() uint8 {
	if v := r.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *wireReader) u16() uint16 {
	if v := r.take(2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (r *wireReader) u32() uint32 {
	if v := r.take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (r *wireReader) u64() uint64 {
	if v := r.take(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (r *wireReader) str() string {
	n := r.u32()
	if uint64(n) > uint64(len(r.b)) {
		r.take(len(r.b) + 1)
		return ""
	}
	return string(r.take(int(n)))
}

// strs reads a list; the count is checked against the bytes left (each string
// takes at least 4) so a hostile count cannot force a large allocation.
func (r *wireReader) strs() []string {
	n := r.u32()
	if uint64(n) > uint64(len(r.b))/4 {
		r.take(len(r.b) + 1)
		return nil
	}
	l := make([]string, 0, n)
	for i := uint32(0); i < n && r.err == nil; i++ {
		l = append(l, r.str())
	}
	return l
}

// done returns the first decoding error, naming what was decoded. Bytes left
// over are ignored: a later minor revision may append fields.
func (r *wireReader) done(what string) error {
	if r.err != nil {
		return fmt.Errorf("decoding %s: %w", what, r.err)
	}
	return nil
}
