package ext4

import (
	"encoding/binary"
	"math/bits"
)

// dirHasher computes ext4's half_md4 directory hash with the signed-char
// flavour (s_flags = EXT2_FLAGS_SIGNED_HASH), as the kernel's hash.c does.
type dirHasher struct {
	seed [4]uint32
}

func newDirHasher(seed [16]byte) dirHasher {
	var h dirHasher
	for i := range h.seed {
		h.seed[i] = binary.LittleEndian.Uint32(seed[i*4:])
	}
	if h.seed == [4]uint32{} {
		h.seed = [4]uint32{0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476}
	}
	return h
}

// hash returns the major hash of name, low bit cleared.
func (h dirHasher) hash(name string) uint32 {
	buf := h.seed
	var in [8]uint32
	p := []byte(name)
	for l := len(p); l > 0; l -= 32 {
		str2hashbufSigned(p, l, in[:])
		halfMD4(&buf, &in)
		if len(p) > 32 {
			p = p[32:]
		}
	}
	hash := buf[1] &^ 1
	if hash == 0x7fffffff<<1 {
		hash = (0x7fffffff - 1) << 1
	}
	return hash
}

// str2hashbufSigned packs up to 32 bytes of msg (len bytes remain) into in.
func str2hashbufSigned(msg []byte, length int, in []uint32) {
	pad := uint32(length) | uint32(length)<<8
	pad |= pad << 16
	val := pad
	n := min(length, len(in)*4)
	num := len(in)
	k := 0
	for i := 0; i < n; i++ {
		val = uint32(int32(int8(msg[i]))) + val<<8
		if i%4 == 3 {
			in[k] = val
			k++
			val = pad
			num--
		}
	}
	num--
	if num >= 0 {
		in[k] = val
		k++
	}
	for num--; num >= 0; num-- {
		in[k] = pad
		k++
	}
}

func halfMD4(buf *[4]uint32, in *[8]uint32) {
	const k2, k3 = 0o13240474631, 0o15666365641
	f := func(x, y, z uint32) uint32 { return z ^ (x & (y ^ z)) }
	g := func(x, y, z uint32) uint32 { return (x & y) + ((x ^ y) & z) }
	hh := func(x, y, z uint32) uint32 { return x ^ y ^ z }
	a, b, c, d := buf[0], buf[1], buf[2], buf[3]
	r := func(fn func(x, y, z uint32) uint32, a *uint32, b, c, d, x uint32, s int) {
		*a = bits.RotateLeft32(*a+fn(b, c, d)+x, s)
	}
	r(f, &a, b, c, d, in[0], 3)
	r(f, &d, a, b, c, in[1], 7)
	r(f, &c, d, a, b, in[2], 11)
	r(f, &b, c, d, a, in[3], 19)
	r(f, &a, b, c, d, in[4], 3)
	r(f, &d, a, b, c, in[5], 7)
	r(f, &c, d, a, b, in[6], 11)
	r(f, &b, c, d, a, in[7], 19)

	r(g, &a, b, c, d, in[1]+k2, 3)
	r(g, &d, a, b, c, in[3]+k2, 5)
	r(g, &c, d, a, b, in[5]+k2, 9)
	r(g, &b, c, d, a, in[7]+k2, 13)
	r(g, &a, b, c, d, in[0]+k2, 3)
	r(g, &d, a, b, c, in[2]+k2, 5)
	r(g, &c, d, a, b, in[4]+k2, 9)
	r(g, &b, c, d, a, in[6]+k2, 13)

	r(hh, &a, b, c, d, in[3]+k3, 3)
	r(hh, &d, a, b, c, in[7]+k3, 9)
	r(hh, &c, d, a, b, in[2]+k3, 11)
	r(hh, &b, c, d, a, in[6]+k3, 15)
	r(hh, &a, b, c, d, in[1]+k3, 3)
	r(hh, &d, a, b, c, in[5]+k3, 9)
	r(hh, &c, d, a, b, in[0]+k3, 11)
	r(hh, &b, c, d, a, in[4]+k3, 15)

	buf[0] += a
	buf[1] += b
	buf[2] += c
	buf[3] += d
}
