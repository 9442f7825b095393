package kernelcat

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// ManifestName is the file in a kernel dir that describes it.
const ManifestName = "kernel.json"

// File names inside a kernel dir.
const (
	imageCompressed   = "vmlinuz" // bzImage
	imageUncompressed = "vmlinux" // ELF vmlinux or arm64 Image
	initrdName        = "initrd"
	configName        = "config"
	modulesDir        = "modules"
	partialKernel     = ".kernel.partial"
)

// Kernel describes an unpacked kernel dir; Pull and the importers return it
// and write it as kernel.json. Paths are relative to the dir, so the dir can
// be renamed (staging → published) without rewriting it.
type Kernel struct {
	// Name is the catalog name, or the name given at import.
	Name string `json:"name"`
	// Version is the catalog's version, or the release for imports.
	Version string `json:"version"`
	// Release is the kernel release (uname -r) as detected.
	Release string `json:"release"`
	// Arch is "amd64" or "arm64".
	Arch string `json:"arch"`
	// Format is the kernel image format.
	Format ImageFormat `json:"format"`
	// Image is the kernel image file: "vmlinuz" (bzImage) or "vmlinux".
	Image string `json:"image"`
	// ImageSHA256 is the hex sha256 of Image.
	ImageSHA256 string `json:"imageSha256"`
	// PVH reports an ELF image with a PVH entry note.
	PVH bool `json:"pvh,omitempty"`
	// Modules is "modules/<release>" when the kernel has loadable modules.
	Modules string `json:"modules,omitempty"`
	// Initrd is "initrd" when one came with the kernel.
	Initrd string `json:"initrd,omitempty"`
	// Config is "config" when the kernel config is known.
	Config string `json:"config,omitempty"`
	// ConfigSource tells where Config came from: "artifact", "image"
	// (CONFIG_IKCONFIG) or "" when there is none.
	ConfigSource string `json:"configSource,omitempty"`
	// Source is the catalog URL(s) or local path(s) the kernel came from.
	Source string `json:"source"`
}

// ReadManifest reads kernel.json from dir.
func ReadManifest(dir string) (*Kernel, error) {
	data, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, fmt.Errorf("reading kernel manifest: %w", err)
	}
	var k Kernel
	if err := json.Unmarshal(data, &k); err != nil {
		return nil, fmt.Errorf("decoding %s in %s: %w", ManifestName, dir, err)
	}
	return &k, nil
}

// WriteManifest writes k as dir/kernel.json (temp file, fsync, rename), e.g.
// after the daemon renamed an imported kernel.
func WriteManifest(dir string, k *Kernel) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("opening kernel dir: %w", err)
	}
	defer root.Close()
	return writeManifest(root, k)
}

