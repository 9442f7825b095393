// Package model defines the records banger keeps: images and kernels (and,
// added by their own features, VMs). The JSON names are part of banger's
// scripting interface (`image list --format json`): never rename them.
package model

import "time"

// Image is a root filesystem banger can boot.
type Image struct {
	// Name is the user-facing unique name ("debian-bookworm").
	Name string `json:"name"`
	// ID is the random hex identifier naming the image's directory.
	ID string `json:"id"`
	// Ref is where the image came from: an OCI reference for pulled images,
	// the source file path for registered ones.
	Ref string `json:"ref"`
	// Digest is the pinned OCI manifest digest of a pulled image.
	Digest string `json:"digest"`
	// Platform is "os/arch[/variant]" when known.
	Platform string `json:"platform"`
	// RootfsPath is the absolute path of the image's ext4 file.
	RootfsPath string `json:"rootfs"`
	// SizeBytes is the apparent size of the rootfs file.
	SizeBytes int64 `json:"size_bytes"`
	// Managed reports that banger produced the rootfs content (pull, build);
	// false for a rootfs the user registered.
	Managed bool `json:"managed"`
	// Kernel names the kernel to boot this image with; may be empty.
	Kernel string `json:"kernel"`
	// Config is the image's run configuration, from the OCI config.
	Config ImageConfig `json:"config"`
	// Parent names the image this one was built from, if any.
	Parent string `json:"parent,omitempty"`
	// Created is when the image was recorded.
	Created time.Time `json:"created"`
}

// ImageConfig is what a VM runs by default, as an OCI image config states it.
type ImageConfig struct {
	Entrypoint []string `json:"entrypoint,omitempty"`
	Cmd        []string `json:"cmd,omitempty"`
	Env        []string `json:"env,omitempty"`
	WorkingDir string   `json:"workdir,omitempty"`
	User       string   `json:"user,omitempty"`
}

// Kernel is a kernel (plus modules and initrd) installed from a catalog or
// imported. The store row keeps its identity (name, version, arch, source,
// digest, dir, size, created); the file fields come from the kernel.json in
// Dir and Boots from inspecting it, filled in by the daemon. File paths are
// absolute; an empty one means the kernel has no such part.
type Kernel struct {
	// Name is the unique name ("firecracker-6.1", or what import was given).
	Name string `json:"name"`
	// Version is the catalog's version, or the release for imports.
	Version string `json:"version"`
	// Arch is the architecture ("amd64").
	Arch string `json:"arch"`
	// Release is the kernel release, as uname -r shows it ("6.1.0-28-cloud-amd64").
	Release string `json:"release"`
	// Format is the image format: "bzImage", "elf" or "arm64-image".
	Format string `json:"format"`
	// Dir is the published directory holding the kernel's files.
	Dir string `json:"dir"`
	// Image is the kernel image file.
	Image string `json:"image"`
	// Modules is the modules directory of Release, if the kernel has modules.
	Modules string `json:"modules"`
	// Initrd is the initrd that came with the kernel, if any.
	Initrd string `json:"initrd"`
	// Config is the kernel's .config, if known.
	Config string `json:"config"`
	// Source is where the kernel came from: catalog URLs or local paths.
	Source string `json:"source"`
	// Digest is "sha256:…" of what the kernel came from: a catalog entry's
	// one download (several: of their sha256 list), or the image file for
	// imports. A pull with an unchanged digest is a no-op.
	Digest string `json:"digest"`
	// SizeBytes is the total size of the kernel's files.
	SizeBytes int64 `json:"size_bytes"`
	// Boots reports that banger can boot the kernel under QEMU microvm with
	// its initramfs (see banger kernel inspect for the reasons).
	Boots bool `json:"boots"`
	// Created is when the kernel was recorded.
	Created time.Time `json:"created"`
}

// VM states.
const (
	VMRunning = "running"
	VMStopped = "stopped"
)

// VM is a microVM booted from an image: its own disk copy, initramfs and
// monitor process live in Dir.
type VM struct {
	// Name is the user-facing unique name.
	Name string `json:"name"`
	// ID is the random hex identifier naming the VM's directory.
	ID string `json:"id"`
	// Image and Kernel name what the VM booted.
	Image  string `json:"image"`
	Kernel string `json:"kernel"`
	// State is VMRunning or VMStopped.
	State string `json:"state"`
	// PID is the monitor process while running.
	PID int `json:"pid"`
	// CPUs and MemoryMiB size the machine.
	CPUs      int `json:"cpus"`
	MemoryMiB int `json:"memory_mib"`
	// Dir holds the disk copy, the initramfs, the console log and sockets.
	Dir string `json:"dir"`
	// ExitCode is the main process's exit code once it has ended (-1: unknown).
	ExitCode int `json:"exit_code"`
	// AutoRemove removes the VM when it stops (run --rm).
	AutoRemove bool `json:"auto_remove"`
	// Created is when the VM was recorded.
	Created time.Time `json:"created"`
}
