package kernelcat

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Option is one config option banger cares about and how the kernel sets it.
type Option struct {
	// Symbol is the option without "CONFIG_", e.g. "VIRTIO_BLK".
	Symbol string `json:"symbol"`
	// State is built-in, module or missing.
	State Tristate `json:"state"`
	// Module is the module that provides it when State is Module.
	Module string `json:"module,omitempty"`
	// Required tells whether a VM cannot boot (or reach its agent) without it.
	Required bool `json:"required"`
	// Purpose says what banger uses it for.
	Purpose string `json:"purpose"`
}

// Report is what Inspect found in a kernel dir.
type Report struct {
	// Image is the image's format, arch, release and PVH note.
	Image ImageInfo `json:"image"`
	// ConfigSource is "file" (the config file in the dir), "image"
	// (CONFIG_IKCONFIG) or "" when the config is unknown.
	ConfigSource string `json:"configSource,omitempty"`
	// Options lists the checked options, in a fixed order.
	Options []Option `json:"options"`
	// BootsUnderQEMUMicrovm is the verdict: banger can boot this kernel with
	// QEMU -M microvm and its own initramfs, and reach the agent.
	BootsUnderQEMUMicrovm bool `json:"bootsUnderQemuMicrovm"`
	// Reasons explain the verdict, one short sentence each.
	Reasons []string `json:"reasons"`
	// Blockers are the Reasons that make the verdict "no" (the others are
	// notes). A kernel whose only blocker is a missing config may still boot;
	// anything else is known not to.
	Blockers []string `json:"blockers,omitempty"`
	// ConfigUnknown is set when there was no config to check the options in.
	ConfigUnknown bool `json:"configUnknown,omitempty"`
	// ModulesNeeded are the modules the initramfs must load, in load order
	// (dependencies first).
	ModulesNeeded []string `json:"modulesNeeded,omitempty"`
	// ModuleFiles are the files of ModulesNeeded, same order, relative to
	// the kernel dir (e.g. "modules/6.1.0-57-cloud-amd64/kernel/drivers/virtio/virtio.ko").
	ModuleFiles []string `json:"moduleFiles,omitempty"`
}

// check is one row of the table Inspect evaluates.
type check struct {
	symbol, module string
	required       bool
	purpose        string // what banger uses it for
	without        string // what goes wrong without it
}

// checks is the table of options banger needs under QEMU microvm, in the
// order their modules must be considered for loading.
func checks() []check {
	return []check{
		{"VIRTIO", "virtio", true, "virtio core", "no virtio devices at all"},
		{"VIRTIO_MMIO", "virtio_mmio", true, "virtio-mmio transport of -M microvm", "cannot see the disk"},
		{"VIRTIO_BLK", "virtio_blk", true, "the root disk /dev/vda", "cannot see the disk"},
		{"EXT4_FS", "ext4", true, "mounting the ext4 root filesystem", "cannot mount the root filesystem"},
		{"VIRTIO_CONSOLE", "virtio_console", true, "the agent's virtio-serial port", "no agent channel under QEMU"},
		{"VIRTIO_NET", "virtio_net", false, "networking", "the VM has no network"},
		{"VIRTIO_VSOCKETS", "vmw_vsock_virtio_transport", false, "the agent over vsock (Firecracker)", "no vsock agent channel (Firecracker)"},
		{"DEVTMPFS", "", true, "devtmpfs, where /dev/vda appears", "no device nodes for the disk"},
		{"DEVTMPFS_MOUNT", "", false, "automatic devtmpfs mount", ""},
		{"BLK_DEV_INITRD", "", true, "booting through banger's initramfs", "cannot run banger-init from the initramfs"},
	}
}

// qemuModules are the modules the initramfs loads under QEMU, when they are modules.
func qemuModules() map[string]bool {
	return map[string]bool{"VIRTIO": true, "VIRTIO_MMIO": true, "VIRTIO_BLK": true, "EXT4_FS": true, "VIRTIO_CONSOLE": true, "VIRTIO_NET": true}
}

// Inspect reads a kernel dir (as Pull or an importer left it, or any dir
// with vmlinuz/vmlinux, config and modules/<release>) and reports the image
// format, the config options banger needs, whether it boots under QEMU
// microvm, and which modules the initramfs must load.
func Inspect(ctx context.Context, dir string) (*Report, error) {
	k, err := describeDir(dir)
	if err != nil {
		return nil, err
	}
	info, err := InspectImage(filepath.Join(dir, k.Image))
	if err != nil {
		return nil, err
	}
	r := &Report{Image: info}
	cfg, err := loadConfig(dir, k, r)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	v := verdict{ok: true}
	v.image(info)
	if cfg == nil {
		v.ok, v.unknown = false, true
		v.note("no kernel config (no config file, no CONFIG_IKCONFIG in the image): cannot check the options")
	} else {
		r.Options = v.options(cfg)
		r.ModulesNeeded, r.ModuleFiles = v.modules(dir, k.Modules, cfg)
	}
	r.BootsUnderQEMUMicrovm, r.Reasons, r.Blockers, r.ConfigUnknown = v.ok, v.reasons, v.blockers, v.unknown
	return r, nil
}

// describeDir reads kernel.json, or guesses the layout of a plain dir.
func describeDir(dir string) (*Kernel, error) {
	k, err := ReadManifest(dir)
	if err == nil {
		return k, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	k = &Kernel{}
	for _, name := range []string{imageCompressed, imageUncompressed} {
		if st, err := os.Stat(filepath.Join(dir, name)); err == nil && st.Mode().IsRegular() {
			k.Image = name
			break
		}
	}
	if k.Image == "" {
		return nil, fmt.Errorf("%w: no vmlinuz or vmlinux in %s", ErrNotFound, dir)
	}
	if _, err := os.Stat(filepath.Join(dir, configName)); err == nil {
		k.Config = configName
	}
	entries, _ := os.ReadDir(filepath.Join(dir, modulesDir))
	if len(entries) == 1 && entries[0].IsDir() {
		k.Modules = modulesDir + "/" + entries[0].Name()
	}
	return k, nil
}

func loadConfig(dir string, k *Kernel, r *Report) (KernelConfig, error) {
	var data []byte
	if k.Config != "" {
		var err error
		if data, err = os.ReadFile(filepath.Join(dir, k.Config)); err != nil {
			return nil, fmt.Errorf("reading kernel config: %w", err)
		}
		r.ConfigSource = "file"
	} else if r.Image.Format != FormatBzImage {
		var err error
		if data, err = ikconfig(filepath.Join(dir, k.Image)); err != nil {
			return nil, fmt.Errorf("reading embedded kernel config: %w", err)
		}
		if data != nil {
			r.ConfigSource = "image"
		}
	}
	if data == nil {
		return nil, nil
	}
	return ParseConfig(data)
}
