package initramfs

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/banger-dev/banger/internal/guestinit/vmconfig"
	"github.com/banger-dev/banger/internal/vmm/boottest"
	"github.com/klauspost/compress/gzip"
)

// listCPIO runs `cpio -itv` on an uncompressed archive and returns its lines.
func listCPIO(t *testing.T, archive []byte) []string {
	t.Helper()
	if _, err := exec.LookPath("cpio"); err != nil {
		t.Skip("cpio not found: install the Debian package cpio")
	}
	cmd := exec.Command("cpio", "-itv", "--quiet", "--numeric-uid-gid")
	cmd.Stdin = bytes.NewReader(archive)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cpio -itv: %v\n%s", err, out)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

func gunzip(t *testing.T, data []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := out.ReadFrom(zr); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestCPIOWriterReadBack(t *testing.T) {
	var buf bytes.Buffer
	cw := NewCPIOWriter(&buf)
	for _, e := range []struct {
		e    Entry
		data string
	}{
		{Dir("dev", 0o755), ""},
		{CharDev("dev/console", 0o600, 5, 1), ""},
		{File("/init", 0o755, 5), "hello"},
		{File("./etc/odd", 0o640, 3), "abc"},
		{Symlink("bin/sh", "busybox"), ""},
	} {
		if err := cw.WriteEntry(e.e, strings.NewReader(e.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := cw.WriteEntry(File("../evil", 0o644, 0), nil); err == nil {
		t.Error("a name climbing above the root was accepted")
	}
	if err := cw.Close(); err != nil {
		t.Fatal(err)
	}
	want := []*regexp.Regexp{
		regexp.MustCompile(`^drwxr-xr-x +2 0 +0 .* dev$`),
		regexp.MustCompile(`^crw------- +1 0 +0 +5, +1 .* dev/console$`),
		regexp.MustCompile(`^-rwxr-xr-x +1 0 +0 +5 .* init$`),
		regexp.MustCompile(`^-rw-r----- +1 0 +0 +3 .* etc/odd$`),
		regexp.MustCompile(`^lrwxrwxrwx +1 0 +0 +7 .* bin/sh -> busybox$`),
	}
	lines := listCPIO(t, buf.Bytes())
	if len(lines) != len(want) {
		t.Fatalf("cpio lists %d entries, want %d:\n%s", len(lines), len(want), strings.Join(lines, "\n"))
	}
	for i, re := range want {
		if !re.MatchString(lines[i]) {
			t.Errorf("entry %d = %q, want match %s", i, lines[i], re)
		}
	}
	if buf.Len()%4 != 0 {
		t.Errorf("archive length %d not 4-aligned", buf.Len())
	}
}

// TestDebianKernel checks module resolution and the whole build against the
// real Debian cloud kernel package, unpacked once.
func TestDebianKernel(t *testing.T) {
	k := boottest.UnpackKernel(t)
	t.Run("ModuleOrder", func(t *testing.T) { testModuleOrder(t, k) })
	t.Run("Build", func(t *testing.T) { testBuild(t, k) })
}

func testModuleOrder(t *testing.T, k boottest.Kernel) {
	mods, err := ResolveModules(k.ModulesDir, DefaultModules())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	pos := map[string]int{}
	for i, m := range mods {
		names = append(names, m.Name)
		pos[m.Name] = i
	}
	t.Logf("load order: %v", names)
	for _, n := range DefaultModules() {
		if _, ok := pos[n]; !ok {
			t.Errorf("module %s missing from %v", n, names)
		}
	}
	for _, m := range mods {
		for _, d := range m.Depends {
			if pd, ok := pos[d]; !ok || pd > pos[m.Name] {
				t.Errorf("%s loads before its dependency %s: %v", m.Name, d, names)
			}
		}
	}
	if !slices.Equal(mods[pos["virtio_net"]].Depends, []string{"virtio_ring", "virtio", "net_failover"}) {
		t.Errorf("virtio_net depends = %v", mods[pos["virtio_net"]].Depends)
	}
	// ext4 is built into this kernel: listed in modules.builtin, not an error.
	if got, err := ResolveModules(k.ModulesDir, []string{"ext4"}); err != nil || len(got) != 0 {
		t.Errorf("built-in ext4: got %v, %v", got, err)
	}
	if _, err := ResolveModules(k.ModulesDir, []string{"no_such_module"}); err == nil {
		t.Error("an unknown module resolved")
	}
}

func testBuild(t *testing.T, k boottest.Kernel) {
	initBin := filepath.Join(t.TempDir(), "init")
	if err := os.WriteFile(initBin, []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	opts := Options{InitPath: initBin, ModulesDir: k.ModulesDir, KernelID: k.Version}
	cache := t.TempDir()
	p, err := Cached(context.Background(), cache, opts)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := Cached(context.Background(), cache, opts); err != nil || again != p {
		t.Errorf("second lookup = %s, %v; want cached %s", again, err, p)
	}
	vmInitrd := filepath.Join(t.TempDir(), "vm.initrd")
	cfg := vmconfig.Config{Hostname: "box", Process: vmconfig.Process{Args: []string{"/bin/sh"}}}
	if err := ForVM(context.Background(), p, cfg, vmInitrd); err != nil {
		t.Fatal(err)
	}
	base, _ := os.ReadFile(p)
	whole, _ := os.ReadFile(vmInitrd)
	t.Logf("per-kernel initramfs %d bytes (init stub, %d with settings)", len(base), len(whole))
	if !bytes.HasPrefix(whole, base) {
		t.Fatal("per-VM initrd does not start with the per-kernel initramfs")
	}
	text := strings.Join(listCPIO(t, gunzip(t, base)), "\n")
	for _, re := range []string{
		`(?m)^crw------- +1 0 +0 +5, +1 .* dev/console$`,
		`(?m)^-rwxr-xr-x +1 0 +0 .* init$`,
		`(?m)^-rw-r--r-- +1 0 +0 .* lib/modules/virtio_blk\.ko$`,
		`(?m)^-rw-r--r-- +1 0 +0 .* banger/modules$`,
	} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("initramfs listing lacks %s:\n%s", re, text)
		}
	}
	settings := listCPIO(t, gunzip(t, whole[len(base):]))
	if len(settings) != 2 || !strings.HasSuffix(settings[1], " "+vmconfig.Path) {
		t.Errorf("settings archive lists %v", settings)
	}
}
