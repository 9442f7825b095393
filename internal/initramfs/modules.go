package initramfs

import (
	"path/filepath"

	"github.com/banger-dev/banger/internal/kernelcat"
)

// DefaultModules returns the modules a microvm guest needs for its disk,
// network, agent port and ACPI power button, named as the kernel names them.
// Dependencies are added by ResolveModules.
func DefaultModules() []string {
	return []string{
		"virtio_ring", "virtio", "virtio_mmio", "virtio_blk",
		"virtio_console", "failover", "net_failover", "virtio_net",
		"button", "evdev",
	}
}

// Module is one kernel module file to load.
type Module struct {
	Name    string   // module name with '-' folded to '_'
	Path    string   // absolute path of the file (may be compressed)
	Depends []string // names from the module's .modinfo depends=
}

// ResolveModules finds the named modules under dir (a lib/modules/<version>
// tree) and returns them with their dependencies, each after everything it
// depends on; modules built into the kernel are skipped. The kernel
// catalog's resolver does the work (dependencies from each module's
// .modinfo, as depmod reads them).
func ResolveModules(dir string, names []string) ([]Module, error) {
	mods, err := kernelcat.ResolveModules(dir, names...)
	if err != nil {
		return nil, err
	}
	out := make([]Module, len(mods))
	for i, m := range mods {
		out[i] = Module{Name: m.Name, Path: filepath.Join(dir, filepath.FromSlash(m.Path)), Depends: m.Depends}
	}
	return out, nil
}

// ReadModule returns the uncompressed bytes of a module file.
func ReadModule(p string) ([]byte, error) { return kernelcat.ReadModule(p) }
