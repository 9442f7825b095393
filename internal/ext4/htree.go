package ext4

import "encoding/binary"

// dx hash version half_md4 (the signed/unsigned flavour comes from s_flags).
const dxHashHalfMD4 = 1

// encodeHtree builds an indexed directory: block 0 is the dx root, then
// interior nodes (when two levels are needed), then the leaves. ents must
// be sorted by hash (sortByHash). Each leaf's index hash is the hash of its
// first entry, with the low bit set when it continues a run of equal hashes
// from the previous leaf.
func (w *Writer) encodeHtree(self, parent uint32, ents []dirent) [][]byte {
	starts := packLeaves(ents, w.leafRoom(), 0)
	rootLimit, nodeLimit := w.dxLimits()
	levels := 0
	if len(starts) > rootLimit {
		levels = 1
	}
	nodes := 0
	if levels == 1 {
		nodes = (len(starts) + nodeLimit - 1) / nodeLimit
	}
	firstLeaf := 1 + nodes
	leafIdx := make([]dxEntry, len(starts))
	out := make([][]byte, 1+nodes, 1+nodes+len(starts))
	for i, s := range starts {
		end := len(ents)
		if i+1 < len(starts) {
			end = starts[i+1]
		}
		h := ents[s].hash
		if i > 0 && ents[s-1].hash == h {
			h |= 1
		}
		if i == 0 {
			h = 0
		}
		leafIdx[i] = dxEntry{h, uint32(firstLeaf + i)}
		out = append(out, w.encodeLeaf(self, ents[s:end]))
	}
	rootEntries := leafIdx
	if levels == 1 {
		rootEntries = nil
		for n := 0; n < nodes; n++ {
			part := leafIdx[n*nodeLimit : min((n+1)*nodeLimit, len(leafIdx))]
			out[1+n] = w.encodeDxNode(self, part, nodeLimit)
			rootEntries = append(rootEntries, dxEntry{part[0].hash, uint32(1 + n)})
		}
		rootEntries[0].hash = 0
	}
	out[0] = w.encodeDxRoot(self, parent, rootEntries, levels, rootLimit)
	return out
}

// dxEntry is one htree index entry.
type dxEntry struct {
	hash  uint32
	block uint32
}

// putDxEntries writes count/limit and the entries at off; the first
// entry's hash slot holds count/limit.
func putDxEntries(blk []byte, off int, ents []dxEntry, limit int) {
	binary.LittleEndian.PutUint16(blk[off:], uint16(limit))
	binary.LittleEndian.PutUint16(blk[off+2:], uint16(len(ents)))
	binary.LittleEndian.PutUint32(blk[off+4:], ents[0].block)
	for i := 1; i < len(ents); i++ {
		binary.LittleEndian.PutUint32(blk[off+i*8:], ents[i].hash)
		binary.LittleEndian.PutUint32(blk[off+i*8+4:], ents[i].block)
	}
}

func (w *Writer) encodeDxRoot(self, parent uint32, ents []dxEntry, levels, limit int) []byte {
	blk := make([]byte, blockSize)
	binary.LittleEndian.PutUint32(blk[0:], self)
	binary.LittleEndian.PutUint16(blk[4:], 12)
	blk[6], blk[7] = 1, ftDir
	blk[8] = '.'
	binary.LittleEndian.PutUint32(blk[12:], parent)
	binary.LittleEndian.PutUint16(blk[16:], blockSize-12)
	blk[18], blk[19] = 2, ftDir
	blk[20], blk[21] = '.', '.'
	// dx_root_info at 0x18: reserved, hash_version, info_length, levels, flags.
	blk[0x1C] = dxHashHalfMD4
	blk[0x1D] = 8
	blk[0x1E] = uint8(levels)
	putDxEntries(blk, 0x20, ents, limit)
	w.csum.dxNode(self, blk, 0x20)
	return blk
}

func (w *Writer) encodeDxNode(self uint32, ents []dxEntry, limit int) []byte {
	blk := make([]byte, blockSize)
	binary.LittleEndian.PutUint16(blk[4:], blockSize) // fake empty dirent spanning the block
	e0 := ents[0]
	ents = append([]dxEntry{{0, e0.block}}, ents[1:]...)
	putDxEntries(blk, 8, ents, limit)
	w.csum.dxNode(self, blk, 8)
	return blk
}
