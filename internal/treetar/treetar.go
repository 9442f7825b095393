// Package treetar writes a directory tree as a PAX tar stream, keeping what
// an ext4 image needs: numeric owners, all mode bits, nanosecond times,
// xattrs (as SCHILY.xattr.*), hardlinks, symlinks, devices and fifos.
// banger-init runs it inside a build's guest (`banger-init export-tar /`)
// so the host can rewrite the guest's final tree into a fresh image.
package treetar

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// Write walks root without crossing onto other filesystems (the contents
// of mounts below root are left out; their mount points are written as
// directories) and writes it to w as a tar stream whose names are relative
// to root ("./" is root itself). Sockets are skipped; sparse files are
// written dense. A file that vanishes during the walk is skipped.
func Write(ctx context.Context, w io.Writer, root string) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	tw := tar.NewWriter(bw)
	var st unix.Stat_t
	if err := unix.Stat(root, &st); err != nil { // root may be a /proc/self/fd link
		return fmt.Errorf("reading %s: %w", root, err)
	}
	wk := &walker{ctx: ctx, tw: tw, root: root, dev: st.Dev, links: map[[2]uint64]string{}, buf: make([]byte, 1<<20)}
	if err := wk.dir(".", &st); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("finishing the tar stream: %w", err)
	}
	return bw.Flush()
}

// walker is the state of one Write.
type walker struct {
	ctx   context.Context
	tw    *tar.Writer
	root  string
	dev   uint64
	links map[[2]uint64]string // dev+ino → first name of a multiply-linked file
	buf   []byte
}

func (wk *walker) full(name string) string { return path.Join(wk.root, name) }

// dir writes the directory name and, if it is on the root's filesystem,
// everything below it.
func (wk *walker) dir(name string, st *unix.Stat_t) error {
	if err := wk.ctx.Err(); err != nil {
		return err
	}
	hdr, err := wk.header(name, st)
	if err != nil {
		return err
	}
	if err := wk.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if st.Dev != wk.dev {
		return nil
	}
	names, err := readDirNames(wk.full(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := wk.entry(path.Join(name, n)); err != nil {
			return err
		}
	}
	return nil
}

// readDirNames lists dir, sorted.
func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("reading directory %s: %w", dir, err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("reading directory %s: %w", dir, err)
	}
	slices.Sort(names)
	return names, nil
}

// entry writes one name below root.
func (wk *walker) entry(name string) error {
	var st unix.Stat_t
	if err := unix.Lstat(wk.full(name), &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("reading %s: %w", name, err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return wk.dir(name, &st)
	case unix.S_IFSOCK:
		return nil
	}
	if st.Nlink > 1 {
		key := [2]uint64{st.Dev, st.Ino}
		if first, ok := wk.links[key]; ok {
			hdr := &tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: first, Format: tar.FormatPAX}
			return wk.writeHeader(hdr)
		}
		wk.links[key] = name
	}
	hdr, err := wk.header(name, &st)
	if err != nil {
		return err
	}
	if hdr.Typeflag != tar.TypeReg {
		return wk.writeHeader(hdr)
	}
	return wk.file(hdr)
}

func (wk *walker) writeHeader(hdr *tar.Header) error {
	if err := wk.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("writing %s: %w", hdr.Name, err)
	}
	return nil
}

// file writes a regular file's header and exactly hdr.Size bytes: a file
// that shrank while being read is padded with zeros, one that grew is cut.
func (wk *walker) file(hdr *tar.Header) error {
	f, err := os.Open(wk.full(hdr.Name))
	if err != nil {
		return fmt.Errorf("opening %s: %w", hdr.Name, err)
	}
	defer f.Close()
	if err := wk.writeHeader(hdr); err != nil {
		return err
	}
	n, err := io.CopyBuffer(wk.tw, io.LimitReader(f, hdr.Size), wk.buf)
	if err != nil {
		return fmt.Errorf("reading %s: %w", hdr.Name, err)
	}
	for n < hdr.Size {
		clear(wk.buf)
		m, err := wk.tw.Write(wk.buf[:min(int64(len(wk.buf)), hdr.Size-n)])
		if err != nil {
			return fmt.Errorf("writing %s: %w", hdr.Name, err)
		}
		n += int64(m)
	}
	return nil
}

