package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/errdefs"
	"github.com/banger-dev/banger/internal/imagepull"
	"github.com/banger-dev/banger/internal/model"
	"github.com/banger-dev/banger/internal/paths"
	"github.com/google/go-containerregistry/pkg/name"
)

// Files an image directory holds besides the rootfs: the pinned manifest
// and config, kept so that cache pruning knows which blobs are needed and
// the image's provenance can be checked later.
const (
	manifestName = "manifest.json"
	configName   = "config.json"
)

// defaultMaxBytes is the default cap on a pull's uncompressed layer bytes.
const defaultMaxBytes = 64 << 30

func (d *Daemon) imagePullRoutes(mux *http.ServeMux) {
	mux.Handle("POST "+api.PathImagePull, d.streamHandler(func(r *http.Request, progress api.ProgressFunc) (any, error) {
		var req api.PullImageRequest
		if err := decodeBody(r, &req); err != nil {
			return nil, err
		}
		return d.pullImage(r.Context(), req, progress)
	}))
	mux.Handle("GET "+api.PathImageCache, d.jsonHandler(d.handleCacheUsage))
	mux.Handle("POST "+api.PathImageCachePrune, d.jsonHandler(d.handleCachePrune))
}

// pullPlan is a pull request checked and resolved against the registry.
type pullPlan struct {
	req      api.PullImageRequest
	ref      name.Reference
	name     string
	kernel   string
	client   *imagepull.Client
	resolved *imagepull.Resolved
	old      *model.Image // the image of that name this pull replaces
	fetch    *layerFetch  // the layer downloads, running while conversion reads
}

// pullImage resolves req.Ref to a digest once, fetches the layers into the
// blob cache while converting them (each layer as soon as it has arrived)
// straight into an ext4 file in a staging directory, and publishes it. An
// image of the same name and ref whose digest is unchanged is left alone
// ("up to date"); a changed digest replaces it atomically.
func (d *Daemon) pullImage(ctx context.Context, req api.PullImageRequest, progress api.ProgressFunc) (api.PullResult, error) {
	start := time.Now()
	plan, err := d.planPull(ctx, req)
	if err != nil {
		return api.PullResult{}, err
	}
	unlock, err := d.lockName(ctx, "image", plan.name)
	if err != nil {
		return api.PullResult{}, err
	}
	defer unlock()
	d.cacheMu.RLock() // a prune waits for running pulls
	defer d.cacheMu.RUnlock()

	progress(api.Event{Phase: "resolve", Message: "resolving " + req.Ref})
	if plan.resolved, err = plan.client.Resolve(ctx, plan.ref); err != nil {
		return api.PullResult{}, err
	}
	if err := d.findReplaced(ctx, plan); err != nil {
		return api.PullResult{}, err
	}
	if plan.upToDate() {
		return d.keepUpToDate(ctx, plan, start)
	}
	downloaded := plan.missingBytes(d.blobs)
	plan.fetch = d.startFetch(ctx, plan, progress)
	res, err := d.publishPull(ctx, plan, progress)
	if ferr := plan.fetch.stop(); ferr != nil {
		err = ferr // the download failure, not how conversion saw it
	}
	if err != nil {
		return api.PullResult{}, err
	}
	res.DownloadedBytes = downloaded
	res.Seconds = time.Since(start).Seconds()
	d.log.Info("image pulled", "image", plan.name, "ref", req.Ref, "digest", res.Image.Digest, "seconds", res.Seconds)
	return res, nil
}

// planPull checks the request and settles the name and kernel.
func (d *Daemon) planPull(ctx context.Context, req api.PullImageRequest) (*pullPlan, error) {
	ref, err := imagepull.ParseReference(req.Ref, req.Insecure)
	if err != nil {
		return nil, err
	}
	opts := imagepull.Options{Insecure: req.Insecure, UserAgent: "banger/" + d.cfg.Version}
	if req.Platform != "" {
		if opts.Platform, err = imagepull.ParsePlatform(req.Platform); err != nil {
			return nil, err
		}
	}
	if req.SizeBytes < 0 || req.MaxBytes < 0 {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "sizes must not be negative")
	}
	plan := &pullPlan{req: req, ref: ref, name: req.Name}
	if plan.name == "" {
		plan.name = imagepull.DefaultName(ref)
	}
	if err := validateName("image", plan.name); err != nil {
		return nil, err
	}
	if plan.kernel, err = d.resolveKernelInputs(ctx, req.KernelRef); err != nil {
		return nil, err
	}
	if plan.client, err = imagepull.NewClient(opts); err != nil {
		return nil, err
	}
	plan.req.Ref = ref.String()
	return plan, nil
}

