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
	"github.com/banger-dev/banger/internal/imagepull"
)

// convert flattens plan's layers, oldest first, straight into a new ext4
// file in dir: each layer is decompressed once, and no tree is extracted
// anywhere. It starts on each layer while that layer still downloads
// (imagepull.Cache.Follow), so the download overlaps the conversion
// instead of preceding it. That is safe because the conversion is staged
// (nothing is published unless convert succeeds) and a layer counts as
// read only once its follower reached EOF, which it does only after the
// download verified the digest. If conversion fails, what it read of the
// layer it was on may be unverified: that layer's download decides the
// error; and if the download it followed had to be retried, conversion
// starts again from the verified cache.
func (d *Daemon) convert(ctx context.Context, plan *pullPlan, dir string, progress api.ProgressFunc) (api.PullResult, error) {
	current := 0 // the layer being read
	res, err := d.convertLayers(ctx, plan, dir, progress, d.followedLayers(plan, &current))
	if err == nil {
		return res, nil
	}
	if ferr := plan.fetch.wait(ctx, current); ferr != nil {
		return api.PullResult{}, ferr // the bytes were bad or missing, not the image
	}
	if !errors.Is(err, imagepull.ErrFollowLost) {
		return api.PullResult{}, err
	}
	d.log.Info("restarting conversion from the verified cache", "image", plan.name, "layer", current+1, "err", err)
	progress(api.Event{Phase: "restart", Message: "a download was retried: converting again from the verified cache"})
	if err := os.Remove(filepath.Join(dir, rootfsName)); err != nil {
		return api.PullResult{}, fmt.Errorf("restarting conversion: %w", err)
	}
	return d.convertLayers(ctx, plan, dir, progress, d.cachedLayers(plan))
}

// convertLayers writes layers into a new root filesystem in dir.
func (d *Daemon) convertLayers(ctx context.Context, plan *pullPlan, dir string, progress api.ProgressFunc, layers []flatten.Layer) (api.PullResult, error) {
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
	stats, err := flatten.Apply(ctx, w, layers, flatten.Options{
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

// followedLayers opens plan's layers as they download, decompressed; each
// Open records its index in current.
func (d *Daemon) followedLayers(plan *pullPlan, current *int) []flatten.Layer {
	return d.layers(plan, func(ctx context.Context, i int, l imagepull.Blob) (io.ReadCloser, error) {
		*current = i
		rc, err := d.blobs.Follow(ctx, l.Digest, plan.fetch.done[i], plan.fetch.widen)
		if err != nil {
			return nil, err
		}
		return imagepull.Decompress(ctx, rc)
	})
}

// cachedLayers opens plan's layers from the blob cache, decompressed, each
// once its download has finished.
func (d *Daemon) cachedLayers(plan *pullPlan) []flatten.Layer {
	return d.layers(plan, func(ctx context.Context, i int, l imagepull.Blob) (io.ReadCloser, error) {
		if err := plan.fetch.wait(ctx, i); err != nil {
			return nil, err
		}
		return d.blobs.Open(ctx, l.Digest)
	})
}

func (d *Daemon) layers(plan *pullPlan, open func(ctx context.Context, i int, l imagepull.Blob) (io.ReadCloser, error)) []flatten.Layer {
	layers := make([]flatten.Layer, len(plan.resolved.Layers))
	for i, l := range plan.resolved.Layers {
		layers[i] = flatten.Layer{
			Digest: l.Digest.String(),
			Open:   func(ctx context.Context) (io.ReadCloser, error) { return open(ctx, i, l) },
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
