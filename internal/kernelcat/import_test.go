package kernelcat

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/banger-dev/banger/internal/testutil/kernelfixture"
)

// writeTree lays the kernel tree out as files under dir, as an installed
// system has it.
func writeTree(t *testing.T, dir string, entries []tarEntry) {
	t.Helper()
	for _, e := range entries {
		p := filepath.Join(dir, filepath.FromSlash(e.Name))
		switch e.Type {
		case 0:
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, e.Body, 0o644); err != nil {
				t.Fatal(err)
			}
		default:
			os.MkdirAll(p, 0o755)
		}
	}
}

func TestImportFiles(t *testing.T) {
	src := t.TempDir()
	writeTree(t, src, kernelTree("", fakeRelease))
	modules := filepath.Join(src, "lib/modules", fakeRelease)
	os.Symlink("/usr/src/linux-headers-"+fakeRelease, filepath.Join(modules, "build"))
	os.WriteFile(filepath.Join(src, "initrd.img"), []byte("initrd"), 0o644)

	_, dir := stagingIn(t)
	k, err := ImportFiles(context.Background(), dir, ImportSpec{
		Kernel:  filepath.Join(src, "boot/vmlinuz-"+fakeRelease),
		Modules: modules + "/",
		Initrd:  filepath.Join(src, "initrd.img"),
		Config:  filepath.Join(src, "boot/config-"+fakeRelease),
	})
	if err != nil {
		t.Fatal(err)
	}
	if k.Name != fakeRelease || k.Release != fakeRelease || k.Initrd != "initrd" || k.Config != "config" || k.Modules != "modules/"+fakeRelease {
		t.Fatalf("kernel = %+v", k)
	}
	if _, err := os.Lstat(filepath.Join(dir, k.Modules, "build")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("symlink build was copied: %v", err)
	}
	r, err := Inspect(context.Background(), dir)
	if err != nil || !r.BootsUnderQEMUMicrovm {
		t.Fatalf("Inspect = %+v, %v", r, err)
	}
}

func TestImportFilesVersionFromFileName(t *testing.T) {
	src := t.TempDir()
	img := kernelfixture.BzImage("")
	img[0x20e], img[0x20f] = 0, 0 // no kernel_version pointer
	kernel := filepath.Join(src, "vmlinuz-6.6.7-custom")
	os.WriteFile(kernel, img, 0o644)
	_, dir := stagingIn(t)
	k, err := ImportFiles(context.Background(), dir, ImportSpec{Name: "mine", Kernel: kernel})
	if err != nil {
		t.Fatal(err)
	}
	if k.Name != "mine" || k.Release != "6.6.7-custom" || k.Modules != "" {
		t.Fatalf("kernel = %+v; want release from the file name and no modules", k)
	}
}

func TestImportFilesMismatchedModules(t *testing.T) {
	src := t.TempDir()
	writeTree(t, src, kernelTree("", fakeRelease))
	other := filepath.Join(src, "lib/modules/6.1.0-1-other")
	os.MkdirAll(other, 0o755)
	parent, dir := stagingIn(t)
	_, err := ImportFiles(context.Background(), dir, ImportSpec{Kernel: filepath.Join(src, "boot/vmlinuz-"+fakeRelease), Modules: other})
	if err == nil {
		t.Fatal("ImportFiles accepted modules of another release")
	}
	t.Log(err)
	assertEmptyDir(t, parent)
}

// TestImportDebBuiltByDpkg imports a package dpkg-deb itself built (zstd or
// xz data member, whichever this dpkg defaults to), from a tree the test makes.
func TestImportDebBuiltByDpkg(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb not found: install the Debian package dpkg")
	}
	for _, comp := range []string{"xz", "zstd", "gzip"} {
		t.Run(comp, func(t *testing.T) {
			tree := t.TempDir()
			writeTree(t, tree, kernelTree("", fakeRelease))
			os.MkdirAll(filepath.Join(tree, "DEBIAN"), 0o755)
			os.WriteFile(filepath.Join(tree, "DEBIAN/control"), []byte("Package: linux-image-test\nVersion: 1\nArchitecture: amd64\nMaintainer: t <t@example.org>\nDescription: test\n"), 0o644)
			deb := filepath.Join(t.TempDir(), "linux-image-test.deb")
			if out, err := exec.Command("dpkg-deb", "-Z"+comp, "--root-owner-group", "--build", tree, deb).CombinedOutput(); err != nil {
				t.Skipf("dpkg-deb -Z%s cannot build here: %v: %s", comp, err, out)
			}
			_, dir := stagingIn(t)
			k, err := ImportDeb(context.Background(), dir, deb)
			if err != nil {
				t.Fatal(err)
			}
			if k.Release != fakeRelease || k.Config != "config" {
				t.Fatalf("kernel = %+v", k)
			}
			r, err := Inspect(context.Background(), dir)
			if err != nil {
				t.Fatal(err)
			}
			checkLoadOrder(t, r.ModulesNeeded)
		})
	}
}

