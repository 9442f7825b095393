package ext4

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// dirent is one directory entry to encode.
type dirent struct {
	name  string
	ino   uint32
	ftype uint8
	hash  uint32
}

func direntSize(nameLen int) int { return (8 + nameLen + 3) &^ 3 }

// dirLayout is the shape of one directory: its block count and whether
// it is htree-indexed.
type dirLayout struct {
	nblocks int
	indexed bool
}

// leafRoom is the usable bytes of a directory leaf block.
func (w *Writer) leafRoom() int {
	if w.csum.enabled {
		return blockSize - dirTailSize
	}
	return blockSize
}

// packLeaves splits entries into leaf blocks in order, returning the index
// of the first entry of every leaf.
func packLeaves(ents []dirent, room, used int) []int {
	starts := []int{0}
	for i, e := range ents {
		sz := direntSize(len(e.name))
		if used+sz > room {
			starts = append(starts, i)
			used = 0
		}
		used += sz
	}
	return starts
}

// planDir decides the block count of a directory with the given entries
// (excluding "." and ".."); minBlocks pads linear directories (lost+found).
func (w *Writer) planDir(ents []dirent, minBlocks int) (dirLayout, error) {
	room := w.leafRoom()
	dots := direntSize(1) + direntSize(2)
	starts := packLeaves(ents, room, dots)
	if len(starts) == 1 {
		return dirLayout{nblocks: max(1, minBlocks)}, nil
	}
	leaves := len(packLeaves(ents, room, 0))
	rootLimit, nodeLimit := w.dxLimits()
	if leaves <= rootLimit {
		return dirLayout{nblocks: 1 + leaves, indexed: true}, nil
	}
	nodes := (leaves + nodeLimit - 1) / nodeLimit
	if nodes > rootLimit {
		return dirLayout{}, fmt.Errorf("indexing directory of %d entries: needs more than two htree levels: %w", len(ents), ErrInvalid)
	}
	return dirLayout{nblocks: 1 + nodes + leaves, indexed: true}, nil
}

// dxLimits returns the entry limits of the dx root and of an interior node.
func (w *Writer) dxLimits() (int, int) {
	root := (blockSize - 0x20) / 8
	node := (blockSize - 8) / 8
	if w.csum.enabled {
		return root - 1, node - 1
	}
	return root, node
}

// encodeLeaf writes entries into one leaf block, the last one's rec_len
// stretched to the end of the usable room.
func (w *Writer) encodeLeaf(ino uint32, ents []dirent) []byte {
	blk := make([]byte, blockSize)
	room := w.leafRoom()
	off := 0
	for i, e := range ents {
		sz := direntSize(len(e.name))
		if i == len(ents)-1 {
			sz = room - off
		}
		binary.LittleEndian.PutUint32(blk[off:], e.ino)
		binary.LittleEndian.PutUint16(blk[off+4:], uint16(sz))
		blk[off+6] = uint8(len(e.name))
		blk[off+7] = e.ftype
		copy(blk[off+8:], e.name)
		off += sz
	}
	if len(ents) == 0 {
		binary.LittleEndian.PutUint16(blk[4:], uint16(room))
	}
	w.csum.dirLeaf(ino, blk)
	return blk
}

// encodeDir returns the blocks of a directory in logical order.
func (w *Writer) encodeDir(self, parent uint32, ents []dirent, lay dirLayout) [][]byte {
	dots := []dirent{{".", self, ftDir, 0}, {"..", parent, ftDir, 0}}
	if !lay.indexed {
		out := [][]byte{w.encodeLeaf(self, append(dots, ents...))}
		for len(out) < lay.nblocks {
			out = append(out, w.encodeLeaf(self, nil))
		}
		return out
	}
	return w.encodeHtree(self, parent, ents)
}

// sortByHash orders entries by hash, then name, filling in the hashes.
func (w *Writer) sortByHash(ents []dirent) {
	h := newDirHasher(w.hashSeed)
	for i := range ents {
		ents[i].hash = h.hash(ents[i].name)
	}
	sort.Slice(ents, func(i, j int) bool {
		if ents[i].hash != ents[j].hash {
			return ents[i].hash < ents[j].hash
		}
		return ents[i].name < ents[j].name
	})
}
