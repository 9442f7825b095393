package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/banger-dev/banger/internal/errdefs"
	"github.com/banger-dev/banger/internal/kernelcat"
	"github.com/banger-dev/banger/internal/model"
	"github.com/banger-dev/banger/internal/paths"
	"golang.org/x/sys/unix"
)

// fillKernel fills an empty staging directory with a kernel (kernelcat.Pull
// or one of its importers) and returns its description.
type fillKernel func(ctx context.Context, staging string) (*kernelcat.Kernel, error)

// installKernel publishes the kernel fill produces as kernels/<name> and
// records it. digest is what the row keeps ("" means the image file's
// sha256). With old set, the new kernel replaces it: once the new one is
// complete, the old directory is moved aside (so it stays usable while the
// new one is made), and moved back if anything fails after that; a crash in
// between is undone at the next start (restoreAsideKernels). The caller
// holds the kernel's name lock.
func (d *Daemon) installKernel(ctx context.Context, name string, old *model.Kernel, digest string, fill fillKernel) (model.Kernel, error) {
	final := d.layout.KernelDir(name)
	aside := final + asideSuffix
	if old != nil {
		if err := os.RemoveAll(aside); err != nil {
			return model.Kernel{}, fmt.Errorf("clearing %s: %w", aside, err)
		}
	}
	var k model.Kernel
	err := d.publish(ctx, final,
		func(ctx context.Context, staging string) error {
			var err error
			k, err = stageKernel(ctx, name, staging, digest, fill)
			k.Dir = final
			if err != nil || old == nil {
				return err
			}
			if err := os.Rename(final, aside); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("moving the old kernel aside: %w", err)
			}
			return nil
		},
		func(ctx context.Context) error {
			if old != nil {
				return d.store.UpdateKernel(ctx, k)
			}
			return d.store.CreateKernel(ctx, k)
		})
	if err != nil {
		if old != nil {
			if rerr := os.Rename(aside, final); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
				d.log.Error("restoring the old kernel", "kernel", name, "err", rerr)
			}
		}
		return model.Kernel{}, kernelError(err)
	}
	if old != nil {
		d.discard(aside)
	}
	return k, nil
}

// asideSuffix names a replaced kernel's directory while its successor is
// being published.
const asideSuffix = "~old" + paths.StagingSuffix

// restoreAsideKernels moves back a replaced kernel whose successor never
// got published (the daemon died in between), before start-up removes
// staging leftovers.
func (d *Daemon) restoreAsideKernels() error {
	entries, err := os.ReadDir(d.layout.KernelsDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", d.layout.KernelsDir(), err)
	}
	for _, e := range entries {
		base, ok := strings.CutSuffix(e.Name(), asideSuffix)
		if !ok {
			continue
		}
		final := d.layout.KernelDir(base)
		if _, err := os.Lstat(final); !errors.Is(err, fs.ErrNotExist) {
			continue // the successor is in place: the aside copy is garbage
		}
		d.log.Warn("restoring a kernel whose replacement was interrupted", "kernel", base)
		if err := os.Rename(filepath.Join(d.layout.KernelsDir(), e.Name()), final); err != nil {
			return fmt.Errorf("restoring kernel %s: %w", base, err)
		}
	}
	return nil
}

// stageKernel runs fill in staging, names the kernel, and makes the files
// durable.
func stageKernel(ctx context.Context, name, staging, digest string, fill fillKernel) (model.Kernel, error) {
	kk, err := fill(ctx, staging)
	if err != nil {
		return model.Kernel{}, err
	}
	if kk.Name != name {
		kk.Name = name
		if err := kernelcat.WriteManifest(staging, kk); err != nil {
			return model.Kernel{}, err
		}
	}
	size, err := treeSize(staging)
	if err != nil {
		return model.Kernel{}, err
	}
	if digest == "" {
		digest = "sha256:" + kk.ImageSHA256
	}
	if err := syncFS(staging); err != nil {
		return model.Kernel{}, err
	}
	return model.Kernel{
		Name: name, Version: kk.Version, Arch: kk.Arch, Source: kk.Source, Digest: digest,
		SizeBytes: size, Created: time.Now().UTC(),
	}, nil
}

// treeSize adds up the sizes of the regular files under dir.
func treeSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		info, err := e.Info()
		if err == nil {
			n += info.Size()
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("measuring kernel files: %w", err)
	}
	return n, nil
}

// syncFS flushes the filesystem holding dir: one syscall instead of an
// fsync per file of a modules tree with thousands of them.
func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

// existingKernel returns the stored kernel called name, or nil.
func (d *Daemon) existingKernel(ctx context.Context, name string) (*model.Kernel, error) {
	k, err := d.store.GetKernel(ctx, name)
	if errdefs.CategoryOf(err) == errdefs.ErrNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &k, nil
}
