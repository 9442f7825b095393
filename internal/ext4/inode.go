package ext4

import "encoding/binary"

// inodeInfo is what Close works out for one inode number.
type inodeInfo struct {
	n      *node
	parent uint32 // directories: the parent's inode number
	subdir uint32 // directories: number of child directories
	lay    dirLayout
	blocks []span   // directory or slow-symlink blocks
	exts   []extent // directory or slow-symlink extents (files use n.extents)
	tree   []uint64 // extent tree blocks
	xblock uint64   // xattr block, 0 when none
}

// mapping returns the extents of the inode's data.
func (in *inodeInfo) mapping() []extent {
	if in.exts != nil {
		return in.exts
	}
	return in.n.extents
}

// usesExtents reports whether i_block holds an extent tree.
func (in *inodeInfo) usesExtents() bool {
	switch uint32(in.n.mode) & sIFMT {
	case sIFREG, sIFDIR:
		return true
	case sIFLNK:
		return len(in.n.target) >= fastSymlinkMax
	}
	return false
}

// nlink returns the on-disk link count.
func (in *inodeInfo) nlink() uint16 {
	if !in.n.isDir() {
		return uint16(in.n.links)
	}
	l := 2 + in.subdir
	if l > maxLinks {
		return 1
	}
	return uint16(l)
}

// putTime stores t in the base field at off and the extra field at extra.
func putTime(b []byte, off, extra int, t timestamp) {
	binary.LittleEndian.PutUint32(b[off:], uint32(int32(t.sec)))
	epoch := uint32((t.sec-int64(int32(t.sec)))>>32) & 3
	binary.LittleEndian.PutUint32(b[extra:], t.nsec<<2|epoch)
}

// encodeInode fills b (256 bytes) for inode ino.
func (w *Writer) encodeInode(b []byte, ino uint32, in *inodeInfo) {
	n := in.n
	clear(b[:inodeSize])
	binary.LittleEndian.PutUint16(b[0x0:], n.mode)
	binary.LittleEndian.PutUint16(b[0x2:], uint16(n.uid))
	binary.LittleEndian.PutUint16(b[0x78:], uint16(n.uid>>16))
	binary.LittleEndian.PutUint16(b[0x18:], uint16(n.gid))
	binary.LittleEndian.PutUint16(b[0x7A:], uint16(n.gid>>16))
	size := n.size
	if n.isDir() {
		size = uint64(in.lay.nblocks) * blockSize
	}
	binary.LittleEndian.PutUint32(b[0x4:], uint32(size))
	binary.LittleEndian.PutUint32(b[0x6C:], uint32(size>>32))
	putTime(b, 0x8, 0x8C, n.atime)
	putTime(b, 0xC, 0x84, n.ctime)
	putTime(b, 0x10, 0x88, n.mtime)
	putTime(b, 0x90, 0x94, n.ctime)
	binary.LittleEndian.PutUint16(b[0x1A:], in.nlink())
	var blocks uint64
	for _, e := range in.mapping() {
		blocks += uint64(e.len)
	}
	blocks += uint64(len(in.tree))
	if in.xblock != 0 {
		blocks++
		binary.LittleEndian.PutUint32(b[0x68:], uint32(in.xblock))
		binary.LittleEndian.PutUint16(b[0x76:], uint16(in.xblock>>32))
	}
	sectors := blocks * (blockSize / 512)
	binary.LittleEndian.PutUint32(b[0x1C:], uint32(sectors))
	binary.LittleEndian.PutUint16(b[0x74:], uint16(sectors>>32))
	var flags uint32
	if n.isDir() && in.lay.indexed {
		flags |= flagIndex
	}
	w.encodeIBlock(b[0x28:0x64], ino, in, &flags)
	binary.LittleEndian.PutUint32(b[0x20:], flags)
	binary.LittleEndian.PutUint16(b[0x80:], extraIsize)
	if len(n.xattrs) > 0 && in.xblock == 0 {
		encodeInodeXattrs(b, n.xattrs)
	}
	w.csum.inode(ino, b)
}

// encodeIBlock fills i_block: an extent tree, a fast symlink target or a
// device number.
func (w *Writer) encodeIBlock(ib []byte, ino uint32, in *inodeInfo, flags *uint32) {
	n := in.n
	switch {
	case in.usesExtents():
		*flags |= flagExtents
		root, _ := buildExtentTree(ino, in.mapping(), in.tree, checksummer{})
		copy(ib, root)
	case n.isSymlink():
		copy(ib, n.target)
	case uint32(n.mode)&sIFMT == sIFCHR || uint32(n.mode)&sIFMT == sIFBLK:
		if n.devMajor < 256 && n.devMinor < 256 {
			binary.LittleEndian.PutUint32(ib[0:], n.devMajor<<8|n.devMinor)
		} else {
			dev := n.devMinor&0xff | n.devMajor<<8 | (n.devMinor&^0xff)<<12
			binary.LittleEndian.PutUint32(ib[4:], dev)
		}
	}
}
