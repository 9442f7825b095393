// Package sparsefile copies files without filling their holes.
package sparsefile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// copyChunk is how much is copied between two cancellation checks and
// progress reports.
const copyChunk = 8 << 20

// Copy copies the first size bytes of src into the empty file dst,
// keeping holes: it walks src's data extents with SEEK_DATA/SEEK_HOLE and
// copies each with copy_file_range (which may share blocks), falling back
// to read/write where the kernel refuses. report, if set, gets the bytes
// covered so far, holes included. It stops between chunks once ctx ends.
func Copy(ctx context.Context, dst, src *os.File, size int64, report func(done int64)) error {
	if report == nil {
		report = func(int64) {}
	}
	report(0)
	for off := int64(0); off < size; {
		data, hole, err := nextExtent(src, off, size)
		if err != nil {
			return err
		}
		if data >= size {
			break
		}
		if err := copyRange(ctx, dst, src, data, hole, report); err != nil {
			return err
		}
		off = hole
	}
	if err := dst.Truncate(size); err != nil {
		return fmt.Errorf("sizing copy: %w", err)
	}
	report(size)
	return nil
}

// nextExtent returns the data extent [data, hole) at or after off. A
// filesystem without SEEK_DATA support yields the whole remainder as data.
func nextExtent(f *os.File, off, size int64) (data, hole int64, err error) {
	fd := int(f.Fd())
	data, err = unix.Seek(fd, off, unix.SEEK_DATA)
	switch {
	case errors.Is(err, unix.ENXIO):
		return size, size, nil // only a hole remains
	case errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP):
		return off, size, nil
	case err != nil:
		return 0, 0, fmt.Errorf("finding data: %w", err)
	}
	hole, err = unix.Seek(fd, data, unix.SEEK_HOLE)
	if err != nil {
		return 0, 0, fmt.Errorf("finding hole: %w", err)
	}
	return data, min(hole, size), nil
}

// copyRange copies [from, to) of src to the same offsets of dst in chunks.
func copyRange(ctx context.Context, dst, src *os.File, from, to int64, report func(int64)) error {
	for off := from; off < to; {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := copyChunkAt(dst, src, off, min(copyChunk, to-off))
		if err != nil {
			return err
		}
		off += n
		report(off)
	}
	return nil
}

// copyChunkAt copies up to n bytes at off, preferring copy_file_range.
func copyChunkAt(dst, src *os.File, off, n int64) (int64, error) {
	roff, woff := off, off
	copied, err := unix.CopyFileRange(int(src.Fd()), &roff, int(dst.Fd()), &woff, int(n), 0)
	switch {
	case err == nil && copied > 0:
		return int64(copied), nil
	case err == nil:
		return 0, fmt.Errorf("copying at %d: %w", off, io.ErrUnexpectedEOF)
	case errors.Is(err, unix.EXDEV), errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EINVAL),
		errors.Is(err, unix.EOPNOTSUPP):
		w, err := io.Copy(io.NewOffsetWriter(dst, off), io.NewSectionReader(src, off, n))
		if err == nil && w == 0 {
			err = io.ErrUnexpectedEOF
		}
		return w, err
	}
	return 0, fmt.Errorf("copying at %d: %w", off, err)
}
