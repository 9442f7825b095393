package kernelcat

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/banger-dev/banger/internal/vmm/boottest"
)

func TestImportDebRealKernel(t *testing.T) {
	deb := boottest.KernelDeb(t)
	dir := filepath.Join(t.TempDir(), "k.staging")
	k, err := ImportDeb(context.Background(), dir, deb)
	if err != nil {
		t.Fatalf("ImportDeb(%s): %v", deb, err)
	}
	if !strings.HasPrefix(k.Release, "6.1.") || k.Format != FormatBzImage || k.Arch != "amd64" || k.Image != "vmlinuz" {
		t.Fatalf("kernel = %+v; want a 6.1.x amd64 bzImage", k)
	}
	if k.Name != k.Release || k.Config != "config" || k.Modules != "modules/"+k.Release {
		t.Fatalf("kernel = %+v; want name=release, config and modules/<release>", k)
	}
	for _, p := range []string{"vmlinuz", "config", "kernel.json", k.Modules + "/kernel/drivers/block/virtio_blk.ko", k.Modules + "/modules.builtin"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("missing %s: %v", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "usr")); err == nil {
		t.Error("unselected package content (usr/) was unpacked")
	}

	r, err := Inspect(context.Background(), dir)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	want := map[string]Tristate{
		"VIRTIO": StateModule, "VIRTIO_MMIO": StateModule, "VIRTIO_BLK": StateModule, "VIRTIO_NET": StateModule,
		"VIRTIO_CONSOLE": StateModule, "EXT4_FS": StateBuiltIn, "DEVTMPFS": StateBuiltIn,
		"DEVTMPFS_MOUNT": StateMissing, "BLK_DEV_INITRD": StateBuiltIn,
	}
	for _, o := range r.Options {
		if w, ok := want[o.Symbol]; ok && o.State != w {
			t.Errorf("%s = %s, want %s", o.Symbol, o.State, w)
		}
	}
	if !r.BootsUnderQEMUMicrovm {
		t.Errorf("verdict: does not boot; reasons: %q", r.Reasons)
	}
	if !slices.Contains(r.Reasons, "virtio_blk is a module: banger packs it into the initramfs") {
		t.Errorf("reasons %q lack the virtio_blk note", r.Reasons)
	}
	checkLoadOrder(t, r.ModulesNeeded)
	for _, f := range r.ModuleFiles {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("module file %s: %v", f, err)
		}
	}
	t.Logf("release %s, modules %v", k.Release, r.ModulesNeeded)
}

// checkLoadOrder wants virtio_ring and virtio before virtio_mmio and
// virtio_blk, and failover before net_failover before virtio_net.
func checkLoadOrder(t *testing.T, mods []string) {
	t.Helper()
	pos := func(name string) int {
		i := slices.Index(mods, name)
		if i < 0 {
			t.Fatalf("ModulesNeeded %v lacks %s", mods, name)
		}
		return i
	}
	for _, pair := range [][2]string{
		{"virtio_ring", "virtio"}, {"virtio", "virtio_mmio"}, {"virtio", "virtio_blk"}, {"virtio_ring", "virtio_blk"},
		{"virtio", "virtio_console"}, {"failover", "net_failover"}, {"net_failover", "virtio_net"},
	} {
		if pos(pair[0]) > pos(pair[1]) {
			t.Errorf("ModulesNeeded %v: %s after %s", mods, pair[0], pair[1])
		}
	}
	if slices.Contains(mods, "ext4") {
		t.Errorf("ModulesNeeded %v lists ext4, which is built in", mods)
	}
}
