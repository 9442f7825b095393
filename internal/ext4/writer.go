// Package ext4 writes ext4 filesystem images from a stream of tar-style
// entries, without root, mounting or mkfs.
//
// File data streams straight to its final blocks as Put reads it; metadata
// (directories, inode tables, bitmaps, the journal, group descriptors and
// superblocks) is laid out after the data when Close is called, so memory
// grows with the number of entries, not with their size. Entries may replace
// or remove earlier ones; freed data is returned to the allocator and
// hole-punched in the output.
//
// The image has 4 KiB blocks, 256-byte inodes, a real internal journal
// (inode 8), extents, 64bit, flex_bg, sparse_super, dir_index (half_md4,
// signed hash flag), dir_nlink, huge_file, large_file, extra_isize and, unless
// Options.NoChecksums, metadata_csum. It passes e2fsck -fn without remarks
// and mounts read-write.
//
// What the writer leaves out: resize_inode (no reserved GDT blocks; offline
// resize2fs still grows the image), uninit_bg (with metadata_csum the
// BLOCK_UNINIT/INODE_UNINIT flags are set exactly where e2fsprogs would set
// them, but every bitmap is written), inline_data, bigalloc, quota, encryption, casefold, large_dir (so a
// directory is limited to two htree levels, tens of millions of entries),
// ea_inode (all xattrs of one inode must fit in 92 in-inode bytes or one
// 4 KiB block), shared xattr blocks, xattrs outside Linux's namespaces
// (dropped, as tar does on Linux), reserved blocks for root (0%), project
// ids, creation times other than the change time, and sparse_super2.
// Timestamps are clamped to 1901-12-13..2310-04-04 (later epoch-3 values
// look like corrupted pre-1970 times to e2fsck). /lost+found (inode 11)
// always exists and must stay a directory. Unused inodes, the journal body
// and all-zero data blocks are left as holes in the output file.
//
// Layout: block 0 holds the superblock, then the GDT with room for the
// largest group count the size limits allow; file data follows, allocated
// as Put streams it (freed runs are reused first) and skipping the
// superblock/GDT backups of sparse_super groups; at Close the journal, the
// (flex_bg) bitmaps and inode tables, directories, slow symlinks, xattr and
// extent-tree blocks are placed after the data.
package ext4

import (
	"archive/tar"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"time"
)

// Options configures a Writer. The zero value is usable.
type Options struct {
	// Size is the image size in bytes, rounded down to a whole block. 0 picks
	// the content size × 1.25 (whole 128 MiB groups, at least 1 GiB).
	Size int64
	// MaxSize limits the data written, in bytes (default 64 GiB). Going past
	// it fails with ErrTooLarge.
	MaxSize int64
	// UUID is the filesystem UUID. When zero it is derived from Seed and
	// Label (deterministically), or drawn at random if RandomUUID is set.
	UUID       [16]byte
	Seed       string
	RandomUUID bool
	// Label is the volume name, at most 16 bytes.
	Label string
	// NoChecksums turns off metadata_csum (on by default).
	NoChecksums bool
	// Time stamps the superblock and the parent directories the writer
	// creates itself. Zero means the Unix epoch.
	Time time.Time
	// InodeRatio is bytes per inode (default 16384). The inode count is
	// never below entries × 1.5 + 4096.
	InodeRatio int64
	// JournalBlocks is the journal size in 4 KiB blocks; 0 follows mke2fs.
	JournalBlocks int64
}

// Stats describes the image so far; ImageSize and Inodes are final after Close.
type Stats struct {
	Files     int64 // non-directory inodes
	Dirs      int64 // directories, including the root and lost+found
	DataBytes int64 // apparent size of regular files
	ImageSize int64 // bytes; 0 until Close
	Inodes    int64 // inode count of the filesystem; 0 until Close
}

const (
	defaultMaxSize    = 64 << 30
	defaultInodeRatio = 16384
	minAutoSize       = 1 << 30
	ioBufSize         = 1 << 20
	minExplicitSize   = 8 << 20 // superblock, GDT, 1024 journal blocks and tables
)

// Writer builds one ext4 image. It is not safe for concurrent use.
type Writer struct {
	f          *os.File
	opts       Options
	uuid       [16]byte
	hashSeed   [16]byte
	csum       checksummer
	root       *node
	alloc      *allocator
	gdtReserve uint64 // GDT blocks reserved after each superblock
	sizeLimit  uint64 // blocks; 0 when auto
	maxData    uint64 // blocks
	dataBlocks uint64 // live data blocks
	buf        []byte
	pending    []byte // queued data writes (queueWrite)
	pendStart  uint64
	ioErr      error // a write error found while freeing, reported by Close
	stats      Stats
	noPunch    bool
	behind     syncBehind
	closed     bool
}

