// Package flatten applies OCI image layers, oldest first, to a Sink by the
// rules of the OCI image-spec (layer.md) and moby's layer applier:
//
//   - `.wh.<name>` hides <name> from the lower layers only: whatever the same
//     layer writes under that name survives, wherever it sits in the tar.
//   - `.wh..wh..opq` in directory d hides every child of d that came from a
//     lower layer, keeping the children this layer writes.
//   - Whiteout entries are never written; other `.wh..wh.*` names are ignored.
//   - A later entry replaces an earlier one of the same name (the Sink's Put).
//   - Names are cleaned ("./a", "/a" → "a"); a name or hardlink target whose
//     `..` would climb above the root is rejected with ErrUnsafePath.
//     Symlink targets are data and stay verbatim.
//   - Every layer stream is read to its end, so a digest check upstream fires.
//
// Root directory entries ("./", "/") are skipped: the Sink owns the root.
// Options.Verbatim turns the whiteout rules off and passes the root entry
// on, for a tar of a real tree.
package flatten

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
)

// ErrUnsafePath marks a name or hardlink target that would climb above the
// image root.
var ErrUnsafePath = errors.New("unsafe path")

// ErrTooLarge marks layers that unpack to more than Options.MaxBytes.
var ErrTooLarge = errors.New("image too large")

// ErrUnsupportedEntry marks a tar entry type that cannot appear in an image.
var ErrUnsupportedEntry = errors.New("unsupported tar entry")

// Sink receives the flattened entries. The ext4 writer implements it.
type Sink interface {
	// Put creates name, or replaces what is there (a later entry wins). For
	// TypeReg it reads exactly hdr.Size bytes from content. TypeLink makes
	// hdr.Name another name for the object now at hdr.Linkname. When both old
	// and new are directories, only the metadata changes and the children stay.
	// Missing parent directories are created (0755, root:root) and updated if
	// declared later.
	Put(hdr *tar.Header, content io.Reader) error
	// Remove deletes name and everything under it. A missing name is not an
	// error.
	Remove(name string) error
	// ReadDir lists the names (base names, sorted) of the children of
	// directory name. The root is ".".
	ReadDir(name string) ([]string, error)
}

// Layer is one layer of an image, oldest first in the slice given to Apply.
type Layer struct {
	// Digest names the layer in errors; optional.
	Digest string
	// Open returns the layer's uncompressed tar stream. Apply reads it to the
	// end and closes it.
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// Progress is a running count reported while applying.
type Progress struct {
	// Layer is the index of the layer being applied.
	Layer int
	// Entries counts the tar entries read so far, across all layers.
	Entries int64
	// Bytes counts the uncompressed tar bytes read so far, across all layers.
	Bytes int64
}

// Options tune Apply. The zero value applies without limits or reporting.
type Options struct {
	// MaxBytes caps the uncompressed bytes read across all layers; 0 means
	// no cap. Exceeding it fails with ErrTooLarge.
	MaxBytes int64
	// Progress, if set, is called every few entries and at the end of each
	// layer, from the goroutine that called Apply.
	Progress func(Progress)
	// Verbatim reads the streams as tars of a real tree rather than image
	// layers: `.wh.` names are ordinary files, and a root directory entry
	// sets the root's metadata.
	Verbatim bool
}

// Stats sums up a finished Apply.
type Stats struct {
	Entries int64 // tar entries read, whiteouts included
	Bytes   int64 // uncompressed tar bytes read
}

// Apply applies layers, oldest first, to sink.
func Apply(ctx context.Context, sink Sink, layers []Layer, opts Options) (Stats, error) {
	a := &applier{sink: sink, opts: opts}
	for i, l := range layers {
		if err := ctx.Err(); err != nil {
			return a.stats, err
		}
		if err := a.applyOpened(ctx, i, l); err != nil {
			return a.stats, fmt.Errorf("applying layer %d of %d%s: %w", i+1, len(layers), digestSuffix(l.Digest), err)
		}
	}
	return a.stats, nil
}

func (a *applier) applyOpened(ctx context.Context, index int, l Layer) error {
	if l.Open == nil {
		return errors.New("layer has no Open function")
	}
	rc, err := l.Open(ctx)
	if err != nil {
		return fmt.Errorf("opening layer: %w", err)
	}
	err = a.applyLayer(ctx, index, rc)
	if cerr := rc.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("closing layer: %w", cerr)
	}
	return err
}

func digestSuffix(d string) string {
	if d == "" {
		return ""
	}
	return " (" + d + ")"
}

// countingReader counts bytes and enforces the MaxBytes cap.
type countingReader struct {
	r     io.Reader
	n     *int64
	limit int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	if c.limit > 0 && *c.n > c.limit {
		return n, tooLarge(c.limit)
	}
	return n, err
}

func tooLarge(limit int64) error {
	return fmt.Errorf("%w: image is larger than --max-size %s; raise it with --max-size", ErrTooLarge, HumanBytes(limit))
}

// HumanBytes formats n in binary units, as --max-size accepts them ("64GiB").
func HumanBytes(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	v, i := float64(n), 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d%s", int64(v), units[i])
	}
	return fmt.Sprintf("%.1f%s", v, units[i])
}

// applier carries the running totals across layers.
type applier struct {
	sink  Sink
	opts  Options
	stats Stats
}

func (a *applier) report(layer int) {
	if a.opts.Progress != nil {
		a.opts.Progress(Progress{Layer: layer, Entries: a.stats.Entries, Bytes: a.stats.Bytes})
	}
}

// readHeader reads the next tar header, skipping PAX global headers.
func readHeader(tr *tar.Reader) (*tar.Header, error) {
	for {
		hdr, err := tr.Next()
		if err != nil {
			return nil, err
		}
		if hdr.Typeflag != tar.TypeXGlobalHeader {
			return hdr, nil
		}
	}
}
