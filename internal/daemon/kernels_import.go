package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/errdefs"
	"github.com/banger-dev/banger/internal/kernelcat"
)

// importKernel installs a kernel from local files or a distro package as
// kernels/<name>. The name must be free: importing never replaces.
func (d *Daemon) importKernel(ctx context.Context, req api.ImportKernelRequest, progress api.ProgressFunc) (api.KernelResult, error) {
	if err := validateKernelName(req.Name); err != nil {
		return api.KernelResult{}, err
	}
	fill, from, err := importFiller(req)
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
	if old != nil {
		return api.KernelResult{}, errdefs.Newf(errdefs.ErrExists,
			"kernel %q already exists (from %s); remove it first: banger kernel rm %s", req.Name, old.Source, req.Name)
	}
	progress(api.Event{Phase: "import", Message: "importing kernel " + req.Name + " from " + from, Item: from})
	k, err := d.installKernel(ctx, req.Name, nil, "", fill)
	if err != nil {
		return api.KernelResult{}, fmt.Errorf("importing kernel %s: %w", req.Name, err)
	}
	res := api.KernelResult{}
	res.Kernel, _ = d.describeKernel(ctx, k)
	d.log.Info("kernel imported", "kernel", req.Name, "source", k.Source, "release", res.Kernel.Release)
	return res, nil
}

// importFiller checks the request's paths and picks the importer; from
// names the main input for messages.
func importFiller(req api.ImportKernelRequest) (fill fillKernel, from string, err error) {
	sources := 0
	for _, p := range []string{req.Kernel, req.Deb, req.Package} {
		if p != "" {
			sources++
		}
	}
	if sources != 1 {
		return nil, "", errdefs.Newf(errdefs.ErrInvalid, "give exactly one of a kernel image, a .deb or a package to import")
	}
	if req.Kernel == "" && (req.Modules != "" || req.Initrd != "" || req.Config != "") {
		return nil, "", errdefs.Newf(errdefs.ErrInvalid, "modules, initrd and config go with a kernel image, not a package")
	}
	if err := checkImportPaths(req); err != nil {
		return nil, "", err
	}
	if req.Kernel != "" {
		if _, err := kernelcat.InspectImage(req.Kernel); err != nil {
			return nil, "", kernelError(fmt.Errorf("reading kernel image: %w", err))
		}
	}
	switch {
	case req.Deb != "":
		return func(ctx context.Context, staging string) (*kernelcat.Kernel, error) {
			return kernelcat.ImportDeb(ctx, staging, req.Deb)
		}, req.Deb, nil
	case req.Package != "":
		return func(ctx context.Context, staging string) (*kernelcat.Kernel, error) {
			return kernelcat.ImportPackage(ctx, staging, req.Package, kernelcat.Options{})
		}, req.Package, nil
	}
	spec := kernelcat.ImportSpec{Name: req.Name, Kernel: req.Kernel, Modules: req.Modules, Initrd: req.Initrd, Config: req.Config}
	return func(ctx context.Context, staging string) (*kernelcat.Kernel, error) {
		return kernelcat.ImportFiles(ctx, staging, spec)
	}, req.Kernel, nil
}

// checkImportPaths wants every given path absolute and present: files,
// except the modules directory.
func checkImportPaths(req api.ImportKernelRequest) error {
	for _, p := range []struct {
		what, path string
		dir        bool
	}{
		{"kernel image", req.Kernel, false}, {"modules directory", req.Modules, true}, {"initrd", req.Initrd, false},
		{"kernel config", req.Config, false}, {"package", req.Deb, false}, {"package", req.Package, false},
	} {
		if p.path == "" {
			continue
		}
		if !filepath.IsAbs(p.path) {
			return errdefs.Newf(errdefs.ErrInvalid, "%s path %q is not absolute", p.what, p.path)
		}
		info, err := os.Stat(p.path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return errdefs.Newf(errdefs.ErrNotFound, "%s %s does not exist", p.what, p.path)
		case err != nil:
			return errdefs.Newf(errdefs.ErrInvalid, "checking %s: %w", p.what, err)
		case p.dir && !info.IsDir():
			return errdefs.Newf(errdefs.ErrInvalid, "%s %s is not a directory", p.what, p.path)
		case !p.dir && !info.Mode().IsRegular():
			return errdefs.Newf(errdefs.ErrInvalid, "%s %s is not a regular file", p.what, p.path)
		}
	}
	return nil
}