// New starts an image in f, which it truncates. The caller keeps ownership
// of f (Close does not close or sync it).
func New(f *os.File, opts Options) (*Writer, error) {
	if len(opts.Label) > 16 {
		return nil, fmt.Errorf("checking label %q: longer than 16 bytes: %w", opts.Label, ErrInvalid)
	}
	if opts.Size < 0 || opts.MaxSize < 0 || opts.InodeRatio < 0 || opts.JournalBlocks < 0 {
		return nil, fmt.Errorf("checking options: negative size: %w", ErrInvalid)
	}
	if opts.MaxSize == 0 {
		opts.MaxSize = defaultMaxSize
	}
	if opts.InodeRatio == 0 {
		opts.InodeRatio = defaultInodeRatio
	}
	if opts.InodeRatio < blockSize {
		opts.InodeRatio = blockSize
	}
	w := &Writer{f: f, opts: opts, buf: make([]byte, ioBufSize), pending: make([]byte, 0, ioBufSize)}
	w.behind.sync = func() error { return fdatasync(f) }
	if err := w.pickIDs(); err != nil {
		return nil, err
	}
	w.csum = newChecksummer(!opts.NoChecksums, w.uuid)
	maxGroups := divRoundUp(uint64(opts.MaxSize)*2+minAutoSize, blocksPerGroup*blockSize)
	if opts.Size > 0 {
		if opts.Size < minExplicitSize {
			return nil, fmt.Errorf("checking size %d: an image needs at least %d bytes: %w", opts.Size, minExplicitSize, ErrTooSmall)
		}
		w.sizeLimit = uint64(opts.Size) / blockSize
		maxGroups = divRoundUp(w.sizeLimit, blocksPerGroup)
	}
	w.maxData = uint64(opts.MaxSize) / blockSize
	w.gdtReserve = divRoundUp(maxGroups, descsPerBlock)
	w.alloc = newAllocator(1 + w.gdtReserve)
	if err := f.Truncate(0); err != nil {
		return nil, fmt.Errorf("truncating image file: %w", err)
	}
	ts := toTimestamp(opts.Time)
	w.root = &node{mode: sIFDIR | 0o755, atime: ts, ctime: ts, mtime: ts, children: map[string]*node{}, links: 1, fixedIno: rootIno}
	lf := &node{mode: sIFDIR | 0o700, atime: ts, ctime: ts, mtime: ts, children: map[string]*node{}, links: 1, fixedIno: lostFoundIno}
	w.root.children[lostFound] = lf
	w.stats.Dirs = 2
	return w, nil
}

// pickIDs settles the UUID and the htree hash seed.
func (w *Writer) pickIDs() error {
	w.uuid = w.opts.UUID
	if w.uuid == [16]byte{} {
		if w.opts.RandomUUID {
			if _, err := rand.Read(w.uuid[:]); err != nil {
				return fmt.Errorf("drawing a random UUID: %w", err)
			}
		} else {
			sum := sha256.Sum256([]byte("banger-ext4-uuid\x00" + w.opts.Seed + "\x00" + w.opts.Label))
			copy(w.uuid[:], sum[:16])
		}
		w.uuid[6] = w.uuid[6]&0x0f | 0x40 // version 4 layout
		w.uuid[8] = w.uuid[8]&0x3f | 0x80 // RFC 4122 variant
	}
	sum := sha256.Sum256(append([]byte("banger-ext4-hash-seed\x00"), w.uuid[:]...))
	copy(w.hashSeed[:], sum[:16])
	return nil
}

// Stats reports counts so far.
func (w *Writer) Stats() Stats { return w.stats }

// Put creates name, or replaces what is there (a later entry wins). For
// TypeReg it reads exactly hdr.Size bytes from content. TypeLink makes
// hdr.Name another name for the object now at hdr.Linkname. When both old
// and new are directories, only the metadata changes and the children stay.
// Missing parent directories are created (0755, root:root) and updated if
// declared later.
func (w *Writer) Put(hdr *tar.Header, content io.Reader) error {
	if w.closed {
		return fmt.Errorf("putting %q: writer closed: %w", hdr.Name, ErrInvalid)
	}
	comps, err := splitClean(hdr.Name)
	if err != nil {
		return err
	}
	if hdr.Typeflag == tar.TypeLink {
		return w.putLink(comps, hdr)
	}
	n, err := nodeFromHeader(hdr)
	if err != nil {
		return err
	}
	if len(comps) == 0 {
		if !n.isDir() {
			return fmt.Errorf("putting %q: the root must be a directory: %w", hdr.Name, ErrInvalid)
		}
		w.root.updateMeta(n)
		return nil
	}
	parent, err := w.parentDir(comps, true)
	if err != nil {
		return fmt.Errorf("putting %q: %w", hdr.Name, err)
	}
	base := comps[len(comps)-1]
	if err := w.checkLostFound(parent, base, n); err != nil {
		return err
	}
	old := parent.children[base]
	if n.isDir() && old != nil && old.isDir() {
		old.updateMeta(n)
		return nil
	}
	if uint32(n.mode)&sIFMT == sIFREG && hdr.Size > 0 {
		if err := w.writeData(n, content, hdr.Size); err != nil {
			return fmt.Errorf("writing %q: %w", hdr.Name, err)
		}
	}
	n.links = 1
	w.count(n, 1)
	parent.children[base] = n
	if old != nil {
		w.unref(old)
	}
	return nil
}

