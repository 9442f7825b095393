package debianimage

import (
	"archive/tar"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// inode identifies a file on the host, for hardlink detection.
type inode struct{ dev, ino uint64 }

// treeWriter turns a directory tree into tar entries. Its links map spans
// all the layers cut from one tree, so a hardlink may point into a lower
// layer, as in images built by docker.
type treeWriter struct {
	root  string
	links map[inode]string
}

// writeTree writes every entry of the tree (sorted, root excluded) for
// which include(rel) is true. Device nodes and sockets are left out, as in
// images built by docker.
func (t *treeWriter) writeTree(tw *tar.Writer, include func(rel string) bool) error {
	return filepath.WalkDir(t.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walking %s: %w", p, err)
		}
		rel, err := filepath.Rel(t.root, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !include(rel) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		return t.writeOne(tw, p, rel)
	})
}

func (t *treeWriter) writeOne(tw *tar.Writer, p, rel string) error {
	hdr, err := t.header(p, rel)
	if err != nil || hdr == nil {
		return err
	}
	if hdr.Typeflag != tar.TypeReg {
		return writeEntry(tw, hdr, nil)
	}
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("opening %s: %w", p, err)
	}
	defer f.Close()
	return writeEntry(tw, hdr, f)
}

// header builds the tar header of p from Lstat: numeric owner, mode,
// mtime (whole seconds), xattrs, and TypeLink for a second name of an
// inode already written. It returns nil for entries left out.
func (t *treeWriter) header(p, rel string) (*tar.Header, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	m := fi.Mode()
	if m&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeSocket|fs.ModeIrregular) != 0 {
		return nil, nil
	}
	var target string
	if m&fs.ModeSymlink != 0 {
		if target, err = os.Readlink(p); err != nil {
			return nil, fmt.Errorf("reading link %s: %w", p, err)
		}
	}
	hdr, err := tar.FileInfoHeader(fi, target)
	if err != nil {
		return nil, fmt.Errorf("describing %s: %w", p, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, fmt.Errorf("reading owner of %s: no stat data", p)
	}
	hdr.Name = rel
	if fi.IsDir() {
		hdr.Name += "/"
	}
	hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
	hdr.Uname, hdr.Gname = "", ""
	hdr.ModTime = fi.ModTime().Truncate(time.Second)
	hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
	hdr.Format = tar.FormatPAX
	if m.IsRegular() && st.Nlink > 1 {
		key := inode{uint64(st.Dev), st.Ino}
		if first, seen := t.links[key]; seen {
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
		} else {
			t.links[key] = rel
		}
	}
	if hdr.PAXRecords, err = xattrRecords(p); err != nil {
		return nil, err
	}
	return hdr, nil
}

// xattrRecords reads the extended attributes of p (not following a
// symlink) as PAX records, or nil when it has none.
func xattrRecords(p string) (map[string]string, error) {
	size, err := unix.Llistxattr(p, nil)
	if errors.Is(err, unix.ENOTSUP) || size == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing xattrs of %s: %w", p, err)
	}
	buf := make([]byte, size)
	if size, err = unix.Llistxattr(p, buf); err != nil {
		return nil, fmt.Errorf("listing xattrs of %s: %w", p, err)
	}
	recs := map[string]string{}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:size]), "\x00"), "\x00") {
		vsize, err := unix.Lgetxattr(p, name, nil)
		if err != nil {
			return nil, fmt.Errorf("reading xattr %s of %s: %w", name, p, err)
		}
		val := make([]byte, vsize)
		if vsize, err = unix.Lgetxattr(p, name, val); err != nil {
			return nil, fmt.Errorf("reading xattr %s of %s: %w", name, p, err)
		}
		recs["SCHILY.xattr."+name] = string(val[:vsize])
	}
	return recs, nil
}
