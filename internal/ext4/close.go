package ext4

import (
	"errors"
	"fmt"
)

// Close lays out and writes all metadata, then sets the file's final size.
// It does not close or sync the file (but waits for the background syncs,
// see syncBehind). The Writer cannot be used afterwards.
func (w *Writer) Close() (err error) {
	if w.closed {
		return fmt.Errorf("closing image: already closed: %w", ErrInvalid)
	}
	w.closed = true
	defer func() { err = errors.Join(err, w.waitBehind()) }()
	if err := errors.Join(w.ioErr, w.flushWrites()); err != nil {
		return err
	}
	infos := w.assignInodes()
	if err := w.planDirs(infos); err != nil {
		return err
	}
	l, err := w.sizeImage(infos)
	if err != nil {
		return err
	}
	if err := w.writeContent(infos, l); err != nil {
		return fmt.Errorf("writing metadata: %w", err)
	}
	if err := w.writeInodeTables(infos, l); err != nil {
		return fmt.Errorf("writing inode tables: %w", err)
	}
	if err := w.writeGroups(infos, l); err != nil {
		return fmt.Errorf("writing group metadata: %w", err)
	}
	if err := w.f.Truncate(int64(l.blocks * blockSize)); err != nil {
		return fmt.Errorf("sizing image file: %w", err)
	}
	w.stats.ImageSize = int64(l.blocks * blockSize)
	w.stats.Inodes = int64(l.ipg * l.groups)
	return nil
}

// blockWriter batches consecutive blocks into single writes.
type blockWriter struct {
	w     *Writer
	start uint64
	buf   []byte
	err   error
}

func (b *blockWriter) put(nr uint64, blk []byte) {
	if b.err != nil {
		return
	}
	if len(b.buf) > 0 && (nr != b.start+uint64(len(b.buf))/blockSize || len(b.buf) >= ioBufSize) {
		b.flush()
	}
	if len(b.buf) == 0 {
		b.start = nr
	}
	b.buf = append(b.buf, blk...)
}

func (b *blockWriter) flush() error {
	if b.err == nil && len(b.buf) > 0 {
		_, b.err = b.w.f.WriteAt(b.buf, int64(b.start*blockSize))
	}
	b.buf = b.buf[:0]
	return b.err
}

// writeContent writes directory, symlink, xattr and extent-tree blocks and
// the journal superblock.
func (w *Writer) writeContent(infos []inodeInfo, l *layout) error {
	bw := &blockWriter{w: w, buf: make([]byte, 0, ioBufSize+blockSize)}
	for ino := range infos {
		in := &infos[ino]
		if in.n == nil {
			continue
		}
		n := in.n
		switch {
		case n.isDir():
			blks := w.encodeDir(uint32(ino), in.parent, w.orderedEntries(n), in.lay)
			nrs := flattenSpans(in.blocks)
			for i, b := range blks {
				bw.put(nrs[i], b)
			}
		case n.isSymlink() && len(in.blocks) > 0:
			blk := make([]byte, blockSize)
			copy(blk, n.target)
			bw.put(in.blocks[0].start, blk)
		}
		if in.xblock != 0 {
			bw.put(in.xblock, encodeXattrBlock(n.xattrs, in.xblock, w.csum))
		}
		if len(in.tree) > 0 {
			_, tbs := buildExtentTree(uint32(ino), in.mapping(), in.tree, w.csum)
			for _, tb := range tbs {
				bw.put(tb.nr, tb.data)
			}
		}
	}
	bw.put(l.journal[0].start, encodeJournalSuperblock(infos[journalIno].n.size/blockSize, w.uuid))
	return bw.flush()
}

// writeInodeTables writes the used part of every group's inode table.
func (w *Writer) writeInodeTables(infos []inodeInfo, l *layout) error {
	maxIno := uint64(len(infos) - 1)
	buf := make([]byte, l.itb*blockSize)
	for g := uint64(0); g < l.groups; g++ {
		first := g*l.ipg + 1
		if first > maxIno {
			break
		}
		last := min(maxIno, first+l.ipg-1)
		used := last - first + 1
		nb := divRoundUp(used, inodesPerBlock)
		clear(buf[:nb*blockSize])
		for ino := first; ino <= last; ino++ {
			if infos[ino].n == nil {
				continue
			}
			off := (ino - first) * inodeSize
			w.encodeInode(buf[off:off+inodeSize], uint32(ino), &infos[ino])
		}
		if _, err := w.f.WriteAt(buf[:nb*blockSize], int64(l.itable[g]*blockSize)); err != nil {
			return err
		}
	}
	return nil
}
