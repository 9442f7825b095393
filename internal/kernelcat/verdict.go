package kernelcat

import (
	"fmt"
	"path"
	"path/filepath"
)

// verdict collects the reasons for Report.BootsUnderQEMUMicrovm.
type verdict struct {
	ok       bool
	reasons  []string
	blockers []string // the reasons that make the verdict "no"
	unknown  bool     // the options could not be checked (no config)
}

func (v *verdict) fail(format string, args ...any) {
	v.ok = false
	msg := fmt.Sprintf(format, args...)
	v.reasons = append(v.reasons, msg)
	v.blockers = append(v.blockers, msg)
}

func (v *verdict) note(format string, args ...any) {
	v.reasons = append(v.reasons, fmt.Sprintf(format, args...))
}

// image judges the image format: QEMU's microvm machine is x86-only and
// loads a bzImage, or an ELF vmlinux only through its PVH entry note.
func (v *verdict) image(info ImageInfo) {
	switch {
	case info.Arch != "amd64":
		v.fail("the image is for %s: QEMU's microvm machine is x86_64 only", info.Arch)
	case info.Format == FormatELF && !info.PVH:
		v.fail("ELF vmlinux without a PVH entry note: QEMU cannot load it (needs CONFIG_PVH or a bzImage)")
	case info.Format == FormatELF:
		v.note("ELF vmlinux with a PVH entry note: QEMU loads it directly")
	}
}

// options checks the table and returns the rows as Options.
func (v *verdict) options(cfg KernelConfig) []Option {
	var out []Option
	for _, c := range checks() {
		st := cfg.State(c.symbol)
		o := Option{Symbol: c.symbol, State: st, Required: c.required, Purpose: c.purpose}
		if st == StateModule {
			o.Module = c.module
		}
		out = append(out, o)
		switch {
		case st == StateMissing && c.symbol == "DEVTMPFS_MOUNT":
			v.note("CONFIG_DEVTMPFS_MOUNT is off: banger-init mounts devtmpfs itself")
		case st == StateMissing && c.required:
			v.fail("CONFIG_%s is missing: %s", c.symbol, c.without)
		case st == StateMissing:
			v.note("CONFIG_%s is missing: %s", c.symbol, c.without)
		case st == StateModule && c.module == "":
			v.fail("CONFIG_%s is a module but must be built in", c.symbol)
		case st == StateModule && qemuModules()[c.symbol]:
			v.note("%s is a module: banger packs it into the initramfs", c.module)
		}
	}
	v.discovery(cfg)
	return out
}

// discovery checks that the kernel can find microvm's virtio-mmio devices:
// through ACPI tables, or through virtio_mmio.device= on the command line.
func (v *verdict) discovery(cfg KernelConfig) {
	acpi := cfg.State("ACPI") == StateBuiltIn
	cmdline := cfg.State("VIRTIO_MMIO_CMDLINE_DEVICES") == StateBuiltIn
	switch {
	case !acpi && !cmdline:
		v.fail("neither CONFIG_ACPI nor CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES: the kernel cannot find microvm's virtio-mmio devices")
	case !acpi:
		v.note("no CONFIG_ACPI: run microvm with acpi=off and pass virtio_mmio.device= on the command line")
	case !cmdline:
		v.note("no CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES: keep microvm's ACPI on (virtio_mmio.device= is ignored)")
	}
}

// modules resolves, in load order, the modules the initramfs must insmod.
func (v *verdict) modules(dir, modRel string, cfg KernelConfig) ([]string, []string) {
	var want []string
	for _, c := range checks() {
		if qemuModules()[c.symbol] && cfg.State(c.symbol) == StateModule {
			want = append(want, c.module)
		}
	}
	if len(want) == 0 {
		return nil, nil
	}
	if modRel == "" {
		v.fail("%d needed drivers are modules but the kernel has no modules dir", len(want))
		return nil, nil
	}
	idx, err := indexModules(filepath.Join(dir, filepath.FromSlash(modRel)))
	if err == nil {
		var mods []Module
		if mods, err = idx.resolve(want); err == nil {
			names, files := make([]string, len(mods)), make([]string, len(mods))
			for i, m := range mods {
				names[i], files[i] = m.Name, path.Join(modRel, m.Path)
			}
			return names, files
		}
	}
	v.fail("resolving modules: %v", err)
	return nil, nil
}
