package daemon

import (
	"context"
	"net/http"
	"runtime"

	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/errdefs"
	"github.com/banger-dev/banger/internal/kernelcat"
	"github.com/banger-dev/banger/internal/model"
)

// handleSetImageKernel points an image at another installed kernel.
func (d *Daemon) handleSetImageKernel(r *http.Request) (any, error) {
	ctx, name := r.Context(), r.PathValue("name")
	var req api.SetImageKernelRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	if req.Kernel == "" {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "no kernel given")
	}
	kernel, err := d.resolveKernelInputs(ctx, req.Kernel)
	if err != nil {
		return nil, err
	}
	unlock, err := d.lockName(ctx, "image", name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	img, err := d.store.GetImage(ctx, name)
	if err != nil {
		return nil, err
	}
	if img.Kernel == kernel {
		return img, nil
	}
	img.Kernel = kernel
	if err := d.store.UpdateImage(ctx, img); err != nil {
		return nil, err
	}
	d.log.Info("image kernel set", "image", name, "kernel", kernel)
	return img, nil
}

// requireKernel checks that the kernel called name is installed. A missing
// one fails with errdefs.ErrNotFound and says how to get it: pull when the
// built-in catalog lists the name, import otherwise.
func (d *Daemon) requireKernel(ctx context.Context, name string) (model.Kernel, error) {
	if err := validateName("kernel", name); err != nil {
		return model.Kernel{}, err
	}
	k, err := d.store.GetKernel(ctx, name)
	if errdefs.CategoryOf(err) != errdefs.ErrNotFound {
		return k, err
	}
	if inDefaultCatalog(name) {
		return k, errdefs.Newf(errdefs.ErrNotFound, "kernel %q not found; try: banger kernel pull %s", name, name)
	}
	return k, errdefs.Newf(errdefs.ErrNotFound,
		"kernel %q not found; try: banger kernel import %s --deb FILE (or banger kernel pull %s --catalog URL)", name, name, name)
}

// inDefaultCatalog reports whether the built-in catalog lists name for the
// daemon's architecture.
func inDefaultCatalog(name string) bool {
	cat, err := kernelcat.DefaultCatalog()
	if err != nil {
		return false
	}
	_, err = cat.Lookup(name, runtime.GOARCH)
	return err == nil
}
