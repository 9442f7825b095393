package ext4

import "encoding/binary"

// encodeSuperblock builds the 1024-byte primary superblock (group 0);
// writeGroups adjusts s_block_group_nr and the checksum for each backup.
func (w *Writer) encodeSuperblock(l *layout, freeBlocks, freeInodes uint64, infos []inodeInfo) []byte {
	sb := make([]byte, 1024)
	le := binary.LittleEndian
	le.PutUint32(sb[0x0:], uint32(l.ipg*l.groups))
	le.PutUint32(sb[0x4:], uint32(l.blocks))
	le.PutUint32(sb[0x150:], uint32(l.blocks>>32))
	le.PutUint32(sb[0xC:], uint32(freeBlocks))
	le.PutUint32(sb[0x158:], uint32(freeBlocks>>32))
	le.PutUint32(sb[0x10:], uint32(freeInodes))
	le.PutUint32(sb[0x14:], 0) // s_first_data_block
	le.PutUint32(sb[0x18:], 2) // log block size: 4 KiB
	le.PutUint32(sb[0x1C:], 2) // log cluster size
	le.PutUint32(sb[0x20:], blocksPerGroup)
	le.PutUint32(sb[0x24:], blocksPerGroup)
	le.PutUint32(sb[0x28:], uint32(l.ipg))
	ts := toTimestamp(w.opts.Time)
	putSBTime(sb, 0x30, 0x274, ts.sec)  // s_wtime
	putSBTime(sb, 0x40, 0x277, ts.sec)  // s_lastcheck
	putSBTime(sb, 0x108, 0x276, ts.sec) // s_mkfs_time
	le.PutUint16(sb[0x36:], 0xFFFF)     // s_max_mnt_count -1
	le.PutUint16(sb[0x38:], 0xEF53)
	le.PutUint16(sb[0x3A:], 1) // clean
	le.PutUint16(sb[0x3C:], 1) // errors: continue
	le.PutUint32(sb[0x4C:], 1) // dynamic revision
	le.PutUint32(sb[0x54:], firstIno)
	le.PutUint16(sb[0x58:], inodeSize)
	le.PutUint32(sb[0x5C:], compatHasJournal|compatExtAttr|compatDirIndex)
	le.PutUint32(sb[0x60:], incompatFiletype|incompatExtents|incompat64bit|incompatFlexBG)
	ro := uint32(roCompatSparseSuper | roCompatLargeFile | roCompatHugeFile | roCompatDirNlink | roCompatExtraIsize)
	if w.csum.enabled {
		ro |= roCompatMetadataCsum
	}
	le.PutUint32(sb[0x64:], ro)
	copy(sb[0x68:], w.uuid[:])
	copy(sb[0x78:0x88], w.opts.Label)
	le.PutUint32(sb[0xE0:], journalIno)
	copy(sb[0xEC:], w.hashSeed[:])
	sb[0xFC] = dxHashHalfMD4
	sb[0xFD] = 1 // s_jnl_backup_type: copy of the journal inode's blocks
	le.PutUint16(sb[0xFE:], descSize)
	le.PutUint32(sb[0x100:], 0x000C) // default mount options: user_xattr, acl
	jb := make([]byte, inodeSize)
	w.encodeInode(jb, journalIno, &infos[journalIno])
	copy(sb[0x10C:0x148], jb[0x28:0x64])
	le.PutUint32(sb[0x148:], le.Uint32(jb[0x6C:])) // i_size_high
	le.PutUint32(sb[0x14C:], le.Uint32(jb[0x4:]))  // i_size
	le.PutUint16(sb[0x15C:], extraIsize)
	le.PutUint16(sb[0x15E:], extraIsize)
	le.PutUint32(sb[0x160:], 0x1) // s_flags: signed directory hash
	sb[0x174] = logGroupsFlex
	if w.csum.enabled {
		sb[0x175] = 1 // crc32c
	}
	return sb
}

// putSBTime stores a superblock time: 32 low bits and an 8-bit high part.
func putSBTime(sb []byte, off, hi int, sec int64) {
	sec = max(sec, 0)
	binary.LittleEndian.PutUint32(sb[off:], uint32(sec))
	sb[hi] = uint8(sec >> 32)
}
