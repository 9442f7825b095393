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

// Kernel is a kernel (plus modules and initramfs) installed from the catalog.
type Kernel struct {
	// Name is the unique catalog name ("debian-6.1-cloud").
	Name string `json:"name"`
	// Version is the kernel release ("6.1.0-28-cloud-amd64").
	Version string `json:"version,omitempty"`
	// Arch is the architecture ("amd64").
	Arch string `json:"arch,omitempty"`
	// Source is where the kernel was fetched from.
	Source string `json:"source,omitempty"`
	// Digest is the verified digest of what was fetched ("sha256:…").
	Digest string `json:"digest"`
	// Dir is the published directory holding the kernel's files.
	Dir string `json:"dir"`
	// SizeBytes is the total size of the kernel's files.
	SizeBytes int64 `json:"size_bytes"`
	// Created is when the kernel was recorded.
	Created time.Time `json:"created"`
}
