package ext4

import "fmt"

// layout is the placement of everything Close writes.
type layout struct {
	blocks    uint64 // filesystem size in blocks
	groups    uint64
	ipg       uint64 // inodes per group
	itb       uint64 // inode table blocks per group
	gdtBlocks uint64
	bbitmap   []uint64 // per group
	ibitmap   []uint64
	itable    []uint64
	journal   []span
}

// inodesNeeded is the minimum inode count for used inodes.
func inodesNeeded(used uint64) uint64 { return used + used/2 + 4096 }

// trial lays out all metadata for a filesystem of the given size on a copy
// of the allocator, storing per-inode placements in infos. It fails with
// *errTooSmall when the blocks do not suffice.
func (w *Writer) trial(infos []inodeInfo, blocks uint64) (*layout, error) {
	l := &layout{blocks: blocks, groups: divRoundUp(blocks, blocksPerGroup)}
	total := max(inodesNeeded(uint64(len(infos))), blocks*blockSize/uint64(w.opts.InodeRatio))
	l.ipg = (divRoundUp(total, l.groups) + inodesPerBlock - 1) / inodesPerBlock * inodesPerBlock
	if l.ipg > blocksPerGroup {
		return nil, &errTooSmall{need: divRoundUp(total, blocksPerGroup) * blocksPerGroup}
	}
	l.itb = l.ipg * inodeSize / blockSize
	l.gdtBlocks = divRoundUp(l.groups, descsPerBlock)
	if l.gdtBlocks > w.gdtReserve {
		return nil, fmt.Errorf("laying out %d block groups: only %d GDT blocks reserved (raise MaxSize or set Size): %w",
			l.groups, w.gdtReserve, ErrTooLarge)
	}
	a := w.alloc.clone()
	a.next = max(a.next, a.stale)
	jblocks := uint64(w.opts.JournalBlocks)
	if jblocks == 0 {
		jblocks = defaultJournalBlocks(blocks)
	}
	jblocks = max(jblocks, 1024)
	l.journal = a.bumpAll(jblocks)
	for g := uint64(0); g < l.groups; g++ {
		l.bbitmap = append(l.bbitmap, a.bump(1, true).start)
		l.ibitmap = append(l.ibitmap, a.bump(1, true).start)
		l.itable = append(l.itable, a.bump(l.itb, true).start)
	}
	w.journalInfo(infos, l)
	for i := range infos {
		w.placeInode(a, &infos[i])
	}
	if a.next > blocks {
		return nil, &errTooSmall{need: a.next}
	}
	return l, nil
}

// journalInfo fills slot 8 with the journal inode.
func (w *Writer) journalInfo(infos []inodeInfo, l *layout) {
	ts := toTimestamp(w.opts.Time)
	var jblocks uint64
	for _, s := range l.journal {
		jblocks += s.len
	}
	n := &node{mode: sIFREG | 0o600, links: 1, size: jblocks * blockSize, atime: ts, ctime: ts, mtime: ts}
	infos[journalIno] = inodeInfo{n: n, exts: spansToExtents(l.journal)}
}

// placeInode allocates an inode's directory, symlink, xattr and tree blocks.
func (w *Writer) placeInode(a *allocator, in *inodeInfo) {
	if in.n == nil {
		return
	}
	n := in.n
	switch {
	case n.isDir():
		in.blocks = allocRuns(a, uint64(in.lay.nblocks))
		in.exts = spansToExtents(in.blocks)
	case n.isSymlink() && len(n.target) >= fastSymlinkMax:
		in.blocks = allocRuns(a, 1)
		in.exts = spansToExtents(in.blocks)
	}
	in.xblock = 0
	if len(n.xattrs) > 0 && !xattrsFitInode(n.xattrs) {
		in.xblock = a.alloc(1).start
	}
	in.tree = nil
	if in.usesExtents() {
		if k := extentTreeBlocks(len(in.mapping())); k > 0 {
			in.tree = flattenSpans(allocRuns(a, uint64(k)))
		}
	}
}

// allocRuns takes n blocks, as few runs as the allocator gives.
func allocRuns(a *allocator, n uint64) []span {
	var out []span
	for n > 0 {
		s := a.alloc(n)
		out = append(out, s)
		n -= s.len
	}
	return out
}