// putLink adds a hardlink.
func (w *Writer) putLink(comps []string, hdr *tar.Header) error {
	if len(comps) == 0 {
		return fmt.Errorf("linking %q: the root cannot be a hardlink: %w", hdr.Name, ErrInvalid)
	}
	tcomps, err := splitClean(hdr.Linkname)
	if err != nil {
		return fmt.Errorf("linking %q: %w", hdr.Name, err)
	}
	target, err := w.lookup(tcomps)
	if err != nil {
		return fmt.Errorf("linking %q to %q: %w", hdr.Name, hdr.Linkname, err)
	}
	if target.isDir() {
		return fmt.Errorf("linking %q to directory %q: %w", hdr.Name, hdr.Linkname, ErrInvalid)
	}
	parent, err := w.parentDir(comps, true)
	if err != nil {
		return fmt.Errorf("linking %q: %w", hdr.Name, err)
	}
	base := comps[len(comps)-1]
	if err := w.checkLostFound(parent, base, target); err != nil {
		return err
	}
	old := parent.children[base]
	if old == target {
		return nil
	}
	if target.links >= maxLinks {
		return fmt.Errorf("linking %q: %q already has %d links: %w", hdr.Name, hdr.Linkname, maxLinks, ErrInvalid)
	}
	target.links++
	parent.children[base] = target
	if old != nil {
		w.unref(old)
	}
	return nil
}

// Remove deletes name and everything under it. A missing name is not an
// error. Removing the root, or /lost+found, empties it (lost+found stays).
func (w *Writer) Remove(name string) error {
	if w.closed {
		return fmt.Errorf("removing %q: writer closed: %w", name, ErrInvalid)
	}
	comps, err := splitClean(name)
	if err != nil {
		return err
	}
	if len(comps) == 0 {
		w.emptyDir(w.root)
		return nil
	}
	parent, err := w.parentDir(comps, false)
	if err != nil {
		return nil //nolint:nilerr // a missing or non-directory parent means name is absent
	}
	base := comps[len(comps)-1]
	if old, ok := parent.children[base]; ok && parent == w.root && base == lostFound {
		w.emptyDir(old)
	} else if ok {
		delete(parent.children, base)
		w.unref(old)
	}
	return nil
}

// ReadDir lists the names (base names, sorted) of the children of directory
// name, following symlinks.
func (w *Writer) ReadDir(name string) ([]string, error) {
	comps, err := splitClean(name)
	if err != nil {
		return nil, err
	}
	wk := walker{root: w.root}
	d, err := wk.dir(comps)
	if err != nil {
		return nil, fmt.Errorf("reading directory %q: %w", name, err)
	}
	return d.sortedNames(), nil
}

// lostFound is the directory e2fsck reconnects orphans into; it must stay
// a directory at the root.
const lostFound = "lost+found"

// checkLostFound refuses to make /lost+found anything but a directory.
func (w *Writer) checkLostFound(parent *node, base string, n *node) error {
	if parent == w.root && base == lostFound && !n.isDir() {
		return fmt.Errorf("putting /%s: it must stay a directory: %w", lostFound, ErrInvalid)
	}
	return nil
}

// emptyDir removes every child of d except a root lost+found.
func (w *Writer) emptyDir(d *node) {
	for _, k := range d.sortedNames() {
		if d == w.root && k == lostFound {
			w.emptyDir(d.children[k])
			continue
		}
		w.unref(d.children[k])
		delete(d.children, k)
	}
}

// parentDir resolves the directory holding the last component of comps.
func (w *Writer) parentDir(comps []string, create bool) (*node, error) {
	wk := walker{root: w.root}
	if create {
		ts := toTimestamp(w.opts.Time)
		wk.create = func() *node {
			w.stats.Dirs++
			return &node{mode: sIFDIR | 0o755, atime: ts, ctime: ts, mtime: ts, children: map[string]*node{}}
		}
	}
	return wk.dir(comps[:len(comps)-1])
}

// lookup finds the object named by comps without following its last component.
func (w *Writer) lookup(comps []string) (*node, error) {
	if len(comps) == 0 {
		return w.root, nil
	}
	parent, err := w.parentDir(comps, false)
	if err != nil {
		return nil, err
	}
	n, ok := parent.children[comps[len(comps)-1]]
	if !ok {
		return nil, fmt.Errorf("resolving %q: %w", comps[len(comps)-1], errNotExist)
	}
	return n, nil
}

// count adjusts the statistics for n appearing (d=1) or going (d=-1).
func (w *Writer) count(n *node, d int64) {
	if n.isDir() {
		w.stats.Dirs += d
		return
	}
	w.stats.Files += d
	if uint32(n.mode)&sIFMT == sIFREG {
		w.stats.DataBytes += d * int64(n.size)
	}
}

// unref drops one directory entry naming n, freeing n (and its subtree)
// when none is left.
func (w *Writer) unref(n *node) {
	n.links--
	if n.links > 0 {
		return
	}
	for _, k := range n.sortedNames() {
		w.unref(n.children[k])
	}
	n.children = nil
	w.freeData(n)
	w.count(n, -1)
}
