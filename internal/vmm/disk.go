package vmm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// copyChunk bounds one copy step, so cancellation is noticed.
const copyChunk = 64 << 20

// CopyDisk makes dst a private copy of the ext4 image src for one VM, leaving
// src untouched. It clones the file (FICLONE) where the filesystem shares
// extents (btrfs, XFS), else copies only the data regions (SEEK_DATA /
// SEEK_HOLE), so holes stay holes. When growTo exceeds the image size, the
// copy is extended and its filesystem grown with resize2fs (e2fsprogs).
// dst appears complete or not at all.
func CopyDisk(ctx context.Context, src, dst string, growTo int64) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("opening disk image: %w", err)
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return fmt.Errorf("opening disk image: %w", err)
	}
	if growTo != 0 && growTo < st.Size() {
		return fmt.Errorf("copying disk: requested size %d is below the image's %d bytes", growTo, st.Size())
	}
	out, err := os.CreateTemp(filepath.Dir(dst), ".tmp-"+filepath.Base(dst)+"-*")
	if err != nil {
		return fmt.Errorf("creating disk copy: %w", err)
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(out.Name())
		}
	}()
	if err = copyFile(ctx, in, out, st.Size()); err != nil {
		return fmt.Errorf("copying disk %s: %w", src, err)
	}
	if growTo > st.Size() {
		if err = out.Truncate(growTo); err != nil {
			return fmt.Errorf("growing disk copy: %w", err)
		}
	}
	if err = out.Sync(); err != nil {
		return fmt.Errorf("syncing disk copy: %w", err)
	}
	if err = out.Close(); err != nil {
		return fmt.Errorf("closing disk copy: %w", err)
	}
	if growTo > st.Size() {
		if err = resizeExt4(ctx, out.Name()); err != nil {
			return err
		}
	}
	if err = os.Rename(out.Name(), dst); err != nil {
		return fmt.Errorf("publishing disk copy: %w", err)
	}
	return nil
}

// copyFile clones in into out, falling back to a sparse copy.
func copyFile(ctx context.Context, in, out *os.File, size int64) error {
	if err := unix.IoctlFileClone(int(out.Fd()), int(in.Fd())); err == nil {
		return nil
	}
	if err := out.Truncate(size); err != nil {
		return err
	}
	for off := int64(0); off < size; {
		data, err := unix.Seek(int(in.Fd()), off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			return nil // only a hole remains
		}
		if err != nil {
			return fmt.Errorf("seeking data: %w", err)
		}
		hole, err := unix.Seek(int(in.Fd()), data, unix.SEEK_HOLE)
		if err != nil {
			return fmt.Errorf("seeking hole: %w", err)
		}
		if err := copyRange(ctx, in, out, data, hole); err != nil {
			return err
		}
		off = hole
	}
	return nil
}

// copyRange copies bytes [from, to) at the same offsets, in the kernel when
// copy_file_range allows it.
func copyRange(ctx context.Context, in, out *os.File, from, to int64) error {
	for from < to {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(to-from, copyChunk)
		roff, woff := from, from
		done, err := unix.CopyFileRange(int(in.Fd()), &roff, int(out.Fd()), &woff, int(n), 0)
		if err != nil || done == 0 {
			w, werr := io.Copy(io.NewOffsetWriter(out, from), io.NewSectionReader(in, from, n))
			if werr != nil {
				return fmt.Errorf("copying data at %d: %w", from, werr)
			}
			done = int(w)
		}
		from += int64(done)
	}
	return nil
}

// resizeExt4 grows the filesystem in img to fill the file, checking it first
// when resize2fs asks for that.
func resizeExt4(ctx context.Context, img string) error {
	if _, err := exec.LookPath("resize2fs"); err != nil {
		return errors.New("growing disk: resize2fs not found; install the e2fsprogs package")
	}
	out, err := exec.CommandContext(ctx, "resize2fs", img).CombinedOutput()
	if err != nil && bytes.Contains(out, []byte("e2fsck -f")) {
		if fout, ferr := exec.CommandContext(ctx, "e2fsck", "-fp", img).CombinedOutput(); ferr != nil {
			return fmt.Errorf("checking disk before growing: %w: %s", ferr, fout)
		}
		out, err = exec.CommandContext(ctx, "resize2fs", img).CombinedOutput()
	}
	if err != nil {
		return fmt.Errorf("growing filesystem: %w: %s", err, bytes.TrimSpace(out))
	}
	return nil
}
