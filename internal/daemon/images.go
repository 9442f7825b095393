package daemon

import (
	"net/http"
	"os"

	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/paths"
)

func (d *Daemon) imageRoutes(mux *http.ServeMux) {
	mux.Handle("GET "+api.PathImages, d.jsonHandler(func(r *http.Request) (any, error) {
		return d.store.ListImages(r.Context())
	}))
	mux.Handle("GET "+api.PathImage, d.jsonHandler(func(r *http.Request) (any, error) {
		return d.store.GetImage(r.Context(), r.PathValue("name"))
	}))
	mux.Handle("DELETE "+api.PathImage, d.jsonHandler(d.handleImageRemove))
}

// handleImageRemove deletes the row first (the image is gone for users),
// then its directory: renamed to a staging name so that, should removal
// stop half-way, the next start finishes it.
func (d *Daemon) handleImageRemove(r *http.Request) (any, error) {
	ctx, name := r.Context(), r.PathValue("name")
	unlock, err := d.lockName(ctx, "image", name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	img, err := d.store.GetImage(ctx, name)
	if err != nil {
		return nil, err
	}
	if err := d.store.DeleteImage(ctx, name); err != nil {
		return nil, err
	}
	dir := d.layout.ImageDir(img.ID)
	trash := dir + paths.StagingSuffix
	if err := os.Rename(dir, trash); err != nil && !os.IsNotExist(err) {
		d.log.Error("removing image directory", "image", name, "err", err)
		return nil, nil
	}
	d.discard(trash)
	d.log.Info("image removed", "image", name, "id", img.ID)
	return nil, nil
}
