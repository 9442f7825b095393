package kernelcat

import "errors"

// Sentinel errors. Every error this package returns for one of these
// conditions wraps the matching sentinel, so callers (the daemon) can map
// them to categories with errors.Is.
var (
	// ErrInvalidCatalog marks a catalog document or entry that breaks the schema.
	ErrInvalidCatalog = errors.New("invalid kernel catalog")
	// ErrUnknownKernel marks a name (and arch) the catalog does not list.
	ErrUnknownKernel = errors.New("kernel not in catalog")
	// ErrNotFound marks a download the server answered with 404 or 410, or a
	// file an archive or directory was expected to hold but did not.
	ErrNotFound = errors.New("not found")
	// ErrChecksum marks downloaded bytes whose sha256 differs from the catalog's.
	ErrChecksum = errors.New("sha256 mismatch")
	// ErrSize marks a download longer than the catalog says, or a server that
	// announces a different length.
	ErrSize = errors.New("size mismatch")
	// ErrTruncated marks a download that ended before the catalog's size.
	ErrTruncated = errors.New("download truncated")
	// ErrUnsafePath marks an archive entry that would land outside the
	// staging dir (absolute name, "..", escaping symlink or hardlink) or a
	// device node, fifo or other special file.
	ErrUnsafePath = errors.New("unsafe archive entry")
	// ErrTooLarge marks an archive that unpacks past the size or entry limit.
	ErrTooLarge = errors.New("archive too large")
	// ErrUnsupported marks an archive or image format this package cannot read.
	ErrUnsupported = errors.New("unsupported format")
	// ErrStagingNotEmpty marks a staging dir that already holds files.
	ErrStagingNotEmpty = errors.New("staging dir not empty")
)
