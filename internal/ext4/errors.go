package ext4

import "github.com/banger-dev/banger/internal/errdefs"

// sentinel is an error value that also matches an errdefs category.
type sentinel struct {
	msg string
	cat errdefs.Category
}

func (s *sentinel) Error() string        { return s.msg }
func (s *sentinel) Is(target error) bool { return target == s.cat }

var (
	// ErrUnsafePath reports a name or hardlink target whose ".." climbs above
	// the image root. It matches errdefs.ErrInvalid.
	ErrUnsafePath error = &sentinel{"path escapes the image root", errdefs.ErrInvalid}
	// ErrTooLarge reports input data beyond Options.MaxSize. It matches
	// errdefs.ErrInvalid.
	ErrTooLarge error = &sentinel{"image content exceeds the size limit", errdefs.ErrInvalid}
	// ErrTooSmall reports an explicit Options.Size that cannot hold the
	// content; the message names the size needed. It matches
	// errdefs.ErrInvalid.
	ErrTooSmall error = &sentinel{"image size too small", errdefs.ErrInvalid}
	// ErrInvalid reports an entry the writer cannot represent (bad type,
	// overlong name or symlink, hardlink to a directory, ...). It is
	// errdefs.ErrInvalid itself.
	ErrInvalid error = errdefs.ErrInvalid
)
