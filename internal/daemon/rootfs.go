package daemon

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/errdefs"
	"github.com/banger-dev/banger/internal/sparsefile"
)

// ext4 superblock: it starts 1024 bytes into the device; its s_magic field
// is 56 bytes in, little-endian 0xEF53.
const (
	ext4MagicOffset = 1024 + 56
	ext4Magic       = 0xEF53
)

// checkExt4 verifies that path is a regular file holding an ext2/3/4
// superblock, and returns its size.
func checkExt4(path string) (int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, errdefs.Newf(errdefs.ErrNotFound, "rootfs file %s does not exist", path)
	}
	if err != nil {
		return 0, errdefs.Newf(errdefs.ErrInvalid, "opening rootfs: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("checking rootfs: %w", err)
	}
	if !info.Mode().IsRegular() {
		return 0, errdefs.Newf(errdefs.ErrInvalid, "rootfs %s is not a regular file", path)
	}
	var magic [2]byte
	if _, err := f.ReadAt(magic[:], ext4MagicOffset); err != nil || binary.LittleEndian.Uint16(magic[:]) != ext4Magic {
		return 0, errdefs.Newf(errdefs.ErrInvalid, "rootfs %s is not an ext4 filesystem (no superblock magic 0xEF53 at byte %d)", path, ext4MagicOffset)
	}
	return info.Size(), nil
}

// placeFile puts src at dst: with move, as a hard link when both are on one
// filesystem (the caller removes src once the image is recorded); otherwise
// as a sparse-aware copy, fsynced, reporting "copy" progress.
func placeFile(ctx context.Context, src, dst string, move bool, progress api.ProgressFunc) error {
	if move && os.Link(src, dst) == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("opening rootfs: %w", err)
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return fmt.Errorf("checking rootfs: %w", err)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("creating rootfs copy: %w", err)
	}
	defer out.Close()
	report := func(done int64) {
		progress(api.Event{Phase: "copy", Message: "copying rootfs", Item: src, Current: done, Total: info.Size()})
	}
	if err := sparsefile.Copy(ctx, out, in, info.Size(), report); err != nil {
		return fmt.Errorf("copying rootfs: %w", err)
	}
	if err := out.Sync(); err != nil {
		return fmt.Errorf("syncing rootfs copy: %w", err)
	}
	return out.Close()
}