func writeManifest(root *os.Root, k *Kernel) error {
	data, err := json.MarshalIndent(k, "", "  ")
	if err != nil {
		return err
	}
	tmp := ManifestName + ".tmp"
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("writing kernel manifest: %w", err)
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("writing kernel manifest: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("syncing kernel manifest: %w", err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	return root.Rename(tmp, ManifestName)
}

// staging is a staging dir being filled; abort undoes it.
type staging struct {
	dir     string
	root    *os.Root
	created bool
}

// openStaging creates dir (its parent must exist) or adopts it when it is an
// existing empty directory.
func openStaging(dir string) (*staging, error) {
	created := true
	if err := os.Mkdir(dir, 0o755); errors.Is(err, fs.ErrExist) {
		created = false
		entries, rerr := os.ReadDir(dir)
		if rerr != nil {
			return nil, fmt.Errorf("reading staging dir: %w", rerr)
		}
		if len(entries) > 0 {
			return nil, fmt.Errorf("%w: %s", ErrStagingNotEmpty, dir)
		}
	} else if err != nil {
		return nil, fmt.Errorf("creating staging dir: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("opening staging dir: %w", err)
	}
	return &staging{dir: dir, root: root, created: created}, nil
}

// abort removes everything written: the dir itself when openStaging made it,
// its content otherwise.
func (s *staging) abort() {
	s.root.Close()
	if s.created {
		os.RemoveAll(s.dir)
		return
	}
	entries, _ := os.ReadDir(s.dir)
	for _, e := range entries {
		os.RemoveAll(filepath.Join(s.dir, e.Name()))
	}
}

// finish places the kernel image, fills k from what is on disk and writes
// the manifest. The image must have been written as partialKernel.
func (s *staging) finish(k *Kernel, nameHint string) error {
	info, err := InspectImage(filepath.Join(s.dir, partialKernel))
	if err != nil {
		return err
	}
	k.Format, k.Arch, k.PVH = info.Format, info.Arch, info.PVH
	k.Image = imageUncompressed
	if info.Format == FormatBzImage {
		k.Image = imageCompressed
	}
	if err := s.root.Rename(partialKernel, k.Image); err != nil {
		return fmt.Errorf("placing kernel image: %w", err)
	}
	if k.ImageSHA256, err = fileSHA256(s.root, k.Image); err != nil {
		return err
	}
	if err := s.detectRelease(k, info.Release, nameHint); err != nil {
		return err
	}
	if err := s.noteOptional(k); err != nil {
		return err
	}
	if k.Version == "" {
		k.Version = k.Release
	}
	if k.Name == "" {
		k.Name = k.Release
	}
	return writeManifest(s.root, k)
}

// detectRelease settles the release from the modules dir, the image, or the
// file name, and refuses modules built for a different release than the image.
func (s *staging) detectRelease(k *Kernel, fromImage, nameHint string) error {
	entries, err := fs.ReadDir(s.root.FS(), modulesDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if len(entries) > 1 {
		return fmt.Errorf("%w: modules for %d releases; want one", ErrUnsupported, len(entries))
	}
	var fromModules string
	if len(entries) == 1 && entries[0].IsDir() {
		fromModules = entries[0].Name()
		k.Modules = modulesDir + "/" + fromModules
	}
	if fromModules != "" && fromImage != "" && fromModules != fromImage {
		return fmt.Errorf("kernel image is release %s but the modules are for %s", fromImage, fromModules)
	}
	k.Release = firstNonEmpty(fromModules, fromImage, releaseFromFileName(nameHint))
	if k.Release == "" {
		k.Release = k.Version
	}
	return nil
}

// noteOptional records initrd and config, extracting an embedded config
// (CONFIG_IKCONFIG) from an uncompressed image when none came separately.
func (s *staging) noteOptional(k *Kernel) error {
	if _, err := s.root.Stat(initrdName); err == nil {
		k.Initrd = initrdName
	}
	if _, err := s.root.Stat(configName); err == nil {
		k.Config, k.ConfigSource = configName, "artifact"
		return nil
	}
	if k.Format == FormatBzImage {
		return nil
	}
	cfg, err := ikconfig(filepath.Join(s.dir, k.Image))
	if err != nil || cfg == nil {
		return err
	}
	if err := s.root.WriteFile(configName, cfg, 0o644); err != nil {
		return fmt.Errorf("writing embedded config: %w", err)
	}
	k.Config, k.ConfigSource = configName, "image"
	return nil
}

var releaseInName = regexp.MustCompile(`^(?:vmlinuz|vmlinux|bzImage|Image|kernel)-(\d+\.\d+\S*)$`)

// releaseFromFileName reads "6.1.0-57-cloud-amd64" out of
// "vmlinuz-6.1.0-57-cloud-amd64".
func releaseFromFileName(name string) string {
	m := releaseInName.FindStringSubmatch(filepath.Base(name))
	if m == nil {
		return ""
	}
	return strings.TrimSuffix(m[1], ".efi")
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func fileSHA256(root *os.Root, name string) (string, error) {
	f, err := root.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing %s: %w", name, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
