package debianimage

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// miniTree makes a tiny Debian-shaped tree with a cross-layer hardlink,
// a symlink, an owned file and an xattr.
func miniTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"usr/bin", "usr/share/doc/aaa", "usr/share/doc/bbb", "etc", "var/lib/dpkg", "var/log/apt"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(root, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("usr/bin/tool", "#!/bin/sh\n")
	write("usr/share/doc/aaa/copyright", "aaa\n")
	write("etc/debian_version", "12.0\n")
	write("var/lib/dpkg/status", "Package: base\n")
	if err := os.Link(filepath.Join(root, "usr/bin/tool"), filepath.Join(root, "etc/tool-link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("usr/bin", filepath.Join(root, "bin")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(root, "etc/debian_version"), 1234, 5678); err != nil {
		t.Skipf("chown needs root: %v", err)
	}
	if err := unix.Lsetxattr(filepath.Join(root, "usr/bin/tool"), "user.test", []byte("v"), 0); err != nil {
		t.Logf("no user xattrs here (%v); not checking them", err)
	}
	return root
}

func layerEntries(t *testing.T, l v1.Layer) map[string]*tar.Header {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = h
	}
}

func TestBuildDebianShape(t *testing.T) {
	tree := miniTree(t)
	imgs, err := Build(Options{Tree: tree, Dir: t.TempDir()}, "a", "b")
	if err != nil {
		t.Fatal(err)
	}
	la, _ := imgs[0].Layers()
	lb, _ := imgs[1].Layers()
	if len(la) != 3 || len(lb) != 3 {
		t.Fatalf("layers: %d and %d, want 3 each", len(la), len(lb))
	}
	for i := range 2 {
		da, _ := la[i].Digest()
		db, _ := lb[i].Digest()
		if da != db {
			t.Errorf("base layer %d differs between variants: %s vs %s", i, da, db)
		}
	}
	usr, rest, delta := layerEntries(t, la[0]), layerEntries(t, la[1]), layerEntries(t, la[2])
	if h := usr["usr/bin/tool"]; h == nil || h.Typeflag != tar.TypeReg {
		t.Fatalf("usr layer lacks usr/bin/tool: %v", h)
	} else if _, ok := h.PAXRecords["SCHILY.xattr.user.test"]; !ok {
		t.Logf("usr/bin/tool carries no user.test xattr")
	}
	if h := rest["etc/tool-link"]; h == nil || h.Typeflag != tar.TypeLink || h.Linkname != "usr/bin/tool" {
		t.Errorf("etc/tool-link = %+v, want a hardlink to usr/bin/tool", h)
	}
	if h := rest["etc/debian_version"]; h == nil || h.Uid != 1234 || h.Gid != 5678 || h.Uname != "" {
		t.Errorf("etc/debian_version owner = %+v, want 1234:5678 numeric", h)
	}
	if h := rest["bin"]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != "usr/bin" {
		t.Errorf("bin = %+v, want a symlink to usr/bin", h)
	}
	for _, want := range []string{"usr/share/doc/.wh.aaa", "var/log/apt/.wh..wh..opq", "etc/debian_version", "usr/local/bin/bench-a-alias"} {
		if delta[want] == nil {
			t.Errorf("delta layer lacks %s", want)
		}
	}
	again, err := Build(Options{Tree: tree, Dir: t.TempDir()}, "a")
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := imgs[0].Digest()
	d2, _ := again[0].Digest()
	if d1 != d2 {
		t.Errorf("rebuilding changed the digest: %s then %s", d1, d2)
	}
}

func TestSyntheticImages(t *testing.T) {
	small, err := SmallFiles{Files: 1500, Size: 100, Dir: t.TempDir()}.Build()
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := small.Layers()
	ents := layerEntries(t, ls[0])
	if len(ents) != 1502 || ents["data/d0001/f001499.txt"].Size != 100 {
		t.Errorf("small image: %d entries, want 1500 files in 2 dirs", len(ents))
	}
	big, err := BigFiles{Files: 2, Size: 5 << 20, Dir: t.TempDir()}.Build()
	if err != nil {
		t.Fatal(err)
	}
	lb, _ := big.Layers()
	rc, _ := lb[0].Uncompressed()
	defer rc.Close()
	tr := tar.NewReader(rc)
	var sizes []int64
	var last []byte
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			last, _ = io.ReadAll(tr)
			sizes = append(sizes, int64(len(last)))
		}
	}
	if len(sizes) != 2 || sizes[0] != 5<<20 || sizes[1] != 5<<20 {
		t.Fatalf("big file sizes %v, want 2 × 5 MiB", sizes)
	}
	zeros := bytes.Count(last, []byte{0})
	if zeros != 2<<20 || last[0] == 0 || last[len(last)-1] == 0 {
		t.Errorf("sparse file: %d zero bytes, want 2 MiB of hole between 3 MiB of data", zeros)
	}
}
