package imagepull

import (
	"fmt"
	"runtime"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Platform is an OS, architecture and optional variant, as in an OCI index.
type Platform struct {
	OS           string
	Architecture string
	Variant      string
}

// String renders "os/arch[/variant]".
func (p Platform) String() string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// DefaultPlatform is linux/arm64/v8 on an arm64 host and linux/amd64
// everywhere else.
func DefaultPlatform() Platform {
	if runtime.GOARCH == "arm64" {
		return Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	}
	return Platform{OS: "linux", Architecture: "amd64"}
}

// ParsePlatform parses "os/arch[/variant]", or a bare "arch" meaning linux;
// x86_64 and aarch64 are accepted as amd64 and arm64.
func ParsePlatform(s string) (Platform, error) {
	parts := strings.Split(strings.ToLower(strings.TrimSpace(s)), "/")
	if len(parts) == 1 {
		parts = []string{"linux", parts[0]}
	}
	if len(parts) > 3 || slices.Contains(parts, "") {
		return Platform{}, fmt.Errorf("parsing platform %q: %w: want os/arch[/variant], like linux/arm64/v8", s, ErrInvalidReference)
	}
	p := Platform{OS: parts[0], Architecture: normalizeArch(parts[1])}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

func normalizeArch(a string) string {
	switch a {
	case "x86_64", "x86-64":
		return "amd64"
	case "aarch64":
		return "arm64"
	}
	return a
}

// normalizeVariant makes equal variants compare equal: arm64's only
// variant is v8, so "" and "v8" are the same there.
func normalizeVariant(arch, variant string) string {
	if arch == "arm64" && variant == "" {
		return "v8"
	}
	return variant
}

func (p Platform) orDefault() Platform {
	if p.OS == "" && p.Architecture == "" {
		return DefaultPlatform()
	}
	if p.OS == "" {
		p.OS = "linux"
	}
	p.Architecture = normalizeArch(p.Architecture)
	return p
}

// matches reports whether an index entry or config of platform q serves p.
// An empty variant on either side matches, except that arm64 means v8.
func (p Platform) matches(q Platform) bool {
	if p.OS != q.OS || p.Architecture != normalizeArch(q.Architecture) {
		return false
	}
	if p.Variant == "" || q.Variant == "" && p.Architecture != "arm64" {
		return true
	}
	return normalizeVariant(p.Architecture, p.Variant) == normalizeVariant(q.Architecture, q.Variant)
}

func platformOf(p *v1.Platform) Platform {
	if p == nil {
		return Platform{}
	}
	return Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}
}

// pickManifest chooses the entry of an index that serves want, preferring
// an exact variant; it lists the available platforms when none does.
func pickManifest(idx *v1.IndexManifest, want Platform) (v1.Descriptor, error) {
	var avail []string
	best := -1
	for i, m := range idx.Manifests {
		q := platformOf(m.Platform)
		if q.OS == "" || q.OS == "unknown" {
			continue // attestations and other non-images
		}
		avail = append(avail, q.String())
		if !want.matches(q) {
			continue
		}
		exact := normalizeVariant(want.Architecture, want.Variant) == normalizeVariant(q.Architecture, q.Variant)
		if best < 0 || exact {
			best = i
		}
		if exact {
			break
		}
	}
	if best < 0 {
		return v1.Descriptor{}, newError(ErrPlatform, nil, "the image has no %s variant; available: %s (choose one with --platform)", want, strings.Join(uniq(avail), ", "))
	}
	return idx.Manifests[best], nil
}

func uniq(s []string) []string {
	if len(s) == 0 {
		return []string{"none"}
	}
	slices.Sort(s)
	return slices.Compact(s)
}

// checkConfigPlatform compares the platform an image's config declares
// with the one asked for: registries hand a single-platform image of the
// wrong architecture back without complaint.
func checkConfigPlatform(cfg *v1.ConfigFile, want Platform) error {
	got := Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}
	if got.OS == "" && got.Architecture == "" {
		return nil // some minimal images omit both; nothing to compare
	}
	if !want.matches(got) {
		return newError(ErrPlatform, nil, "image is %s, asked for %s: pick an image built for %s (or pass --platform %s)", got, want, want, got)
	}
	return nil
}