// header describes name from st, with its xattrs.
func (wk *walker) header(name string, st *unix.Stat_t) (*tar.Header, error) {
	hdr := &tar.Header{
		Name: name, Mode: int64(st.Mode & 0o7777), Uid: int(st.Uid), Gid: int(st.Gid),
		ModTime:    time.Unix(st.Mtim.Unix()),
		AccessTime: time.Unix(st.Atim.Unix()),
		ChangeTime: time.Unix(st.Ctim.Unix()),
		Format:     tar.FormatPAX,
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		hdr.Typeflag = tar.TypeDir
		if name == "." {
			hdr.Name = "./"
		}
	case unix.S_IFREG:
		hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
	case unix.S_IFLNK:
		target, err := os.Readlink(wk.full(name))
		if err != nil {
			return nil, fmt.Errorf("reading symlink %s: %w", name, err)
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	default:
		return nil, fmt.Errorf("reading %s: unsupported file type %#o", name, st.Mode&unix.S_IFMT)
	}
	if st.Dev != wk.dev {
		return hdr, nil // a mount point: its own xattrs belong to the other filesystem
	}
	xattrs, err := readXattrs(wk.full(name))
	if err != nil {
		return nil, fmt.Errorf("reading xattrs of %s: %w", name, err)
	}
	for k, v := range xattrs {
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords["SCHILY.xattr."+k] = v
	}
	return hdr, nil
}

// readXattrs reads every extended attribute of p (not following a symlink).
// A filesystem without xattr support has none.
func readXattrs(p string) (map[string]string, error) {
	size, err := unix.Llistxattr(p, nil)
	if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.ENOENT) || size == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	list := make([]byte, size)
	if size, err = unix.Llistxattr(p, list); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, name := range splitNames(list[:size]) {
		v, err := lgetxattr(p, name)
		if errors.Is(err, unix.ENODATA) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[name] = v
	}
	return out, nil
}

// lgetxattr reads one attribute value, growing the buffer if needed.
func lgetxattr(p, name string) (string, error) {
	size, err := unix.Lgetxattr(p, name, nil)
	if err != nil {
		return "", err
	}
	buf := make([]byte, size+64)
	n, err := unix.Lgetxattr(p, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// splitNames splits a NUL-separated xattr name list.
func splitNames(list []byte) []string {
	var names []string
	start := 0
	for i, c := range list {
		if c == 0 {
			if i > start {
				names = append(names, string(list[start:i]))
			}
			start = i + 1
		}
	}
	return names
}

// Main is `banger-init export-tar ROOT`: it writes ROOT to stdout and
// returns the process's exit status, having explained any failure on
// stderr.
func Main(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: banger-init export-tar ROOT")
		return 2
	}
	root, err := detachedRoot(args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "banger-init export-tar: %v\n", err)
		return 1
	}
	if err := Write(context.Background(), os.Stdout, root); err != nil {
		fmt.Fprintf(os.Stderr, "banger-init export-tar: %v\n", err)
		return 1
	}
	return 0
}

// detachedRoot returns a path that shows root's filesystem without the
// mounts on top of it: a detached, non-recursive clone of the mount
// (open_tree), so the directories under /proc, /dev or /run read as they
// are on disk. Without open_tree (kernels before 5.2, no privilege) it
// returns root itself, and Write stops at mount points instead.
func detachedRoot(root string) (string, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, root, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return root, nil
	}
	return "/proc/self/fd/" + strconv.Itoa(fd), nil
}
