package ext4

import "encoding/binary"

// extentTreeBlocks returns how many tree blocks n extents need beyond the
// four that fit in the inode.
func extentTreeBlocks(n int) int {
	total := 0
	for n > extentsInInode {
		n = (n + extentsPerBlock - 1) / extentsPerBlock
		total += n
	}
	return total
}

// treeBlock is one extent-tree block ready to write.
type treeBlock struct {
	nr   uint64
	data []byte
}

// indexEntry is a child pointer in an extent index.
type indexEntry struct {
	logical uint32
	child   uint64
}

// buildExtentTree encodes exts into the inode's i_block (60 bytes) and, when
// they do not fit, into tree blocks placed at nrs (extentTreeBlocks long).
func buildExtentTree(ino uint32, exts []extent, nrs []uint64, cs checksummer) ([]byte, []treeBlock) {
	iblock := make([]byte, 60)
	if len(exts) <= extentsInInode {
		putExtentHeader(iblock, len(exts), extentsInInode, 0)
		for i, e := range exts {
			putLeafEntry(iblock[extentHeaderSize+i*extentEntrySize:], e)
		}
		return iblock, nil
	}
	var out []treeBlock
	var level []indexEntry
	for i := 0; i < len(exts); i += extentsPerBlock {
		part := exts[i:min(i+extentsPerBlock, len(exts))]
		blk := make([]byte, blockSize)
		putExtentHeader(blk, len(part), extentsPerBlock, 0)
		for j, e := range part {
			putLeafEntry(blk[extentHeaderSize+j*extentEntrySize:], e)
		}
		nr := nrs[len(out)]
		cs.extentBlock(ino, blk)
		out = append(out, treeBlock{nr, blk})
		level = append(level, indexEntry{part[0].logical, nr})
	}
	depth := 1
	for len(level) > extentsInInode {
		var up []indexEntry
		for i := 0; i < len(level); i += extentsPerBlock {
			part := level[i:min(i+extentsPerBlock, len(level))]
			blk := make([]byte, blockSize)
			putExtentHeader(blk, len(part), extentsPerBlock, depth)
			for j, e := range part {
				putIndexEntry(blk[extentHeaderSize+j*extentEntrySize:], e)
			}
			nr := nrs[len(out)]
			cs.extentBlock(ino, blk)
			out = append(out, treeBlock{nr, blk})
			up = append(up, indexEntry{part[0].logical, nr})
		}
		level = up
		depth++
	}
	putExtentHeader(iblock, len(level), extentsInInode, depth)
	for i, e := range level {
		putIndexEntry(iblock[extentHeaderSize+i*extentEntrySize:], e)
	}
	return iblock, out
}

func putExtentHeader(b []byte, entries, maxEntries, depth int) {
	binary.LittleEndian.PutUint16(b[0:], extentMagic)
	binary.LittleEndian.PutUint16(b[2:], uint16(entries))
	binary.LittleEndian.PutUint16(b[4:], uint16(maxEntries))
	binary.LittleEndian.PutUint16(b[6:], uint16(depth))
	binary.LittleEndian.PutUint32(b[8:], 0)
}

func putLeafEntry(b []byte, e extent) {
	binary.LittleEndian.PutUint32(b[0:], e.logical)
	binary.LittleEndian.PutUint16(b[4:], uint16(e.len))
	binary.LittleEndian.PutUint16(b[6:], uint16(e.phys>>32))
	binary.LittleEndian.PutUint32(b[8:], uint32(e.phys))
}

func putIndexEntry(b []byte, e indexEntry) {
	binary.LittleEndian.PutUint32(b[0:], e.logical)
	binary.LittleEndian.PutUint32(b[4:], uint32(e.child))
	binary.LittleEndian.PutUint16(b[8:], uint16(e.child>>32))
	binary.LittleEndian.PutUint16(b[10:], 0)
}

// spansToExtents maps consecutive logical blocks from 0 onto runs.
func spansToExtents(runs []span) []extent {
	var n node
	var lb uint32
	for _, s := range runs {
		n.addExtent(lb, s)
		lb += uint32(s.len)
	}
	return n.extents
}

// flattenSpans lists every block of runs, in order.
func flattenSpans(runs []span) []uint64 {
	var out []uint64
	for _, s := range runs {
		for i := uint64(0); i < s.len; i++ {
			out = append(out, s.start+i)
		}
	}
	return out
}
