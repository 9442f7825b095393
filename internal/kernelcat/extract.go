package kernelcat

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
)

// Hostile-archive policy (decided once, applied to every archive):
//   - a name that is absolute or has a ".." component anywhere in the
//     archive rejects the whole archive (ErrUnsafePath), selected or not;
//   - of the selected entries: a symlink (other than modules/<release>/build
//     and /source, which are dropped) whose target is absolute or climbs
//     above the staging dir, a hardlink whose target is absolute, has "..",
//     or is not itself extracted, and any device node, fifo or socket reject
//     the archive (ErrUnsafePath);
//   - every write goes through an os.Root on the staging dir, so a symlink
//     chain that passes the lexical check but resolves outside (a -> ..,
//     b -> a/..) still cannot be written through: os.Root refuses it.
// Unselected entries are read past and never touch the disk.

// selector maps a cleaned archive name to its path in the staging dir.
type selector func(name string) (dest string, ok bool, err error)

// extractor writes selected tar entries under root, within limits.
type extractor struct {
	root       *os.Root
	sel        selector
	budget     int64 // bytes still allowed
	entries    int   // entries still allowed
	regular    map[string]bool
	foundNames map[string]bool // cleaned archive names that were selected
}

func newExtractor(root *os.Root, sel selector, opts Options) *extractor {
	return &extractor{
		root: root, sel: sel,
		budget: opts.maxUnpacked(), entries: opts.maxEntries(),
		regular: make(map[string]bool), foundNames: make(map[string]bool),
	}
}

// cleanArchivePath turns an archive name into a clean relative slash path,
// refusing absolute names and any ".." component.
func cleanArchivePath(name string) (string, error) {
	if strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("%w: absolute name %q", ErrUnsafePath, name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", fmt.Errorf("%w: name %q climbs with ..", ErrUnsafePath, name)
		}
	}
	return path.Clean(name), nil
}

// run reads tr to its end, writing the selected entries.
func (x *extractor) run(ctx context.Context, tr *tar.Reader) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading archive: %w", unexpected(err))
		}
		if x.entries--; x.entries < 0 {
			return fmt.Errorf("%w: too many entries", ErrTooLarge)
		}
		if err := x.entry(hdr, tr); err != nil {
			return fmt.Errorf("unpacking %q: %w", hdr.Name, err)
		}
	}
}

func (x *extractor) entry(hdr *tar.Header, r io.Reader) error {
	name, err := cleanArchivePath(hdr.Name)
	if err != nil || name == "." {
		return err
	}
	dest, ok, err := x.sel(name)
	if err != nil || !ok {
		return err
	}
	x.foundNames[name] = true
	isFile := hdr.Typeflag == tar.TypeReg || hdr.Typeflag == tar.TypeRegA || hdr.Typeflag == tar.TypeGNUSparse
	if !strings.Contains(dest, "/") && !isFile {
		// The image, initrd and config must be plain files.
		return fmt.Errorf("%w: %s must be a regular file", ErrUnsafePath, name)
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return x.root.MkdirAll(dest, 0o755)
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse:
		return x.file(dest, hdr, r)
	case tar.TypeSymlink:
		return x.symlink(dest, hdr.Linkname)
	case tar.TypeLink:
		return x.hardlink(dest, hdr.Linkname)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return fmt.Errorf("%w: device node or fifo refused", ErrUnsafePath)
	case tar.TypeXGlobalHeader:
		return nil
	}
	return fmt.Errorf("%w: tar entry type %q", ErrUnsupported, hdr.Typeflag)
}

func (x *extractor) file(dest string, hdr *tar.Header, r io.Reader) error {
	if x.budget -= hdr.Size; x.budget < 0 {
		return fmt.Errorf("%w: unpacked size past the limit", ErrTooLarge)
	}
	if err := x.prepare(dest); err != nil {
		return err
	}
	perm := fs.FileMode(0o644)
	if hdr.Mode&0o111 != 0 {
		perm = 0o755
	}
	f, err := x.root.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.CopyN(f, r, hdr.Size); err != nil {
		f.Close()
		return unexpected(err)
	}
	x.regular[dest] = true
	return f.Close()
}

func (x *extractor) symlink(dest, target string) error {
	if isHeadersLink(dest) {
		return nil // build/source point at kernel headers, never part of a kernel dir
	}
	if target == "" || path.IsAbs(target) {
		return fmt.Errorf("%w: symlink to %q", ErrUnsafePath, target)
	}
	if resolved := path.Join(path.Dir(dest), target); resolved == ".." || strings.HasPrefix(resolved, "../") {
		return fmt.Errorf("%w: symlink to %q leaves the staging dir", ErrUnsafePath, target)
	}
	if err := x.prepare(dest); err != nil {
		return err
	}
	return x.root.Symlink(target, dest)
}

func (x *extractor) hardlink(dest, target string) error {
	clean, err := cleanArchivePath(target)
	if err != nil {
		return fmt.Errorf("hardlink: %w", err)
	}
	tdest, ok, err := x.sel(clean)
	if err != nil {
		return err
	}
	if !ok || !x.regular[tdest] {
		return fmt.Errorf("%w: hardlink to %q, which is not an unpacked file", ErrUnsafePath, target)
	}
	if err := x.prepare(dest); err != nil {
		return err
	}
	x.regular[dest] = true
	return x.root.Link(tdest, dest)
}

// found tells whether name, or anything under it, was selected and unpacked
// (archives need not hold entries for directories).
func (x *extractor) found(name string) bool {
	if x.foundNames[name] {
		return true
	}
	for n := range x.foundNames {
		if strings.HasPrefix(n, name+"/") {
			return true
		}
	}
	return false
}

// isHeadersLink tells modules/<release>/build and .../source, the symlinks
// distros put next to the modules for out-of-tree builds.
func isHeadersLink(dest string) bool {
	base := path.Base(dest)
	return (base == "build" || base == "source") && path.Dir(path.Dir(dest)) == modulesDir
}

// prepare makes dest's parent and removes whatever dest holds (a later entry
// of the same name wins).
func (x *extractor) prepare(dest string) error {
	if dir := path.Dir(dest); dir != "." {
		if err := x.root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	if err := x.root.Remove(dest); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	delete(x.regular, dest)
	return nil
}
