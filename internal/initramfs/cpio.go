package initramfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
)

// File type bits of a cpio mode, as in stat(2).
const (
	typeDir     = 0o040000
	typeReg     = 0o100000
	typeSymlink = 0o120000
	typeChar    = 0o020000
)

// Entry describes one member of a newc cpio archive. Every entry is owned by
// root (uid 0, gid 0) and carries mtime 0, so archives are reproducible.
type Entry struct {
	Name      string // slash path relative to the archive root
	Mode      uint32 // permission bits plus one of the stat(2) type bits
	Size      int64  // content length for regular files
	Linkname  string // target of a symlink
	RdevMajor uint32 // device numbers of a character device
	RdevMinor uint32
}

// Dir returns a directory entry.
func Dir(name string, perm uint32) Entry { return Entry{Name: name, Mode: typeDir | perm} }

// Symlink returns a symbolic link entry pointing at target.
func Symlink(name, target string) Entry {
	return Entry{Name: name, Mode: typeSymlink | 0o777, Linkname: target}
}

// CharDev returns a character device entry.
func CharDev(name string, perm, major, minor uint32) Entry {
	return Entry{Name: name, Mode: typeChar | perm, RdevMajor: major, RdevMinor: minor}
}

// File returns a regular file entry of the given size.
func File(name string, perm uint32, size int64) Entry {
	return Entry{Name: name, Mode: typeReg | perm, Size: size}
}

// CPIOWriter writes a "newc" (SVR4, no checksum) cpio archive, the format the
// Linux kernel unpacks as an initramfs. It leaves out hard links, block
// devices, fifos, sockets and non-zero timestamps: an initramfs needs none.
type CPIOWriter struct {
	w      io.Writer
	ino    uint32
	closed bool
}

// NewCPIOWriter returns a writer emitting the archive to w.
func NewCPIOWriter(w io.Writer) *CPIOWriter { return &CPIOWriter{w: w} }

// WriteEntry writes e; for a regular file it copies exactly e.Size bytes from
// content.
func (c *CPIOWriter) WriteEntry(e Entry, content io.Reader) error {
	if c.closed {
		return errors.New("writing cpio entry: archive closed")
	}
	name := strings.TrimPrefix(path.Clean("/"+e.Name), "/")
	if name == "" || slices.Contains(strings.Split(e.Name, "/"), "..") {
		return fmt.Errorf("writing cpio entry %q: invalid name", e.Name)
	}
	var body io.Reader
	var size int64
	switch e.Mode &^ 0o7777 {
	case typeReg:
		if content == nil {
			content = bytes.NewReader(nil)
		}
		body, size = io.LimitReader(content, e.Size), e.Size
	case typeSymlink:
		body, size = strings.NewReader(e.Linkname), int64(len(e.Linkname))
	case typeDir, typeChar:
	default:
		return fmt.Errorf("writing cpio entry %q: unsupported mode %o", name, e.Mode)
	}
	c.ino++
	if err := c.writeHeader(name, e, c.ino, size); err != nil {
		return fmt.Errorf("writing cpio header %s: %w", name, err)
	}
	if body != nil {
		n, err := io.Copy(c.w, body)
		if err == nil && n != size {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return fmt.Errorf("writing cpio data %s: %w", name, err)
		}
	}
	return c.pad(size)
}

// Close writes the trailer entry. It does not close the underlying writer.
func (c *CPIOWriter) Close() error {
	if c.closed {
		return nil
	}
	if err := c.writeHeader("TRAILER!!!", Entry{}, 0, 0); err != nil {
		return fmt.Errorf("writing cpio trailer: %w", err)
	}
	c.closed = true
	return nil
}

func (c *CPIOWriter) writeHeader(name string, e Entry, ino uint32, size int64) error {
	nlink := 1
	if e.Mode&^0o7777 == typeDir {
		nlink = 2
	}
	hdr := fmt.Sprintf("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		ino, e.Mode, 0, 0, nlink, 0, size, 0, 0, e.RdevMajor, e.RdevMinor, len(name)+1, 0)
	if _, err := io.WriteString(c.w, hdr+name+"\x00"); err != nil {
		return err
	}
	return c.pad(int64(len(hdr) + len(name) + 1))
}

// pad writes the zero bytes that align the stream to four bytes after n bytes.
func (c *CPIOWriter) pad(n int64) error {
	if r := n % 4; r != 0 {
		if _, err := c.w.Write(make([]byte, 4-r)); err != nil {
			return fmt.Errorf("writing cpio padding: %w", err)
		}
	}
	return nil
}