func TestImportPackageXbps(t *testing.T) {
	// Void keeps modules in usr/lib/modules.
	entries := []tarEntry{
		{Name: "./props.plist", Body: []byte("<plist/>")},
		{Name: "./boot/vmlinuz-6.12.9_1", Body: kernelfixture.BzImage("6.12.9_1")},
		{Name: "./boot/config-6.12.9_1", Body: []byte(fakeConfig)},
	}
	for p, b := range fakeModules() {
		entries = append(entries, tarEntry{Name: "./usr/lib/modules/6.12.9_1/" + p, Body: b})
	}
	pkg := filepath.Join(t.TempDir(), "linux6.12-6.12.9_1.x86_64.xbps")
	os.WriteFile(pkg, zstdBytes(t, buildTar(t, entries)), 0o644)
	_, dir := stagingIn(t)
	k, err := ImportPackage(context.Background(), dir, pkg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if k.Release != "6.12.9_1" || k.Modules != "modules/6.12.9_1" {
		t.Fatalf("kernel = %+v", k)
	}
	if _, err := ImportPackage(context.Background(), filepath.Join(t.TempDir(), "s"), "/x/kernel.rpm", Options{}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("ImportPackage(.rpm): %v, want ErrUnsupported", err)
	}
}

func TestResolveModules(t *testing.T) {
	dir := t.TempDir()
	for p, b := range fakeModules() {
		writeTree(t, dir, []tarEntry{{Name: p, Body: b}})
	}
	os.WriteFile(filepath.Join(dir, "modules.builtin"), []byte("kernel/fs/ext4/ext4.ko\nkernel/lib/crc16.ko\n"), 0o644)
	writeTree(t, dir, []tarEntry{{Name: "kernel/fs/x.ko", Body: fakeModule("x", "crc16", "virtio-rng")}})

	mods, err := ResolveModules(dir, "virtio_blk", "virtio_net", "ext4", "x")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range mods {
		names = append(names, m.Name)
	}
	want := []string{"virtio_ring", "virtio", "virtio_blk", "failover", "net_failover", "virtio_net", "virtio_rng", "x"}
	if !slices.Equal(names, want) {
		t.Fatalf("load order %v, want %v", names, want)
	}
	if mods[2].Path != "kernel/drivers/block/virtio_blk.ko" {
		t.Fatalf("virtio_blk path %q", mods[2].Path)
	}

	writeTree(t, dir, []tarEntry{{Name: "a.ko", Body: fakeModule("a", "b")}, {Name: "b.ko", Body: fakeModule("b", "a")}})
	if _, err := ResolveModules(dir, "a"); err == nil {
		t.Fatal("a dependency cycle resolved")
	}
	if _, err := ResolveModules(dir, "nosuch"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing module: %v, want ErrNotFound", err)
	}
}

func TestResolveCompressedModules(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, []tarEntry{
		{Name: "kernel/virtio_ring.ko.xz", Body: xzBytes(t, fakeModule("virtio_ring"))},
		{Name: "kernel/virtio.ko.zst", Body: zstdBytes(t, fakeModule("virtio", "virtio_ring"))},
		{Name: "kernel/virtio_mmio.ko.gz", Body: gzipBytes(t, fakeModule("virtio_mmio", "virtio"))},
	})
	mods, err := ResolveModules(dir, "virtio_mmio")
	if err != nil {
		t.Fatal(err)
	}
	if len(mods) != 3 || mods[0].Name != "virtio_ring" || mods[2].Path != "kernel/virtio_mmio.ko.gz" {
		t.Fatalf("modules = %+v", mods)
	}
}
