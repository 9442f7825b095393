package kernelcat

import (
	"archive/tar"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/banger-dev/banger/internal/testutil/kernelfixture"
)

// TestPullHostileArchives feeds archives that try to write outside the
// staging dir. Absolute targets point into a temp "outside" dir rather than
// the real /etc, since the tests run as root.
func TestPullHostileArchives(t *testing.T) {
	outside := t.TempDir()
	mods := "lib/modules/" + fakeRelease + "/"
	kernel := tarEntry{Name: "boot/vmlinuz-" + fakeRelease, Body: kernelfixture.BzImage(fakeRelease)}
	for name, tc := range map[string]struct {
		entries []tarEntry
		want    error // nil: any error will do (the os.Root backstop)
	}{
		"dotdot name":           {[]tarEntry{kernel, {Name: "../x", Body: []byte("x")}}, ErrUnsafePath},
		"dotdot inside modules": {[]tarEntry{kernel, {Name: mods + "../../../../x", Body: []byte("x")}}, ErrUnsafePath},
		"absolute name":         {[]tarEntry{kernel, {Name: outside + "/x", Body: []byte("x")}}, ErrUnsafePath},
		"symlink to absolute dir then write through it": {[]tarEntry{kernel,
			{Name: mods + "a", Type: tar.TypeSymlink, Link: outside},
			{Name: mods + "a/passwd", Body: []byte("root::0:0::/:/bin/sh\n")},
		}, ErrUnsafePath},
		"symlink climbing out":  {[]tarEntry{kernel, {Name: mods + "up", Type: tar.TypeSymlink, Link: "../../../.."}}, ErrUnsafePath},
		"hardlink climbing out": {[]tarEntry{kernel, {Name: mods + "h", Type: tar.TypeLink, Link: "../../etc/shadow"}}, ErrUnsafePath},
		"hardlink to absolute":  {[]tarEntry{kernel, {Name: mods + "h", Type: tar.TypeLink, Link: outside + "/f"}}, ErrUnsafePath},
		"hardlink to unpacked-nowhere file": {[]tarEntry{kernel,
			{Name: "usr/share/doc/f", Body: []byte("f")}, {Name: mods + "h", Type: tar.TypeLink, Link: "usr/share/doc/f"},
		}, ErrUnsafePath},
		"device node": {[]tarEntry{kernel, {Name: mods + "null", Type: tar.TypeChar}}, ErrUnsafePath},
		"fifo":        {[]tarEntry{kernel, {Name: mods + "p", Type: tar.TypeFifo}}, ErrUnsafePath},
		"kernel is a symlink": {[]tarEntry{
			{Name: "boot/vmlinuz-" + fakeRelease, Type: tar.TypeSymlink, Link: "../" + outside},
		}, ErrUnsafePath},
		// Each link passes the lexical check, but y resolves to the staging
		// dir's parent: only os.Root stops the write through it.
		"symlink chain caught by os.Root": {[]tarEntry{kernel,
			{Name: mods + "x", Type: tar.TypeSymlink, Link: "../.."},
			{Name: mods + "y", Type: tar.TypeSymlink, Link: "x/.."},
			{Name: mods + "y/evil", Body: []byte("evil")},
		}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			ks := newKernelServer(t)
			d := ks.add("hostile.tar.gz", gzipBytes(t, buildTar(t, tc.entries)))
			e := &Entry{Name: "h", Version: "1", Arch: "amd64", Bundle: &Bundle{
				Download: d, Kernel: "boot/vmlinuz-" + fakeRelease, Modules: strings.TrimSuffix(mods, "/"),
			}}
			parent, dir := stagingIn(t)
			_, err := Pull(context.Background(), e, dir, quickOpts())
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("Pull: %v, want %v", err, tc.want)
			}
			t.Log(err)
			assertEmptyDir(t, parent)
			assertEmptyDir(t, outside)
			if _, err := os.Stat(filepath.Join(filepath.Dir(parent), "x")); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("something was written next to the parent: %v", err)
			}
		})
	}
}

// TestImportDebHostile runs the same policy through the package importer:
// the usual build -> /usr/src/... symlink is dropped, any other symlink
// leaving the staging dir rejects the package.
func TestImportDebHostile(t *testing.T) {
	mods := "./lib/modules/" + fakeRelease + "/"
	headers := tarEntry{Name: mods + "build", Type: tar.TypeSymlink, Link: "/usr/src/linux-headers-" + fakeRelease}
	ok := filepath.Join(t.TempDir(), "ok.deb")
	if err := os.WriteFile(ok, buildDeb(t, buildTar(t, append(kernelTree("./", fakeRelease), headers))), 0o644); err != nil {
		t.Fatal(err)
	}
	_, dir := stagingIn(t)
	k, err := ImportDeb(context.Background(), dir, ok)
	if err != nil {
		t.Fatalf("ImportDeb with a build symlink: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, k.Modules, "build")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("build symlink was unpacked: %v", err)
	}

	evil := tarEntry{Name: mods + "kernel/etc", Type: tar.TypeSymlink, Link: "/etc"}
	bad := filepath.Join(t.TempDir(), "hostile.deb")
	if err := os.WriteFile(bad, buildDeb(t, buildTar(t, append(kernelTree("./", fakeRelease), evil))), 0o644); err != nil {
		t.Fatal(err)
	}
	parent, dir := stagingIn(t)
	if _, err := ImportDeb(context.Background(), dir, bad); !errors.Is(err, ErrUnsafePath) {
		t.Fatalf("ImportDeb with kernel/etc -> /etc: %v, want ErrUnsafePath", err)
	}
	assertEmptyDir(t, parent)
}