// findReplaced looks up an image already called plan.name: one pulled from
// the same reference is replaced (or kept, if up to date); anything else
// under that name is a clash.
func (d *Daemon) findReplaced(ctx context.Context, plan *pullPlan) error {
	old, err := d.store.GetImage(ctx, plan.name)
	if errdefs.CategoryOf(err) == errdefs.ErrNotFound {
		return nil
	}
	if err != nil {
		return err
	}
	if !old.Managed || old.Ref != plan.req.Ref {
		return errdefs.Newf(errdefs.ErrExists, "image %q already exists (from %s); choose another --name or remove it: banger image rm %s", old.Name, old.Ref, old.Name)
	}
	plan.old = &old
	return nil
}

// upToDate reports that the existing image has the remote digest and its
// root filesystem is in place.
func (p *pullPlan) upToDate() bool {
	if p.old == nil || p.old.Digest != p.resolved.Digest.String() {
		return false
	}
	_, err := os.Stat(p.old.RootfsPath)
	return err == nil
}

// keepUpToDate answers an up-to-date pull, recording a new --kernel-ref.
func (d *Daemon) keepUpToDate(ctx context.Context, plan *pullPlan, start time.Time) (api.PullResult, error) {
	img := *plan.old
	if plan.kernel != "" && plan.kernel != img.Kernel {
		img.Kernel = plan.kernel
		if err := d.store.UpdateImage(ctx, img); err != nil {
			return api.PullResult{}, err
		}
	}
	return api.PullResult{Image: img, UpToDate: true, Seconds: time.Since(start).Seconds()}, nil
}

// missingBytes is how much of the image's layers the cache lacks; a blob
// listed twice (an empty layer, say) is fetched once.
func (p *pullPlan) missingBytes(blobs *imagepull.Cache) int64 {
	var n int64
	seen := map[string]bool{}
	for _, l := range p.resolved.Layers {
		if !seen[l.Digest.Hex] && !blobs.Has(l.Digest, l.Size) {
			n += l.Size
		}
		seen[l.Digest.Hex] = true
	}
	return n
}

// publishPull converts the cached layers into a new image directory and
// records it, replacing plan.old if there is one.
func (d *Daemon) publishPull(ctx context.Context, plan *pullPlan, progress api.ProgressFunc) (api.PullResult, error) {
	id := newID()
	r := plan.resolved
	img := model.Image{
		ID: id, Name: plan.name, Ref: plan.req.Ref, Digest: r.Digest.String(), Platform: r.Platform.String(),
		RootfsPath: filepath.Join(d.layout.ImageDir(id), rootfsName), Managed: true, Kernel: plan.kernel,
		Config: imageConfig(r.Config), Created: time.Now().UTC(),
	}
	if plan.old != nil && plan.kernel == "" {
		img.Kernel = plan.old.Kernel
	}
	var res api.PullResult
	build := func(ctx context.Context, staging string) error {
		conv, err := d.convert(ctx, plan, staging, progress)
		if err != nil {
			return err
		}
		res, img.SizeBytes = conv, conv.Image.SizeBytes
		return writeProvenance(staging, r)
	}
	commit := func(ctx context.Context) error {
		if plan.old == nil {
			return d.store.CreateImage(ctx, img)
		}
		return d.store.ReplaceImage(ctx, plan.old.ID, img)
	}
	if err := d.publish(ctx, d.layout.ImageDir(id), build, commit); err != nil {
		return api.PullResult{}, err
	}
	if plan.old != nil {
		res.Replaced = plan.old.Digest
		d.removeImageDir(plan.old.ID)
	}
	res.Image = img
	return res, nil
}

// removeImageDir deletes an image directory no row points to any more, by
// way of a staging name so that an interrupted removal is finished at the
// next start.
func (d *Daemon) removeImageDir(id string) {
	dir := d.layout.ImageDir(id)
	trash := dir + paths.StagingSuffix
	if err := os.Rename(dir, trash); err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			d.log.Error("removing image directory", "id", id, "err", err)
		}
		return
	}
	d.discard(trash)
}

func imageConfig(c imagepull.ImageConfig) model.ImageConfig {
	return model.ImageConfig{Entrypoint: c.Entrypoint, Cmd: c.Cmd, Env: c.Env, WorkingDir: c.WorkingDir, User: c.User}
}

// writeProvenance keeps the pinned manifest and config beside the rootfs.
func writeProvenance(dir string, r *imagepull.Resolved) error {
	for name, data := range map[string][]byte{manifestName: r.RawManifest, configName: r.RawConfig} {
		if err := writeSynced(filepath.Join(dir, name), data); err != nil {
			return err
		}
	}
	return nil
}

// writeSynced creates path read-only with data and fsyncs it.
func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	return nil
}
