package kernelcat

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/banger-dev/banger/internal/testutil/kernelfixture"
)

// kernelDir writes a plain kernel dir (no kernel.json) for Inspect.
func kernelDir(t *testing.T, image string, img []byte, config string, withModules bool) string {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, image), img, 0o644)
	if config != "" {
		os.WriteFile(filepath.Join(dir, "config"), []byte(config), 0o644)
	}
	if withModules {
		for p, b := range fakeModules() {
			writeTree(t, filepath.Join(dir, "modules", fakeRelease), []tarEntry{{Name: p, Body: b}})
		}
	}
	return dir
}

func TestInspectVerdicts(t *testing.T) {
	arm := make([]byte, 4096)
	copy(arm[0x38:], "ARM\x64")
	i386 := kernelfixture.BzImage(fakeRelease)
	i386[0x236] = 0
	for name, tc := range map[string]struct {
		dir    string
		boots  bool
		reason string
	}{
		"debian-like": {kernelDir(t, "vmlinuz", kernelfixture.BzImage(fakeRelease), fakeConfig, true), true,
			"virtio_blk is a module: banger packs it into the initramfs"},
		"no virtio_mmio": {kernelDir(t, "vmlinuz", kernelfixture.BzImage(fakeRelease), strings.Replace(fakeConfig, "CONFIG_VIRTIO_MMIO=m\n", "", 1), true), false,
			"CONFIG_VIRTIO_MMIO is missing: cannot see the disk"},
		"modules but no modules dir": {kernelDir(t, "vmlinuz", kernelfixture.BzImage(fakeRelease), fakeConfig, false), false,
			"5 needed drivers are modules but the kernel has no modules dir"},
		"no config": {kernelDir(t, "vmlinuz", kernelfixture.BzImage(fakeRelease), "", false), false,
			"no kernel config (no config file, no CONFIG_IKCONFIG in the image): cannot check the options"},
		"ELF without PVH": {kernelDir(t, "vmlinux", fakeVmlinux(t, "6.1.1", kernelfixture.BuiltinConfig, false), "", false), false,
			"ELF vmlinux without a PVH entry note: QEMU cannot load it (needs CONFIG_PVH or a bzImage)"},
		"arm64": {kernelDir(t, "vmlinux", arm, kernelfixture.BuiltinConfig, false), false,
			"the image is for arm64: QEMU's microvm machine is x86_64 only"},
		"32-bit": {kernelDir(t, "vmlinuz", i386, kernelfixture.BuiltinConfig, false), false,
			"the image is for 386: QEMU's microvm machine is x86_64 only"},
		"no ACPI and no cmdline devices": {kernelDir(t, "vmlinuz", kernelfixture.BzImage(fakeRelease), strings.Replace(fakeConfig, "CONFIG_ACPI=y\n", "", 1), true), false,
			"neither CONFIG_ACPI nor CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES: the kernel cannot find microvm's virtio-mmio devices"},
		"missing module file": {kernelDir(t, "vmlinuz", kernelfixture.BzImage(fakeRelease), strings.Replace(fakeConfig, "CONFIG_EXT4_FS=y", "CONFIG_EXT4_FS=m", 1), true), false,
			""},
	} {
		t.Run(name, func(t *testing.T) {
			r, err := Inspect(context.Background(), tc.dir)
			if err != nil {
				t.Fatal(err)
			}
			if r.BootsUnderQEMUMicrovm != tc.boots {
				t.Fatalf("boots = %v, want %v; reasons %q", r.BootsUnderQEMUMicrovm, tc.boots, r.Reasons)
			}
			if tc.reason != "" && !slices.Contains(r.Reasons, tc.reason) {
				t.Fatalf("reasons %q lack %q", r.Reasons, tc.reason)
			}
			t.Log(r.Reasons)
		})
	}
}

func TestInspectImageFormats(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		return p
	}
	info, err := InspectImage(write("bz", kernelfixture.BzImage("6.1.0-57-cloud-amd64")))
	if err != nil || info != (ImageInfo{Format: FormatBzImage, Arch: "amd64", Release: "6.1.0-57-cloud-amd64"}) {
		t.Fatalf("bzImage: %+v, %v", info, err)
	}
	info, err = InspectImage(write("elf", fakeVmlinux(t, "6.1.155", "", true)))
	if err != nil || info != (ImageInfo{Format: FormatELF, Arch: "amd64", Release: "6.1.155", PVH: true}) {
		t.Fatalf("ELF: %+v, %v", info, err)
	}
	// The banner may straddle the scanner's 1 MiB window.
	big := make([]byte, 1<<20-5)
	copy(big[0x38:], "ARM\x64")
	big = append(big, "Linux version 6.12.1 (x) #1\x00"...)
	info, err = InspectImage(write("arm", big))
	if err != nil || info != (ImageInfo{Format: FormatArm64Image, Arch: "arm64", Release: "6.12.1"}) {
		t.Fatalf("arm64 Image: %+v, %v", info, err)
	}
	junk := make([]byte, 1024)
	binary.LittleEndian.PutUint32(junk, 0xdeadbeef)
	if _, err := InspectImage(write("junk", junk)); err == nil {
		t.Fatal("junk recognised as a kernel")
	}
}

func TestParseConfig(t *testing.T) {
	cfg, err := ParseConfig([]byte(fakeConfig))
	if err != nil {
		t.Fatal(err)
	}
	for sym, want := range map[string]Tristate{"VIRTIO_BLK": StateModule, "EXT4_FS": StateBuiltIn, "DEVTMPFS_MOUNT": StateMissing, "NOPE": StateMissing} {
		if got := cfg.State(sym); got != want {
			t.Errorf("%s = %s, want %s", sym, got, want)
		}
	}
	if cfg["LOCALVERSION"] != `""` {
		t.Errorf("LOCALVERSION = %q", cfg["LOCALVERSION"])
	}
	if _, err := ParseConfig([]byte("CONFIG_X=y\ngarbage\n")); err == nil {
		t.Error("garbage line accepted")
	}
}
