package vmm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/banger-dev/banger/internal/sparsefile"

	"golang.org/x/sys/unix"
)

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
	return sparsefile.Copy(ctx, out, in, size, nil)
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
