package ext4

import (
	"encoding/binary"
	"math/bits"
)

// bitset is a plain bitmap over block numbers.
type bitset []uint64

func newBitset(n uint64) bitset { return make(bitset, (n+63)/64) }

func (b bitset) setRange(start, n uint64) {
	for i := start; i < start+n; {
		if i%64 == 0 && i+64 <= start+n {
			b[i/64] = ^uint64(0)
			i += 64
			continue
		}
		b[i/64] |= 1 << (i % 64)
		i++
	}
}

// bytesOf copies the bits of [start, start+n) into dst, LSB-first per byte.
func (b bitset) bytesOf(dst []byte, start, n uint64) {
	for i := uint64(0); i < n; i += 64 {
		binary.LittleEndian.PutUint64(dst[i/8:], b[(start+i)/64])
	}
}

// usedBlocks marks every block in use: superblocks, GDTs, bitmaps, inode
// tables, the journal and each inode's data, directory and tree blocks.
func (w *Writer) usedBlocks(infos []inodeInfo, l *layout) bitset {
	used := newBitset(l.groups * blocksPerGroup)
	for g := uint64(0); g < l.groups; g++ {
		if hasBackup(g) {
			used.setRange(g*blocksPerGroup, min(1+l.gdtBlocks, l.blocks-g*blocksPerGroup))
		}
		used.setRange(l.bbitmap[g], 1)
		used.setRange(l.ibitmap[g], 1)
		used.setRange(l.itable[g], l.itb)
	}
	for i := range infos {
		in := &infos[i]
		if in.n == nil {
			continue
		}
		for _, e := range in.mapping() {
			used.setRange(e.phys, uint64(e.len))
		}
		for _, t := range in.tree {
			used.setRange(t, 1)
		}
		if in.xblock != 0 {
			used.setRange(in.xblock, 1)
		}
	}
	// Padding: bits past the end of the filesystem are set.
	used.setRange(l.blocks, l.groups*blocksPerGroup-l.blocks)
	return used
}

// groupCounts is what each group descriptor records about its inodes.
type groupCounts struct {
	usedInodes, dirs, highest uint64
}

// writeGroups writes block and inode bitmaps, group descriptors and the
// superblock with its backups.
func (w *Writer) writeGroups(infos []inodeInfo, l *layout) error {
	used := w.usedBlocks(infos, l)
	gdt := make([]byte, l.gdtBlocks*blockSize)
	bw := &blockWriter{w: w, buf: make([]byte, 0, ioBufSize+blockSize)}
	var freeBlocks, freeInodes uint64
	blk := make([]byte, blockSize)
	for g := uint64(0); g < l.groups; g++ {
		d := gdt[g*descSize : (g+1)*descSize]
		used.bytesOf(blk, g*blocksPerGroup, blocksPerGroup)
		fb := uint64(0)
		for i := 0; i < blockSize; i += 8 {
			fb += 64 - uint64(bits.OnesCount64(binary.LittleEndian.Uint64(blk[i:])))
		}
		freeBlocks += fb
		bbCsum := w.csum.bitmap(blk)
		bw.put(l.bbitmap[g], blk)
		gc := inodeGroupCounts(infos, g, l.ipg)
		ib := inodeBitmap(gc, l.ipg)
		ibCsum := w.csum.bitmap(ib[:l.ipg/8])
		bw.put(l.ibitmap[g], ib)
		fi := l.ipg - gc.usedInodes
		freeInodes += fi
		w.putGroupDesc(d, g, l, fb, fi, gc, bbCsum, ibCsum)
	}
	if err := bw.flush(); err != nil {
		return err
	}
	sb := w.encodeSuperblock(l, freeBlocks, freeInodes, infos)
	for g := uint64(0); g < l.groups; g++ {
		if !hasBackup(g) {
			continue
		}
		base := g * blocksPerGroup
		off := int64(base * blockSize)
		if g == 0 {
			off = 1024
		}
		binary.LittleEndian.PutUint16(sb[0x5A:], uint16(g))
		w.csum.superblock(sb)
		if _, err := w.f.WriteAt(sb, off); err != nil {
			return err
		}
		if _, err := w.f.WriteAt(gdt, int64((base+1)*blockSize)); err != nil {
			return err
		}
	}
	return nil
}

// inodeGroupCounts counts the used inodes and directories of group g.
func inodeGroupCounts(infos []inodeInfo, g, ipg uint64) groupCounts {
	var c groupCounts
	first := g*ipg + 1
	for ino := first; ino < first+ipg && ino < uint64(len(infos)); ino++ {
		if ino >= firstIno || ino < firstIno && g == 0 {
			c.usedInodes++
			c.highest = ino - first + 1
		}
		if n := infos[ino].n; n != nil && n.isDir() {
			c.dirs++
		}
	}
	return c
}

// inodeBitmap returns a group's inode bitmap block with its padding set.
func inodeBitmap(c groupCounts, ipg uint64) []byte {
	b := make([]byte, blockSize)
	bs := bitset(make([]uint64, blockSize/8))
	bs.setRange(0, c.highest)
	bs.setRange(ipg, blockSize*8-ipg)
	bs.bytesOf(b, 0, blockSize*8)
	return b
}

func (w *Writer) putGroupDesc(d []byte, g uint64, l *layout, freeBlocks, freeInodes uint64, c groupCounts, bbCsum, ibCsum uint32) {
	le := binary.LittleEndian
	put64 := func(lo, hi int, v uint64) {
		le.PutUint32(d[lo:], uint32(v))
		le.PutUint32(d[hi:], uint32(v>>32))
	}
	put32 := func(lo, hi int, v uint64) {
		le.PutUint16(d[lo:], uint16(v))
		le.PutUint16(d[hi:], uint16(v>>16))
	}
	put64(0x0, 0x20, l.bbitmap[g])
	put64(0x4, 0x24, l.ibitmap[g])
	put64(0x8, 0x28, l.itable[g])
	put32(0xC, 0x2C, freeBlocks)
	put32(0xE, 0x2E, freeInodes)
	put32(0x10, 0x30, c.dirs)
	if w.csum.enabled {
		// The flags e2fsprogs' ext2fs_set_gdt_csum would set, so that
		// e2fsck -fp finds nothing to rewrite.
		flags := uint16(bgInodeTableZeroed)
		if freeBlocks == blocksPerGroup && g != l.groups-1 {
			flags |= bgBlockUninit
		}
		if freeInodes == l.ipg {
			flags |= bgInodeUninit
		}
		le.PutUint16(d[0x12:], flags)
		put32(0x1C, 0x32, l.ipg-c.highest)
		put32(0x18, 0x38, uint64(bbCsum))
		put32(0x1A, 0x3A, uint64(ibCsum))
	}
	w.csum.groupDesc(uint32(g), d)
}
