package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/errdefs"
	"github.com/banger-dev/banger/internal/ext4"
	"github.com/banger-dev/banger/internal/flatten"
)

// convert flattens the cached layers of plan, oldest first, straight into
// a new ext4 file in dir: each layer is decompressed once, and no tree is
// extracted anywhere.
func (d *Daemon) convert(ctx context.Context, plan *pullPlan, dir string, progress api.ProgressFunc) (api.PullResult, error) {
	maxBytes := plan.req.MaxBytes
	if maxBytes == 0 {
		maxBytes = defaultMaxBytes
	}
	f, err := os.OpenFile(filepath.Join(dir, rootfsName), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return api.PullResult{}, fmt.Errorf("creating root filesystem: %w", err)
	}
	defer f.Close()
	w, err := ext4.New(f, ext4.Options{
		Size: plan.req.SizeBytes, MaxSize: maxBytes,
		Seed: plan.resolved.ManifestDigest.String(), Label: fsLabel(plan.name),
	})
	if err != nil {
		return api.PullResult{}, errdefs.Wrap(errdefs.ErrInvalid, err)
	}
	stats, err := flatten.Apply(ctx, w, d.cachedLayers(plan), flatten.Options{
		MaxBytes: maxBytes,
		Progress: func(p flatten.Progress) {
			progress(api.Event{Phase: "convert", Item: fmt.Sprintf("layer %d/%d", p.Layer+1, len(plan.resolved.Layers)),
				Current: p.Bytes, Message: fmt.Sprintf("%d entries", p.Entries)})
		},
	})
	if err != nil {
		return api.PullResult{}, convertError(err, maxBytes)
	}
	progress(api.Event{Phase: "finish", Message: "writing filesystem metadata"})
	if err := w.Close(); err != nil {
		return api.PullResult{}, convertError(err, maxBytes)
	}
	if err := f.Sync(); err != nil {
		return api.PullResult{}, fmt.Errorf("syncing root filesystem: %w", err)
	}
	ws := w.Stats()
	res := api.PullResult{Entries: stats.Entries, Bytes: stats.Bytes, Files: ws.Files, Dirs: ws.Dirs}
	res.Image.SizeBytes = ws.ImageSize
	return res, nil
}

// cachedLayers opens plan's layers from the blob cache, decompressed, each
// once its download has finished.
func (d *Daemon) cachedLayers(plan *pullPlan) []flatten.Layer {
	layers := make([]flatten.Layer, len(plan.resolved.Layers))
	for i, l := range plan.resolved.Layers {
		layers[i] = flatten.Layer{
			Digest: l.Digest.String(),
			Open: func(ctx context.Context) (io.ReadCloser, error) {
				if err := plan.fetch.wait(ctx, i); err != nil {
					return nil, err
				}
				return d.blobs.Open(ctx, l.Digest)
			},
		}
	}
	return layers
}

// convertError gives conversion failures their category and the flag that
// fixes them.
func convertError(err error, maxBytes int64) error {
	switch {
	case errors.Is(err, flatten.ErrTooLarge), errors.Is(err, ext4.ErrTooLarge):
		return errdefs.Newf(errdefs.ErrInvalid, "image is larger than the %s limit; raise it with --max-size: %v", flatten.HumanBytes(maxBytes), err)
	case errors.Is(err, flatten.ErrUnsafePath), errors.Is(err, flatten.ErrUnsupportedEntry):
		return errdefs.Wrap(errdefs.ErrInvalid, fmt.Errorf("refusing image: %w", err))
	case errdefs.CategoryOf(err) != "":
		return err
	}
	return fmt.Errorf("converting layers: %w", err)
}

// fsLabel is the volume label for an image name: ext4 labels hold 16 bytes.
func fsLabel(name string) string {
	if len(name) > 16 {
		return name[:16]
	}
	return name
}
