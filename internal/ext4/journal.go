package ext4

import "encoding/binary"

// defaultJournalBlocks follows mke2fs's table for 4 KiB blocks (EXT4-NOTES §2).
func defaultJournalBlocks(fsBlocks uint64) uint64 {
	switch {
	case fsBlocks < 32768:
		return 1024
	case fsBlocks < 256*1024:
		return 4096
	case fsBlocks < 512*1024:
		return 8192
	case fsBlocks < 4096*1024:
		return 16384
	case fsBlocks < 8192*1024:
		return 32768
	case fsBlocks < 16384*1024:
		return 65536
	case fsBlocks < 32768*1024:
		return 131072
	}
	return 262144
}

const (
	jbd2Magic        = 0xC03B3998
	jbd2SuperblockV2 = 4
)

// encodeJournalSuperblock builds the big-endian jbd2 superblock of an empty,
// clean journal of maxlen blocks.
func encodeJournalSuperblock(maxlen uint64, uuid [16]byte) []byte {
	b := make([]byte, blockSize)
	be := binary.BigEndian
	be.PutUint32(b[0x0:], jbd2Magic)
	be.PutUint32(b[0x4:], jbd2SuperblockV2)
	be.PutUint32(b[0xC:], blockSize)
	be.PutUint32(b[0x10:], uint32(maxlen))
	be.PutUint32(b[0x14:], 1) // s_first
	be.PutUint32(b[0x18:], 1) // s_sequence
	copy(b[0x30:], uuid[:])
	be.PutUint32(b[0x40:], 1) // s_nr_users
	return b
}
