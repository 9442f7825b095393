package ext4

import (
	"errors"
	"fmt"
)

// assignInodes numbers every reachable node: the root is 2, a lost+found
// directory 11, then a depth-first walk in name order. Slots 1-10 other
// than the root stay empty (the journal fills 8 later).
func (w *Writer) assignInodes() []inodeInfo {
	infos := make([]inodeInfo, firstIno, firstIno+int(w.stats.Files+w.stats.Dirs))
	w.root.ino = rootIno
	infos[rootIno] = inodeInfo{n: w.root, parent: rootIno}
	if lf, ok := w.root.children[lostFound]; ok && lf.isDir() {
		lf.ino = uint32(len(infos))
		infos = append(infos, inodeInfo{n: lf, parent: rootIno})
	}
	stack := []*node{w.root}
	for len(stack) > 0 {
		d := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, name := range d.sortedNames() {
			c := d.children[name]
			if c.ino == 0 {
				c.ino = uint32(len(infos))
				infos = append(infos, inodeInfo{n: c, parent: d.ino})
			}
			if c.isDir() {
				infos[d.ino].subdir++
				stack = append(stack, c)
			}
		}
	}
	return infos
}

// dirEntries lists a directory's children in name order.
func dirEntries(d *node) []dirent {
	names := d.sortedNames()
	ents := make([]dirent, len(names))
	for i, name := range names {
		c := d.children[name]
		ents[i] = dirent{name: name, ino: c.ino, ftype: fileType(c.mode)}
	}
	return ents
}

// planDirs decides every directory's block count and whether it is indexed.
func (w *Writer) planDirs(infos []inodeInfo) error {
	for ino := range infos {
		in := &infos[ino]
		if in.n == nil || !in.n.isDir() {
			continue
		}
		minBlocks := 1
		if ino == lostFoundIno {
			minBlocks = 4
		}
		lay, err := w.planDir(w.orderedEntries(in.n), minBlocks)
		if err != nil {
			return err
		}
		in.lay = lay
	}
	return nil
}

// orderedEntries returns a directory's entries in on-disk order: by name
// when they fit one block, by hash when the directory will be indexed.
func (w *Writer) orderedEntries(d *node) []dirent {
	ents := dirEntries(d)
	size := direntSize(1) + direntSize(2)
	for _, e := range ents {
		size += direntSize(len(e.name))
	}
	if size > w.leafRoom() {
		w.sortByHash(ents)
	}
	return ents
}

// errTooSmall reports that a trial layout needed more blocks.
type errTooSmall struct{ need uint64 }

func (e *errTooSmall) Error() string { return fmt.Sprintf("needs %d blocks", e.need) }

// sizeImage picks the filesystem size and lays out all metadata.
func (w *Writer) sizeImage(infos []inodeInfo) (*layout, error) {
	if w.sizeLimit > 0 {
		blocks := w.sizeLimit
		if rem := blocks % blocksPerGroup; rem != 0 && rem < 256 && blocks > blocksPerGroup {
			blocks -= rem // a sliver of a last group cannot even hold its backup
		}
		l, err := w.trial(infos, blocks)
		var ts *errTooSmall
		if errors.As(err, &ts) {
			need, err2 := w.autoSize(infos, ts.need)
			if err2 != nil {
				return nil, err2
			}
			return nil, fmt.Errorf("laying out image: size %d bytes is too small, it needs at least %d bytes: %w",
				w.sizeLimit*blockSize, need.blocks*blockSize, ErrTooSmall)
		}
		return l, err
	}
	content := w.dataBlocks + w.metaBlocks(infos)
	target := max(uint64(minAutoSize/blockSize), content*5/4)
	return w.autoSize(infos, target)
}

// autoSize grows the size from target, in whole groups, until everything fits.
func (w *Writer) autoSize(infos []inodeInfo, target uint64) (*layout, error) {
	blocks := divRoundUp(target, blocksPerGroup) * blocksPerGroup
	for range 16 {
		l, err := w.trial(infos, blocks)
		var ts *errTooSmall
		if !errors.As(err, &ts) {
			return l, err
		}
		blocks = divRoundUp(max(ts.need, blocks+1), blocksPerGroup) * blocksPerGroup
	}
	return nil, fmt.Errorf("laying out image: size does not converge at %d blocks", blocks)
}

// metaBlocks estimates blocks for directories, symlinks, xattrs and trees.
func (w *Writer) metaBlocks(infos []inodeInfo) uint64 {
	var n uint64
	for i := range infos {
		in := &infos[i]
		if in.n == nil {
			continue
		}
		n += uint64(in.lay.nblocks)
		if in.n.isSymlink() && len(in.n.target) >= fastSymlinkMax {
			n++
		}
		if len(in.n.xattrs) > 0 && !xattrsFitInode(in.n.xattrs) {
			n++
		}
		n += uint64(extentTreeBlocks(len(in.n.extents)))
	}
	return n
}
