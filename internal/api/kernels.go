package api

import (
	"net/url"

	"github.com/banger-dev/banger/internal/model"
)

// Paths of the kernel store, and of an image's kernel.
const (
	PathKernels      = "/v1/kernels"
	PathKernel       = "/v1/kernels/{name}"
	PathKernelPull   = "/v1/kernels/pull"
	PathKernelImport = "/v1/kernels/import"
	PathImageKernel  = "/v1/images/{name}/kernel"
)

// KernelPath is the path of the kernel called name (GET: KernelDetails,
// DELETE: remove; add "?force=1" to remove one that images still use).
func KernelPath(name string) string { return PathKernels + "/" + url.PathEscape(name) }

// ImageKernelPath is the path to PUT a SetImageKernelRequest for image name.
func ImageKernelPath(name string) string { return ImagePath(name) + "/kernel" }

// PullKernelRequest is the body of POST PathKernelPull; the stream's result
// is a KernelResult.
type PullKernelRequest struct {
	// Name is the catalog name, also the installed kernel's name.
	Name string `json:"name"`
	// Catalog is an https:// URL, a file:// URL or an absolute file path;
	// empty means the catalog built into banger.
	Catalog string `json:"catalog,omitempty"`
	// Arch is "amd64" or "arm64"; empty means the daemon's.
	Arch string `json:"arch,omitempty"`
}

// ImportKernelRequest is the body of POST PathKernelImport; the stream's
// result is a KernelResult. Exactly one of Kernel, Deb and Package is set;
// all paths are absolute and readable by the daemon.
type ImportKernelRequest struct {
	// Name is the new kernel's unique name.
	Name string `json:"name"`
	// Kernel is a kernel image (bzImage or vmlinux); Modules (one release's
	// modules dir), Initrd and Config may come with it.
	Kernel  string `json:"kernel,omitempty"`
	Modules string `json:"modules,omitempty"`
	Initrd  string `json:"initrd,omitempty"`
	Config  string `json:"config,omitempty"`
	// Deb is a Debian linux-image-*.deb package.
	Deb string `json:"deb,omitempty"`
	// Package is a .deb, a Void .xbps or a tarball laid out like an
	// installed system (boot/vmlinuz-*, lib/modules/<release>/).
	Package string `json:"package,omitempty"`
}

// KernelResult is the result of a kernel pull or import.
type KernelResult struct {
	Kernel model.Kernel `json:"kernel"`
	// UpToDate reports that the installed kernel already had the catalog's
	// digest: nothing was downloaded.
	UpToDate bool `json:"up_to_date"`
	// Replaced is the digest of the kernel this pull replaced, if any.
	Replaced string `json:"replaced,omitempty"`
}

// KernelDetails is what GET KernelPath answers: the kernel and how it fares
// under QEMU microvm.
type KernelDetails struct {
	model.Kernel
	Report KernelReport `json:"report"`
}

// KernelReport is the daemon's inspection of a kernel's files.
type KernelReport struct {
	// Boots is the verdict (also model.Kernel.Boots); Reasons explain it.
	Boots   bool     `json:"boots"`
	Reasons []string `json:"reasons"`
	// PVH reports an ELF image with the PVH entry note QEMU needs.
	PVH bool `json:"pvh"`
	// ConfigSource is "file", "image" (CONFIG_IKCONFIG) or "" (unknown).
	ConfigSource string `json:"config_source"`
	// Options are the config options banger checks, in a fixed order.
	Options []KernelOption `json:"options"`
	// ModulesNeeded are the modules banger's initramfs loads, in load order;
	// ModuleFiles their absolute paths, same order.
	ModulesNeeded []string `json:"modules_needed"`
	ModuleFiles   []string `json:"module_files"`
}

// KernelOption is one kernel config option banger checks.
type KernelOption struct {
	// Symbol is the option without "CONFIG_" ("VIRTIO_BLK").
	Symbol string `json:"symbol"`
	// State is "built-in", "module" or "missing".
	State string `json:"state"`
	// Module provides the option when State is "module".
	Module   string `json:"module,omitempty"`
	Required bool   `json:"required"`
	Purpose  string `json:"purpose"`
}

// SetImageKernelRequest is the body of PUT ImageKernelPath; the answer is
// the updated model.Image.
type SetImageKernelRequest struct {
	// Kernel names an installed kernel.
	Kernel string `json:"kernel"`
}
