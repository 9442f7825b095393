package treetar

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestWriteReadBack tars a temporary tree and reads it back: types, mode
// bits (setuid included), owners, times, user xattrs and hardlinks.
func TestWriteReadBack(t *testing.T) {
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "bin"), 0o755))
	must(os.WriteFile(filepath.Join(root, "bin/tool"), []byte("tool\n"), 0o755))
	must(unix.Chmod(filepath.Join(root, "bin/tool"), 0o4755))
	must(os.Link(filepath.Join(root, "bin/tool"), filepath.Join(root, "bin/tool2")))
	must(os.Symlink("tool", filepath.Join(root, "bin/sh")))
	must(os.WriteFile(filepath.Join(root, "data"), []byte("hello"), 0o640))
	must(os.Chown(filepath.Join(root, "data"), 1000, 1001))
	mtime := time.Unix(1700000000, 123456789)
	must(os.Chtimes(filepath.Join(root, "data"), mtime, mtime))
	must(unix.Mkfifo(filepath.Join(root, "fifo"), 0o600))
	must(os.Mkdir(filepath.Join(root, "tmp"), 0o755))
	must(unix.Chmod(filepath.Join(root, "tmp"), 0o1777))
	must(unix.Mknod(filepath.Join(root, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	must(unix.Chmod(filepath.Join(root, "null"), 0o666))
	xattrs := true
	if err := unix.Lsetxattr(filepath.Join(root, "data"), "user.note", []byte("v1"), 0); errors.Is(err, unix.ENOTSUP) {
		xattrs = false
		t.Log("the temp filesystem has no user xattrs; not checking them")
	} else {
		must(err)
	}

	must(unix.Chmod(root, 0o700))
	var buf bytes.Buffer
	must(Write(context.Background(), &buf, root))
	got := map[string]*tar.Header{}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(err)
		got[h.Name] = h
	}
	check := func(name string, typ byte, mode int64) *tar.Header {
		t.Helper()
		h := got[name]
		if h == nil {
			t.Fatalf("%s missing from %v", name, got)
		}
		if h.Typeflag != typ || h.Mode != mode {
			t.Errorf("%s: type %q mode %#o, want %q %#o", name, h.Typeflag, h.Mode, typ, mode)
		}
		return h
	}
	check("./", tar.TypeDir, 0o700)
	check("bin", tar.TypeDir, 0o755)
	check("tmp", tar.TypeDir, 0o1777)
	check("bin/tool", tar.TypeReg, 0o4755)
	if h := got["bin/tool2"]; h == nil || h.Typeflag != tar.TypeLink || h.Linkname != "bin/tool" {
		t.Errorf("bin/tool2 = %+v, want a hardlink to bin/tool", h)
	}
	if h := check("bin/sh", tar.TypeSymlink, 0o777); h.Linkname != "tool" {
		t.Errorf("bin/sh → %q", h.Linkname)
	}
	h := check("data", tar.TypeReg, 0o640)
	if h.Uid != 1000 || h.Gid != 1001 || h.Size != 5 || !h.ModTime.Equal(mtime) {
		t.Errorf("data: %d:%d size %d mtime %v", h.Uid, h.Gid, h.Size, h.ModTime)
	}
	if xattrs && h.PAXRecords["SCHILY.xattr.user.note"] != "v1" {
		t.Errorf("data xattrs: %v", h.PAXRecords)
	}
	check("fifo", tar.TypeFifo, 0o600)
	if h := check("null", tar.TypeChar, 0o666); h.Devmajor != 1 || h.Devminor != 3 {
		t.Errorf("null: %d,%d", h.Devmajor, h.Devminor)
	}
}

// TestWriteStaysOnFilesystem checks the contents of a mount below the root
// are left out while the mount point itself is written.
func TestWriteStaysOnFilesystem(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	root := t.TempDir()
	mnt := filepath.Join(root, "run")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, ""); err != nil {
		t.Skipf("mounting a tmpfs: %v", err)
	}
	defer unix.Unmount(mnt, unix.MNT_DETACH)
	if err := os.WriteFile(filepath.Join(mnt, "hidden"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	detached, err := detachedRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{root, detached} {
		if names := tarNames(t, r); !names["run"] || names["run/hidden"] {
			t.Errorf("entries of %s: %v (want run without run/hidden)", r, names)
		}
	}
}

func tarNames(t *testing.T, root string) map[string]bool {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(context.Background(), &buf, root); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names[h.Name] = true
	}
	return names
}
