package kernelcat

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"regexp"
	"strings"
)

// SchemaVersion is the only catalog schema this package reads.
const SchemaVersion = 1

// maxArtifactSize bounds the size a catalog may declare for one download.
const maxArtifactSize = 4 << 30

// Catalog lists kernels that banger can pull. A kernel is known by its name
// and architecture: one name may have an amd64 and an arm64 entry.
type Catalog struct {
	// Schema must be SchemaVersion.
	Schema int `json:"schema"`
	// Kernels are the entries, unique by (Name, Arch).
	Kernels []Entry `json:"kernels"`
}

// Entry describes one kernel build and where its parts come from. The kernel
// image comes either from Kernel (a raw vmlinux/bzImage/arm64 Image file) or
// from Bundle.Kernel; initrd and config likewise from at most one place;
// modules only from Bundle.Modules. A bundle may carry only modules, next to a
// raw Kernel.
type Entry struct {
	// Name is the user-facing name, e.g. "firecracker-6.1".
	Name string `json:"name"`
	// Version is the upstream version of the build, e.g. "6.1.155".
	Version string `json:"version"`
	// Arch is "amd64" or "arm64".
	Arch string `json:"arch"`
	// Description is one line for `banger kernel list`.
	Description string `json:"description,omitempty"`
	// Kernel is the raw kernel image download.
	Kernel *Download `json:"kernel,omitempty"`
	// Initrd is a raw initrd download.
	Initrd *Download `json:"initrd,omitempty"`
	// Config is the kernel's .config as a raw download.
	Config *Download `json:"config,omitempty"`
	// Bundle is an archive carrying some of the parts.
	Bundle *Bundle `json:"bundle,omitempty"`
}

// Download is one file to fetch, pinned by size and sha256.
type Download struct {
	// URL is https://, file:// or, for tests only, http:// on a loopback host.
	URL string `json:"url"`
	// Size is the exact length in bytes.
	Size int64 `json:"size"`
	// SHA256 is the lowercase hex sha256 of the file.
	SHA256 string `json:"sha256"`
}

// Bundle is an archive download plus the paths of the parts inside it.
type Bundle struct {
	Download
	// Format is "tar" (plain, gzip, xz, zstd or bzip2 compressed; the
	// compression is sniffed), "deb" (a Debian package) or "xbps" (a Void
	// Linux package, a compressed tar). Empty: taken from the URL's suffix.
	Format string `json:"format,omitempty"`
	// Kernel is the path of the kernel image, e.g. "boot/vmlinuz-6.12.9_1".
	Kernel string `json:"kernel,omitempty"`
	// Modules is the modules directory of one kernel release, e.g.
	// "usr/lib/modules/6.12.9_1"; it is unpacked as modules/<its base name>.
	Modules string `json:"modules,omitempty"`
	// Initrd is the path of an initrd.
	Initrd string `json:"initrd,omitempty"`
	// Config is the path of the kernel config.
	Config string `json:"config,omitempty"`
}

//go:embed default_catalog.json
var defaultCatalogJSON []byte

// DefaultCatalog returns the catalog built into banger (default_catalog.json;
// the package doc says what it lists and how each hash was sourced).
func DefaultCatalog() (*Catalog, error) {
	c, err := ParseCatalog(defaultCatalogJSON)
	if err != nil {
		return nil, fmt.Errorf("parsing built-in catalog: %w", err)
	}
	return c, nil
}

