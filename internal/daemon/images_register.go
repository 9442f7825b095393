package daemon

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/errdefs"
	"github.com/banger-dev/banger/internal/model"
)

// rootfsName is the image's filesystem file inside its directory.
const rootfsName = "rootfs.ext4"

func (d *Daemon) imageRegisterRoutes(mux *http.ServeMux) {
	mux.Handle("POST "+api.PathImageRegister, d.streamHandler(func(r *http.Request, progress api.ProgressFunc) (any, error) {
		var req api.RegisterImageRequest
		if err := decodeBody(r, &req); err != nil {
			return nil, err
		}
		return d.registerImage(r.Context(), req, progress)
	}))
}

// registerImage copies (or, with Move, hands over) an ext4 file into
// images/<id>/rootfs.ext4 and records it.
func (d *Daemon) registerImage(ctx context.Context, req api.RegisterImageRequest, progress api.ProgressFunc) (model.Image, error) {
	if err := validateName("image", req.Name); err != nil {
		return model.Image{}, err
	}
	if !filepath.IsAbs(req.Rootfs) {
		return model.Image{}, errdefs.Newf(errdefs.ErrInvalid, "rootfs path %q is not absolute", req.Rootfs)
	}
	size, err := checkExt4(req.Rootfs)
	if err != nil {
		return model.Image{}, err
	}
	kernel, err := d.resolveKernelInputs(ctx, req.KernelRef)
	if err != nil {
		return model.Image{}, err
	}
	unlock, err := d.lockName(ctx, "image", req.Name)
	if err != nil {
		return model.Image{}, err
	}
	defer unlock()
	if err := d.checkImageFree(ctx, req.Name); err != nil {
		return model.Image{}, err
	}
	id := newID()
	img := model.Image{
		ID: id, Name: req.Name, Ref: req.Rootfs, Kernel: kernel, SizeBytes: size,
		RootfsPath: filepath.Join(d.layout.ImageDir(id), rootfsName), Created: time.Now().UTC(),
	}
	err = d.publish(ctx, d.layout.ImageDir(id),
		func(ctx context.Context, staging string) error {
			return placeFile(ctx, req.Rootfs, filepath.Join(staging, rootfsName), req.Move, progress)
		},
		func(ctx context.Context) error { return d.store.CreateImage(ctx, img) })
	if err != nil {
		return model.Image{}, err
	}
	if req.Move {
		if err := os.Remove(req.Rootfs); err != nil {
			d.log.Warn("removing moved rootfs source", "path", req.Rootfs, "err", err)
		}
	}
	d.log.Info("image registered", "image", img.Name, "id", id, "source", req.Rootfs)
	return img, nil
}

// checkImageFree fails with errdefs.ErrExists when name is taken.
func (d *Daemon) checkImageFree(ctx context.Context, name string) error {
	_, err := d.store.GetImage(ctx, name)
	switch {
	case err == nil:
		return errdefs.Newf(errdefs.ErrExists, "image %q already exists", name)
	case errdefs.CategoryOf(err) == errdefs.ErrNotFound:
		return nil
	}
	return err
}

// resolveKernelInputs turns what the user gave as --kernel-ref into the
// kernel name stored with the image: it must name an installed kernel (see
// requireKernel for the error when it does not).
func (d *Daemon) resolveKernelInputs(ctx context.Context, ref string) (string, error) {
	if ref == "" {
		return "", nil
	}
	k, err := d.requireKernel(ctx, ref)
	if err != nil {
		return "", err
	}
	return k.Name, nil
}
