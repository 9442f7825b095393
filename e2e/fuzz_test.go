package e2e

import (
	"regexp"
	"testing"

	"github.com/banger-dev/banger/internal/imagepull"
)

// imageName is the rule the daemon applies to image names
// (internal/daemon/names.go): a name derived from a valid reference must
// pass it, or a pull without --name fails for no fault of the user's.
var imageName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,127}$`)

// FuzzParseReference feeds arbitrary strings to the reference parser and
// the default-name derivation: neither may panic, and every valid
// reference must yield a non-empty name of [a-z0-9._-] that the daemon
// accepts as an image name. The seed corpus is in
// testdata/fuzz/FuzzParseReference.
func FuzzParseReference(f *testing.F) {
	for _, s := range []string{
		"debian:bookworm", "docker.io/library/debian:bookworm", "ghcr.io/org/tool:v1.2",
		"127.0.0.1:5000/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"localhost/x", "", " ", "UPPER/case", "a//b", "-/x", "x:", "@sha256:", "r/_/_:_",
	} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, insecure bool) {
		ref, err := imagepull.ParseReference(s, insecure)
		if err != nil {
			if ref != nil {
				t.Errorf("ParseReference(%q) returned %v with error %v", s, ref, err)
			}
			return
		}
		name := imagepull.DefaultName(ref)
		if !imageName.MatchString(name) {
			t.Errorf("DefaultName(%q) = %q (%d bytes): not a valid image name", s, name, len(name))
		}
		// The daemon records ref.String() and compares it on the next pull.
		again, err := imagepull.ParseReference(ref.String(), insecure)
		if err != nil || again.String() != ref.String() || imagepull.DefaultName(again) != name {
			t.Errorf("%q parses to %q, which does not parse back the same: %v %v", s, ref, again, err)
		}
	})
}