// ParseCatalog decodes and validates a catalog document. Unknown fields,
// trailing data and any schema violation are errors wrapping ErrInvalidCatalog.
func ParseCatalog(data []byte) (*Catalog, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Catalog
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: decoding: %v", ErrInvalidCatalog, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: trailing data after the document", ErrInvalidCatalog)
	}
	for i := range c.Kernels {
		if b := c.Kernels[i].Bundle; b != nil {
			*b = b.cleaned()
		}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Validate checks the whole catalog: schema, every entry, and that no
// (name, arch) pair appears twice.
func (c *Catalog) Validate() error {
	if c.Schema != SchemaVersion {
		return fmt.Errorf("%w: schema %d, want %d", ErrInvalidCatalog, c.Schema, SchemaVersion)
	}
	seen := make(map[string]bool)
	for i := range c.Kernels {
		e := &c.Kernels[i]
		if err := e.Validate(); err != nil {
			return fmt.Errorf("kernel #%d: %w", i, err)
		}
		key := e.Name + "/" + e.Arch
		if seen[key] {
			return fmt.Errorf("%w: %s for %s listed twice", ErrInvalidCatalog, e.Name, e.Arch)
		}
		seen[key] = true
	}
	return nil
}

// Lookup finds the entry for name and arch ("amd64" or "arm64").
func (c *Catalog) Lookup(name, arch string) (*Entry, error) {
	for i := range c.Kernels {
		if c.Kernels[i].Name == name && c.Kernels[i].Arch == arch {
			return &c.Kernels[i], nil
		}
	}
	return nil, fmt.Errorf("%w: %s for %s", ErrUnknownKernel, name, arch)
}

var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// Validate checks one entry: name, version, arch, URLs, sizes, hashes,
// bundle paths, and that each part has exactly one source. It does not
// modify e, so entries may be validated and pulled concurrently.
func (e *Entry) Validate() error {
	if !namePattern.MatchString(e.Name) {
		return fmt.Errorf("%w: name %q: want lowercase letters, digits, '.', '_', '-'", ErrInvalidCatalog, e.Name)
	}
	if e.Version == "" || strings.ContainsAny(e.Version, " /\n") {
		return fmt.Errorf("%w: %s: bad version %q", ErrInvalidCatalog, e.Name, e.Version)
	}
	if e.Arch != "amd64" && e.Arch != "arm64" {
		return fmt.Errorf("%w: %s: arch %q: want amd64 or arm64", ErrInvalidCatalog, e.Name, e.Arch)
	}
	for _, d := range []struct {
		what string
		d    *Download
	}{{"kernel", e.Kernel}, {"initrd", e.Initrd}, {"config", e.Config}} {
		if d.d == nil {
			continue
		}
		if err := d.d.validate(); err != nil {
			return fmt.Errorf("%s: %s: %w", e.Name, d.what, err)
		}
	}
	if e.Bundle != nil {
		if err := e.Bundle.validate(); err != nil {
			return fmt.Errorf("%s: bundle: %w", e.Name, err)
		}
	}
	return e.checkSources()
}

func (e *Entry) checkSources() error {
	b := e.Bundle
	if b == nil {
		b = &Bundle{}
	}
	if (e.Kernel != nil) == (b.Kernel != "") {
		return fmt.Errorf("%w: %s: the kernel image must come from exactly one of kernel or bundle.kernel", ErrInvalidCatalog, e.Name)
	}
	if e.Initrd != nil && b.Initrd != "" {
		return fmt.Errorf("%w: %s: initrd given twice", ErrInvalidCatalog, e.Name)
	}
	if e.Config != nil && b.Config != "" {
		return fmt.Errorf("%w: %s: config given twice", ErrInvalidCatalog, e.Name)
	}
	return nil
}

var sha256Pattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (d *Download) validate() error {
	if err := checkURL(d.URL); err != nil {
		return err
	}
	if d.Size <= 0 || d.Size > maxArtifactSize {
		return fmt.Errorf("%w: size %d out of range (1..%d)", ErrInvalidCatalog, d.Size, int64(maxArtifactSize))
	}
	if !sha256Pattern.MatchString(d.SHA256) {
		return fmt.Errorf("%w: sha256 %q: want 64 lowercase hex digits", ErrInvalidCatalog, d.SHA256)
	}
	return nil
}

func (b *Bundle) validate() error {
	if err := b.Download.validate(); err != nil {
		return err
	}
	if _, err := b.format(); err != nil {
		return err
	}
	if b.Kernel == "" && b.Modules == "" && b.Initrd == "" && b.Config == "" {
		return fmt.Errorf("%w: names none of kernel, modules, initrd, config", ErrInvalidCatalog)
	}
	for _, p := range []string{b.Kernel, b.Modules, b.Initrd, b.Config} {
		if p == "" {
			continue
		}
		if clean, err := cleanArchivePath(p); err != nil || clean == "." {
			return fmt.Errorf("%w: path %q inside the bundle: must be relative, without ..", ErrInvalidCatalog, p)
		}
	}
	return nil
}

// cleaned returns b with its inside paths cleaned ("./lib/modules/x/" →
// "lib/modules/x"), as archive names are compared. Invalid paths stay as
// they are for validate to report.
func (b Bundle) cleaned() Bundle {
	for _, p := range []*string{&b.Kernel, &b.Modules, &b.Initrd, &b.Config} {
		if clean, err := cleanArchivePath(*p); *p != "" && err == nil {
			*p = clean
		}
	}
	return b
}

// format returns the bundle's archive format, from Format or the URL suffix.
func (b *Bundle) format() (string, error) {
	switch b.Format {
	case "tar", "deb", "xbps":
		return b.Format, nil
	case "":
	default:
		return "", fmt.Errorf("%w: format %q: want tar, deb or xbps", ErrInvalidCatalog, b.Format)
	}
	u, err := url.Parse(b.URL)
	if err != nil {
		return "", fmt.Errorf("%w: url %q: %v", ErrInvalidCatalog, b.URL, err)
	}
	if f := formatFromName(u.Path); f != "" {
		return f, nil
	}
	return "", fmt.Errorf("%w: cannot tell the archive format of %q: set format", ErrInvalidCatalog, b.URL)
}

// formatFromName tells an archive format by file name suffix, or "".
func formatFromName(p string) string {
	switch base := path.Base(p); {
	case strings.HasSuffix(base, ".deb"):
		return "deb"
	case strings.HasSuffix(base, ".xbps"):
		return "xbps"
	case strings.HasSuffix(base, ".tar"), strings.Contains(base, ".tar."), strings.HasSuffix(base, ".tgz"):
		return "tar"
	}
	return ""
}

// checkURL allows https with a host, file with an absolute path, and http
// only towards a loopback name (for tests).
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: url %q: %v", ErrInvalidCatalog, raw, err)
	}
	if u.User != nil {
		return fmt.Errorf("%w: url %q: credentials in URLs are not allowed", ErrInvalidCatalog, raw)
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return fmt.Errorf("%w: url %q has no host", ErrInvalidCatalog, raw)
		}
		return nil
	case "http":
		if isLoopbackHost(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%w: url %q: plain http is allowed only for 127.0.0.1 and localhost", ErrInvalidCatalog, raw)
	case "file":
		if (u.Host == "" || u.Host == "localhost") && path.IsAbs(u.Path) {
			return nil
		}
		return fmt.Errorf("%w: url %q: want file:///absolute/path", ErrInvalidCatalog, raw)
	}
	return fmt.Errorf("%w: url %q: scheme must be https or file", ErrInvalidCatalog, raw)
}

func isLoopbackHost(h string) bool {
	return h == "127.0.0.1" || h == "localhost" || h == "::1"
}
