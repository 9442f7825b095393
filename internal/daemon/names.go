package daemon

import (
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"strings"

	"github.com/banger-dev/banger/internal/errdefs"
	"github.com/banger-dev/banger/internal/paths"
)

// namePattern is what image, kernel and VM names may look like: safe as a
// path component and in a URL, and readable in a table.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// validateName checks a user-chosen name of an object of the given kind.
func validateName(kind, name string) error {
	if !namePattern.MatchString(name) {
		return errdefs.Newf(errdefs.ErrInvalid,
			"invalid %s name %q: use letters, digits, '.', '_' and '-' (at most 128, starting with a letter or digit)", kind, name)
	}
	if strings.HasSuffix(name, paths.StagingSuffix) {
		// Directories with that suffix are half-made and removed at start-up.
		return errdefs.Newf(errdefs.ErrInvalid, "invalid %s name %q: it must not end in %q", kind, name, paths.StagingSuffix)
	}
	return nil
}

// newID returns a random 128-bit hex identifier.
func newID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}
