// Package imagepull reads container images from OCI registries: it parses
// and pins references, picks the platform, authenticates like docker does,
// classifies registry errors into messages that name the fix, and keeps a
// verified blob cache in OCI layout that skopeo and crane can share.
package imagepull

import (
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// ParseReference parses an image reference the way docker does:
// "debian:bookworm" is index.docker.io/library/debian:bookworm, a missing
// tag is "latest", "repo@sha256:…" pins a digest. With insecure, the
// registry may be reached over plain HTTP; localhost and 127.0.0.1 always may.
func ParseReference(s string, insecure bool) (name.Reference, error) {
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	ref, err := name.ParseReference(strings.TrimSpace(s), opts...)
	if err != nil {
		return nil, newError(ErrInvalidReference, err, "%q is not a valid image reference (%v): use [registry/]repository[:tag][@sha256:digest]", s, err)
	}
	return ref, nil
}

// DefaultName derives the friendly image name banger uses when none is
// given: docker.io/library/debian:bookworm → "debian-bookworm",
// ghcr.io/org/tool:v1.2 → "tool-v1.2", repo@sha256:abcdef123456… →
// "repo-abcdef123456". The result only holds [a-z0-9._-].
func DefaultName(ref name.Reference) string {
	repo := ref.Context().RepositoryStr()
	base := repo[strings.LastIndex(repo, "/")+1:]
	suffix := ref.Identifier()
	if d, ok := ref.(name.Digest); ok {
		hex := d.DigestStr()
		hex = hex[strings.IndexByte(hex, ':')+1:]
		suffix = hex[:min(12, len(hex))]
	}
	name := sanitizeName(base + "-" + suffix)
	if len(name) > MaxNameLen {
		name = strings.TrimRight(name[:MaxNameLen], "-._")
	}
	return name
}

// MaxNameLen is the longest name DefaultName returns (the daemon's limit).
const MaxNameLen = 128

// sanitizeName lowercases s, turns runs of other characters into "-", and
// trims separators from both ends.
func sanitizeName(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
		if !ok {
			if !dash {
				b.WriteByte('-')
			}
			dash = true
			continue
		}
		b.WriteRune(r)
		dash = r == '-'
	}
	out := strings.Trim(b.String(), "-._")
	if out == "" {
		return "image"
	}
	return out
}
