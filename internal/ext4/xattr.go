package ext4

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// xattr is one extended attribute, its name split into ext4's name index
// and the remaining suffix.
type xattr struct {
	index uint8
	name  string
	value []byte
}

// xattrPrefixes maps name prefixes to ext4 name indexes, longest first.
var xattrPrefixes = []struct {
	prefix string
	index  uint8
}{
	{"system.posix_acl_default", 3},
	{"system.posix_acl_access", 2},
	{"security.", 6},
	{"trusted.", 4},
	{"system.", 7},
	{"user.", 1},
}

const (
	xattrEntryHeader = 16
	xattrInodeRoom   = inodeSize - 128 - extraIsize - 4 // 92 bytes after the magic
	xattrBlockHeader = 32
)

// newXattr splits name into index and suffix and converts POSIX ACLs from
// the VFS (getxattr) format to ext4's.
func newXattr(name string, value []byte) (xattr, error) {
	for _, p := range xattrPrefixes {
		suffix, ok := strings.CutPrefix(name, p.prefix)
		if !ok {
			continue
		}
		if (p.index == 2 || p.index == 3) && suffix != "" {
			continue
		}
		if len(suffix) > 255 || (suffix == "" && p.index != 2 && p.index != 3) {
			return xattr{}, fmt.Errorf("storing xattr %q: bad name: %w", name, ErrInvalid)
		}
		if p.index == 2 || p.index == 3 {
			v, err := aclToExt4(value)
			if err != nil {
				return xattr{}, fmt.Errorf("storing xattr %q: %w", name, err)
			}
			value = v
		}
		return xattr{index: p.index, name: suffix, value: value}, nil
	}
	return xattr{}, errUnknownNamespace
}

// errUnknownNamespace marks an xattr Linux cannot store (such as macOS's
// "com.apple.*"); such attributes are dropped, as tar does on Linux.
var errUnknownNamespace = errors.New("unknown xattr namespace")

// aclToExt4 converts a posix_acl_xattr (version 2, 8-byte entries) into
// ext4's on-disk ACL (version 1, 4-byte entries except named users/groups).
func aclToExt4(v []byte) ([]byte, error) {
	if len(v) < 4 || (len(v)-4)%8 != 0 || binary.LittleEndian.Uint32(v) != 2 {
		return nil, fmt.Errorf("parsing POSIX ACL of %d bytes: %w", len(v), ErrInvalid)
	}
	out := binary.LittleEndian.AppendUint32(nil, 1)
	for p := v[4:]; len(p) > 0; p = p[8:] {
		tag := binary.LittleEndian.Uint16(p)
		out = binary.LittleEndian.AppendUint16(out, tag)
		out = binary.LittleEndian.AppendUint16(out, binary.LittleEndian.Uint16(p[2:]))
		switch tag {
		case 0x02, 0x08: // ACL_USER, ACL_GROUP carry an id
			out = append(out, p[4:8]...)
		case 0x01, 0x04, 0x10, 0x20:
		default:
			return nil, fmt.Errorf("parsing POSIX ACL: unknown tag %#x: %w", tag, ErrInvalid)
		}
	}
	return out, nil
}

func (x xattr) entrySize() int { return (xattrEntryHeader + len(x.name) + 3) &^ 3 }
func (x xattr) valueSize() int { return (len(x.value) + 3) &^ 3 }

// hash is ext4_xattr_hash_entry (EXT4-NOTES §5).
func (x xattr) hash() uint32 {
	var h uint32
	for i := 0; i < len(x.name); i++ {
		h = h<<5 ^ h>>27 ^ uint32(x.name[i])
	}
	for i := 0; i < len(x.value); i += 4 {
		var w [4]byte
		copy(w[:], x.value[i:])
		h = h<<16 ^ h>>16 ^ binary.LittleEndian.Uint32(w[:])
	}
	return h
}

// xattrsFitInode reports whether xs fit in the in-inode area.
func xattrsFitInode(xs []xattr) bool {
	n := 4 // list terminator
	for _, x := range xs {
		n += x.entrySize() + x.valueSize()
	}
	return n <= xattrInodeRoom
}

// xattrsFitBlock reports whether xs fit in one xattr block.
func xattrsFitBlock(xs []xattr) bool {
	n := xattrBlockHeader + 4
	for _, x := range xs {
		n += x.entrySize() + x.valueSize()
	}
	return n <= blockSize
}

// encodeXattrs writes entries into area, values packed from the end;
// value offsets are relative to base within area.
func encodeXattrs(area []byte, base int, xs []xattr) {
	off := 0
	end := len(area)
	for _, x := range xs {
		end -= x.valueSize()
		copy(area[end:], x.value)
		e := area[base+off:]
		e[0] = uint8(len(x.name))
		e[1] = x.index
		voff := 0
		if len(x.value) > 0 {
			voff = end - base
		}
		binary.LittleEndian.PutUint16(e[2:], uint16(voff))
		binary.LittleEndian.PutUint32(e[4:], 0)
		binary.LittleEndian.PutUint32(e[8:], uint32(len(x.value)))
		binary.LittleEndian.PutUint32(e[12:], x.hash())
		copy(e[16:], x.name)
		off += x.entrySize()
	}
}

// encodeInodeXattrs fills the in-inode xattr area (from 128+extra_isize).
func encodeInodeXattrs(ib []byte, xs []xattr) {
	area := ib[128+extraIsize : inodeSize]
	binary.LittleEndian.PutUint32(area, xattrMagic)
	encodeXattrs(area[4:], 0, xs)
}

// sortBlockXattrs orders entries as the kernel's block search requires.
func sortBlockXattrs(xs []xattr) []xattr {
	s := append([]xattr(nil), xs...)
	sort.SliceStable(s, func(i, j int) bool {
		a, b := s[i], s[j]
		if a.index != b.index {
			return a.index < b.index
		}
		if len(a.name) != len(b.name) {
			return len(a.name) < len(b.name)
		}
		return a.name < b.name
	})
	return s
}

// encodeXattrBlock builds an xattr block stored at block number nr.
func encodeXattrBlock(xs []xattr, nr uint64, cs checksummer) []byte {
	blk := make([]byte, blockSize)
	xs = sortBlockXattrs(xs)
	binary.LittleEndian.PutUint32(blk[0:], xattrMagic)
	binary.LittleEndian.PutUint32(blk[4:], 1) // h_refcount
	binary.LittleEndian.PutUint32(blk[8:], 1) // h_blocks
	encodeXattrs(blk, xattrBlockHeader, xs)
	// encodeXattrs made offsets relative to the first entry; block offsets
	// are relative to the block start.
	off := xattrBlockHeader
	var bh uint32
	for _, x := range xs {
		e := blk[off:]
		if v := binary.LittleEndian.Uint16(e[2:]); v != 0 {
			binary.LittleEndian.PutUint16(e[2:], v+xattrBlockHeader)
		}
		bh = bh<<16 ^ bh>>16 ^ x.hash()
		off += x.entrySize()
	}
	binary.LittleEndian.PutUint32(blk[12:], bh)
	cs.xattrBlock(nr, blk)
	return blk
}
