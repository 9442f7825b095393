package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/errdefs"
	"github.com/banger-dev/banger/internal/kernelcat"
)

// pullKernel installs a catalog kernel as kernels/<name>. A kernel of that
// name with the catalog's digest is left alone ("up to date"); any other
// one is replaced once the new one is verified and unpacked.
func (d *Daemon) pullKernel(ctx context.Context, req api.PullKernelRequest, progress api.ProgressFunc) (api.KernelResult, error) {
	if err := validateKernelName(req.Name); err != nil {
		return api.KernelResult{}, err
	}
	entry, err := d.lookupCatalog(ctx, req, progress)
	if err != nil {
		return api.KernelResult{}, err
	}
	unlock, err := d.lockName(ctx, "kernel", req.Name)
	if err != nil {
		return api.KernelResult{}, err
	}
	defer unlock()
	old, err := d.existingKernel(ctx, req.Name)
	if err != nil {
		return api.KernelResult{}, err
	}
	digest := entryDigest(entry)
	if old != nil && old.Digest == digest && old.Arch == entry.Arch && dirExists(old.Dir) {
		k, _ := d.describeKernel(ctx, *old)
		return api.KernelResult{Kernel: k, UpToDate: true}, nil
	}
	opts := kernelcat.Options{Progress: func(done, total int64) {
		progress(api.Event{Phase: "fetch", Message: "downloading kernel " + req.Name, Item: req.Name, Current: done, Total: total})
	}}
	k, err := d.installKernel(ctx, req.Name, old, digest, func(ctx context.Context, staging string) (*kernelcat.Kernel, error) {
		return kernelcat.Pull(ctx, entry, staging, opts)
	})
	if err != nil {
		return api.KernelResult{}, fmt.Errorf("pulling kernel %s: %w", req.Name, err)
	}
	res := api.KernelResult{}
	if old != nil {
		res.Replaced = old.Digest
	}
	res.Kernel, _ = d.describeKernel(ctx, k)
	d.log.Info("kernel pulled", "kernel", req.Name, "arch", entry.Arch, "digest", digest, "source", k.Source)
	return res, nil
}

// lookupCatalog loads the catalog req names and finds its entry.
func (d *Daemon) lookupCatalog(ctx context.Context, req api.PullKernelRequest, progress api.ProgressFunc) (*kernelcat.Entry, error) {
	arch, err := kernelArch(req.Arch)
	if err != nil {
		return nil, err
	}
	where := req.Catalog
	if where == "" {
		where = "the built-in catalog"
	} else if !strings.Contains(where, "://") && !filepath.IsAbs(where) {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "catalog path %q is not absolute", where)
	}
	progress(api.Event{Phase: "catalog", Message: "reading " + where})
	cat, err := kernelcat.LoadCatalog(ctx, req.Catalog, kernelcat.Options{})
	if err != nil {
		return nil, kernelError(err)
	}
	entry, err := cat.Lookup(req.Name, arch)
	if err != nil {
		return nil, errdefs.Newf(errdefs.ErrNotFound, "kernel %q for %s is not in %s", req.Name, arch, where)
	}
	return entry, nil
}

// kernelArch checks a requested architecture; empty means the daemon's.
func kernelArch(arch string) (string, error) {
	if arch == "" {
		arch = runtime.GOARCH
	}
	if arch != "amd64" && arch != "arm64" {
		return "", errdefs.Newf(errdefs.ErrInvalid, "unsupported kernel architecture %q: want amd64 or arm64", arch)
	}
	return arch, nil
}

// entryDigest is the digest a pulled kernel records: the sha256 of its one
// download, or, for an entry with several (image, initrd, config, bundle),
// the sha256 of their sha256 list in that order, so that a change to any
// part makes the kernel out of date.
func entryDigest(e *kernelcat.Entry) string {
	var sums []string
	for _, dl := range []*kernelcat.Download{e.Kernel, e.Initrd, e.Config} {
		if dl != nil {
			sums = append(sums, dl.SHA256)
		}
	}
	if e.Bundle != nil {
		sums = append(sums, e.Bundle.SHA256)
	}
	if len(sums) == 1 {
		return "sha256:" + sums[0]
	}
	h := sha256.Sum256([]byte(strings.Join(sums, "\n") + "\n"))
	return "sha256:" + hex.EncodeToString(h[:])
}

func dirExists(dir string) bool {
	info, err := os.Stat(dir)
	return err == nil && info.IsDir()
}
