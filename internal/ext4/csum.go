package ext4

import (
	"encoding/binary"
	"hash/crc32"
)

// castagnoli is the CRC32C table used by every ext4 metadata checksum.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crc32c is ext4's raw crc32c: no pre- or post-inversion (EXT4-NOTES §7).
func crc32c(seed uint32, p []byte) uint32 {
	return ^crc32.Update(^seed, castagnoli, p)
}

func crc32cU32(seed uint32, v uint32) uint32 {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	return crc32c(seed, b[:])
}

// checksummer holds the per-filesystem checksum seed; a nil or disabled
// checksummer makes every method a no-op so callers need not branch.
type checksummer struct {
	enabled bool
	seed    uint32 // S = raw(~0, uuid)
}

func newChecksummer(enabled bool, uuid [16]byte) checksummer {
	return checksummer{enabled: enabled, seed: crc32c(^uint32(0), uuid[:])}
}

// inodeSeed returns I = raw(raw(S, le32 ino), le32 generation) with generation 0.
func (c checksummer) inodeSeed(ino uint32) uint32 {
	return crc32cU32(crc32cU32(c.seed, ino), 0)
}

// inode fills the checksum fields of a 256-byte inode.
func (c checksummer) inode(ino uint32, b []byte) {
	if !c.enabled {
		return
	}
	binary.LittleEndian.PutUint16(b[0x7C:], 0)
	binary.LittleEndian.PutUint16(b[0x82:], 0)
	sum := crc32c(c.inodeSeed(ino), b[:inodeSize])
	binary.LittleEndian.PutUint16(b[0x7C:], uint16(sum))
	binary.LittleEndian.PutUint16(b[0x82:], uint16(sum>>16))
}

// groupDesc fills bg_checksum of a 64-byte group descriptor.
func (c checksummer) groupDesc(group uint32, d []byte) {
	if !c.enabled {
		return
	}
	binary.LittleEndian.PutUint16(d[0x1E:], 0)
	sum := crc32cU32(c.seed, group)
	sum = crc32c(sum, d[:descSize])
	binary.LittleEndian.PutUint16(d[0x1E:], uint16(sum))
}

// dirLeaf fills the checksum tail of a directory leaf block.
func (c checksummer) dirLeaf(ino uint32, blk []byte) {
	if !c.enabled {
		return
	}
	t := blockSize - dirTailSize
	binary.LittleEndian.PutUint32(blk[t:], 0)
	binary.LittleEndian.PutUint16(blk[t+4:], dirTailSize)
	blk[t+6] = 0
	blk[t+7] = 0xDE
	binary.LittleEndian.PutUint32(blk[t+8:], crc32c(c.inodeSeed(ino), blk[:t]))
}

// dxNode fills the dx_tail checksum of an htree root or interior node whose
// count/limit header sits at off.
func (c checksummer) dxNode(ino uint32, blk []byte, off int) {
	if !c.enabled {
		return
	}
	limit := int(binary.LittleEndian.Uint16(blk[off:]))
	count := int(binary.LittleEndian.Uint16(blk[off+2:]))
	tail := off + limit*8
	binary.LittleEndian.PutUint32(blk[tail:], 0)
	sum := crc32c(c.inodeSeed(ino), blk[:off+count*8])
	sum = crc32c(sum, blk[tail:tail+4])
	sum = crc32c(sum, []byte{0, 0, 0, 0})
	binary.LittleEndian.PutUint32(blk[tail+4:], sum)
}

// extentBlock fills the tail checksum of an extent tree block.
func (c checksummer) extentBlock(ino uint32, blk []byte) {
	if !c.enabled {
		return
	}
	end := extentHeaderSize + extentEntrySize*extentsPerBlock
	binary.LittleEndian.PutUint32(blk[end:], crc32c(c.inodeSeed(ino), blk[:end]))
}

// xattrBlock fills h_checksum of an xattr block stored at block number blk.
func (c checksummer) xattrBlock(blkNr uint64, blk []byte) {
	if !c.enabled {
		return
	}
	binary.LittleEndian.PutUint32(blk[0x10:], 0)
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], blkNr)
	sum := crc32c(crc32c(c.seed, n[:]), blk)
	binary.LittleEndian.PutUint32(blk[0x10:], sum)
}

// bitmap returns the checksum of a bitmap's first n bytes.
func (c checksummer) bitmap(p []byte) uint32 {
	if !c.enabled {
		return 0
	}
	return crc32c(c.seed, p)
}

// superblock fills s_checksum of a 1024-byte superblock.
func (c checksummer) superblock(sb []byte) {
	if !c.enabled {
		return
	}
	binary.LittleEndian.PutUint32(sb[0x3FC:], ^crc32.Checksum(sb[:0x3FC], castagnoli))
}
