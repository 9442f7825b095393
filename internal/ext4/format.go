package ext4

// On-disk constants for the one geometry this writer produces: 4 KiB blocks,
// 256-byte inodes, 64-byte group descriptors, 32768 blocks per group.
const (
	blockSize      = 4096
	blockShift     = 12
	blocksPerGroup = 32768
	inodeSize      = 256
	extraIsize     = 32
	descSize       = 64
	descsPerBlock  = blockSize / descSize
	inodesPerBlock = blockSize / inodeSize
	logGroupsFlex  = 4

	firstIno       = 11
	rootIno        = 2
	journalIno     = 8
	lostFoundIno   = 11
	maxLinks       = 65000
	maxNameLen     = 255
	maxSymlinkLen  = blockSize - 1
	fastSymlinkMax = 60 // targets shorter than this live in i_block

	extentMagic      = 0xF30A
	extentHeaderSize = 12
	extentEntrySize  = 12
	extentsPerBlock  = (blockSize - extentHeaderSize) / extentEntrySize // 340
	extentsInInode   = 4
	maxExtentLen     = 32768

	dirTailSize = 12

	xattrMagic = 0xEA020000
)

// Superblock feature bits.
const (
	compatHasJournal = 0x4
	compatExtAttr    = 0x8
	compatDirIndex   = 0x20

	incompatFiletype = 0x2
	incompatExtents  = 0x40
	incompat64bit    = 0x80
	incompatFlexBG   = 0x200

	roCompatSparseSuper  = 0x1
	roCompatLargeFile    = 0x2
	roCompatHugeFile     = 0x8
	roCompatDirNlink     = 0x20
	roCompatExtraIsize   = 0x40
	roCompatMetadataCsum = 0x400
)

// Inode flags and mode bits.
const (
	flagIndex   = 0x1000
	flagExtents = 0x80000

	sIFMT   = 0o170000
	sIFSOCK = 0o140000
	sIFLNK  = 0o120000
	sIFREG  = 0o100000
	sIFBLK  = 0o060000
	sIFDIR  = 0o040000
	sIFCHR  = 0o020000
	sIFIFO  = 0o010000
)

// Group descriptor flags.
const (
	bgInodeUninit      = 0x1
	bgBlockUninit      = 0x2
	bgInodeTableZeroed = 0x4
)

// Directory entry file types.
const (
	ftUnknown = 0
	ftReg     = 1
	ftDir     = 2
	ftChr     = 3
	ftBlk     = 4
	ftFifo    = 5
	ftSock    = 6
	ftSymlink = 7
)

// fileType maps a mode's type bits to the directory entry file type.
func fileType(mode uint16) uint8 {
	switch uint32(mode) & sIFMT {
	case sIFREG:
		return ftReg
	case sIFDIR:
		return ftDir
	case sIFCHR:
		return ftChr
	case sIFBLK:
		return ftBlk
	case sIFIFO:
		return ftFifo
	case sIFSOCK:
		return ftSock
	case sIFLNK:
		return ftSymlink
	}
	return ftUnknown
}

// hasBackup reports whether group g holds a backup superblock and GDT under
// sparse_super: groups 0, 1 and powers of 3, 5 and 7.
func hasBackup(g uint64) bool {
	if g <= 1 {
		return true
	}
	for _, b := range []uint64{3, 5, 7} {
		n := b
		for n < g {
			n *= b
		}
		if n == g {
			return true
		}
	}
	return false
}

func divRoundUp(a, b uint64) uint64 { return (a + b - 1) / b }
