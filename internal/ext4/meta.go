package ext4

import (
	"archive/tar"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// Stored timestamp range: 32 signed bits plus two epoch bits reach 2446,
// but e2fsck reads epoch 3 with the top bit set (2310-04-04 to 2378) as a
// corrupted pre-1970 time, so times are clamped to 1901-12-13..2310-04-04.
const (
	minTimeSec = math.MinInt32
	maxTimeSec = 3<<32 - 1<<31 - 1
)

// toTimestamp converts t, clamping to what ext4 can store; a zero t is the
// Unix epoch.
func toTimestamp(t time.Time) timestamp {
	if t.IsZero() {
		return timestamp{}
	}
	s := t.Unix()
	switch {
	case s < minTimeSec:
		return timestamp{sec: minTimeSec}
	case s > maxTimeSec:
		return timestamp{sec: maxTimeSec, nsec: 999999999}
	}
	return timestamp{sec: s, nsec: uint32(t.Nanosecond())}
}

// nodeFromHeader builds the node a non-hardlink header describes, without data.
func nodeFromHeader(hdr *tar.Header) (*node, error) {
	if hdr.Uid < 0 || hdr.Gid < 0 || int64(hdr.Uid) > math.MaxUint32 || int64(hdr.Gid) > math.MaxUint32 {
		return nil, fmt.Errorf("putting %q: uid/gid %d/%d out of range: %w", hdr.Name, hdr.Uid, hdr.Gid, ErrInvalid)
	}
	n := &node{uid: uint32(hdr.Uid), gid: uint32(hdr.Gid)}
	perm := uint16(hdr.Mode & 0o7777)
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeRegA: //nolint:staticcheck // TypeRegA still appears in old archives
		n.mode = sIFREG | perm
		if hdr.Mode&sIFMT == sIFSOCK {
			n.mode = sIFSOCK | perm // sockets have no tar type; carried in the mode bits
		} else {
			if hdr.Size < 0 || hdr.Size > int64(math.MaxUint32)*blockSize {
				return nil, fmt.Errorf("putting %q: size %d out of range: %w", hdr.Name, hdr.Size, ErrInvalid)
			}
			n.size = uint64(hdr.Size)
		}
	case tar.TypeDir:
		n.mode = sIFDIR | perm
		n.children = map[string]*node{}
	case tar.TypeSymlink:
		if hdr.Linkname == "" || len(hdr.Linkname) > maxSymlinkLen {
			return nil, fmt.Errorf("putting %q: symlink target of %d bytes (want 1-%d): %w", hdr.Name, len(hdr.Linkname), maxSymlinkLen, ErrInvalid)
		}
		n.mode = sIFLNK | 0o777
		n.target = hdr.Linkname
		n.size = uint64(len(hdr.Linkname))
	case tar.TypeChar, tar.TypeBlock:
		n.mode = sIFCHR | perm
		if hdr.Typeflag == tar.TypeBlock {
			n.mode = sIFBLK | perm
		}
		if hdr.Devmajor < 0 || hdr.Devminor < 0 || hdr.Devmajor >= 1<<12 || hdr.Devminor >= 1<<20 {
			return nil, fmt.Errorf("putting %q: device %d:%d out of range: %w", hdr.Name, hdr.Devmajor, hdr.Devminor, ErrInvalid)
		}
		n.devMajor, n.devMinor = uint32(hdr.Devmajor), uint32(hdr.Devminor)
	case tar.TypeFifo:
		n.mode = sIFIFO | perm
	default:
		return nil, fmt.Errorf("putting %q: unsupported entry type %q: %w", hdr.Name, hdr.Typeflag, ErrInvalid)
	}
	n.mtime = toTimestamp(hdr.ModTime)
	n.atime, n.ctime = n.mtime, n.mtime
	if !hdr.AccessTime.IsZero() {
		n.atime = toTimestamp(hdr.AccessTime)
	}
	if !hdr.ChangeTime.IsZero() {
		n.ctime = toTimestamp(hdr.ChangeTime)
	}
	xs, err := headerXattrs(hdr)
	if err != nil {
		return nil, err
	}
	if !xattrsFitInode(xs) && !xattrsFitBlock(xs) {
		return nil, fmt.Errorf("putting %q: extended attributes do not fit one %d-byte block: %w", hdr.Name, blockSize, ErrInvalid)
	}
	n.xattrs = xs
	return n, nil
}

// headerXattrs collects SCHILY.xattr PAX records (and the deprecated
// hdr.Xattrs), sorted by name, PAX records winning.
func headerXattrs(hdr *tar.Header) ([]xattr, error) {
	m := map[string]string{}
	for k, v := range hdr.Xattrs { //nolint:staticcheck // honoured for old callers
		m[k] = v
	}
	for k, v := range hdr.PAXRecords {
		if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			m[name] = v
		}
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]xattr, 0, len(names))
	for _, k := range names {
		x, err := newXattr(k, []byte(m[k]))
		if errors.Is(err, errUnknownNamespace) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("putting %q: %w", hdr.Name, err)
		}
		out = append(out, x)
	}
	return out, nil
}

// updateMeta copies the metadata of src (a directory) onto the directory n.
func (n *node) updateMeta(src *node) {
	n.mode, n.uid, n.gid = src.mode, src.uid, src.gid
	n.atime, n.ctime, n.mtime = src.atime, src.ctime, src.mtime
	n.xattrs = src.xattrs
}
