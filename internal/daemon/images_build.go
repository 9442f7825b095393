package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/buildprofile"
	"github.com/banger-dev/banger/internal/errdefs"
	"github.com/banger-dev/banger/internal/model"
)

// buildRecordName is the file beside a built image's rootfs recording how
// it was made.
const buildRecordName = "build.json"

func (d *Daemon) imageBuildRoutes(mux *http.ServeMux) {
	mux.Handle("POST "+api.PathImageBuild, d.streamHandler(func(r *http.Request, progress api.ProgressFunc) (any, error) {
		var req api.BuildImageRequest
		if err := decodeBody(r, &req); err != nil {
			return nil, err
		}
		return d.buildImage(r.Context(), req, progress)
	}))
}

// buildPlan is a build request checked against the store.
type buildPlan struct {
	req    api.BuildImageRequest
	id     string
	base   model.Image
	kernel model.Kernel
}

// buildImage makes req.Name from req.Base: the base's rootfs is copied into
// the new image's staging directory, booted in a transient VM whose main
// process only waits, the steps run through the agent, the guest shuts down
// cleanly and the disk is published. Any failure leaves nothing behind.
func (d *Daemon) buildImage(ctx context.Context, req api.BuildImageRequest, progress api.ProgressFunc) (api.BuildResult, error) {
	start := time.Now()
	if err := checkBuildRequest(req); err != nil {
		return api.BuildResult{}, err
	}
	// The base is locked only until its rootfs is copied, so several
	// builds can start from one base at once; the new name stays locked.
	locks, err := d.lockNames(ctx, "image", req.Base, req.Name)
	if err != nil {
		return api.BuildResult{}, err
	}
	defer locks.releaseAll()
	plan, err := d.planBuild(ctx, req)
	if err != nil {
		return api.BuildResult{}, err
	}
	img := model.Image{
		ID: plan.id, Name: req.Name, Ref: "build:" + plan.base.Name, Platform: plan.base.Platform,
		RootfsPath: filepath.Join(d.layout.ImageDir(plan.id), rootfsName), Managed: true,
		Kernel: plan.kernel.Name, Config: plan.base.Config, Parent: plan.base.Name,
	}
	var rec api.BuildRecord
	build := func(ctx context.Context, staging string) error {
		if rec, err = d.runBuild(ctx, plan, staging, func() { locks.release(req.Base) }, progress); err != nil {
			return err
		}
		data, err := json.MarshalIndent(rec, "", "  ")
		if err != nil {
			return fmt.Errorf("encoding build record: %w", err)
		}
		st, err := os.Stat(filepath.Join(staging, rootfsName))
		if err != nil {
			return fmt.Errorf("checking the built rootfs: %w", err)
		}
		img.SizeBytes = st.Size()
		return writeSynced(filepath.Join(staging, buildRecordName), append(data, '\n'))
	}
	commit := func(ctx context.Context) error {
		img.Created = time.Now().UTC()
		return d.store.CreateImage(ctx, img)
	}
	if err := d.publish(ctx, d.layout.ImageDir(plan.id), build, commit); err != nil {
		return api.BuildResult{}, err
	}
	res := api.BuildResult{Image: img, Record: rec, Seconds: time.Since(start).Seconds()}
	d.log.Info("image built", "image", img.Name, "base", plan.base.Name, "steps", len(rec.Steps), "seconds", res.Seconds)
	return res, nil
}

// planBuild finds the base image and the kernel, and makes sure the new
// name is free.
func (d *Daemon) planBuild(ctx context.Context, req api.BuildImageRequest) (*buildPlan, error) {
	base, err := d.store.GetImage(ctx, req.Base)
	if errdefs.CategoryOf(err) == errdefs.ErrNotFound {
		return nil, errdefs.Newf(errdefs.ErrNotFound, "base image %q not found (see banger image list)", req.Base)
	}
	if err != nil {
		return nil, err
	}
	if _, err := d.store.GetImage(ctx, req.Name); err == nil {
		return nil, errdefs.Newf(errdefs.ErrExists, "image %q already exists; choose another --name or remove it: banger image rm %s", req.Name, req.Name)
	}
	kname := req.Kernel
	if kname == "" {
		kname = base.Kernel
	}
	if kname == "" {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "image %q has no kernel; try: banger image set-kernel %s KERNEL or --kernel K", base.Name, base.Name)
	}
	k, err := d.bootKernel(ctx, kname)
	if err != nil {
		return nil, err
	}
	return &buildPlan{req: req, id: newID(), base: base, kernel: k}, nil
}

// checkBuildRequest rejects what is wrong before anything is copied.
func checkBuildRequest(req api.BuildImageRequest) error {
	if req.Base == "" {
		return errdefs.Newf(errdefs.ErrInvalid, "no base image: give --from-image")
	}
	if err := validateName("image", req.Name); err != nil {
		return err
	}
	if req.Name == req.Base {
		return errdefs.Newf(errdefs.ErrInvalid, "the new image needs a name other than its base's (%q)", req.Base)
	}
	if len(req.Steps) == 0 && req.Profile == "" {
		return errdefs.Newf(errdefs.ErrInvalid, "nothing to build: give --run, --script, --copy or --profile")
	}
	if req.Profile != "" {
		if err := buildprofile.Check(req.Profile, req.Settings); err != nil {
			return err
		}
	} else if len(req.Settings) > 0 {
		return errdefs.Newf(errdefs.ErrInvalid, "--set needs --profile")
	}
	if req.DiskBytes < 0 || req.CPUs < 0 || req.MemoryMiB < 0 {
		return errdefs.Newf(errdefs.ErrInvalid, "sizes must not be negative")
	}
	for _, kv := range req.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return errdefs.Newf(errdefs.ErrInvalid, "invalid environment variable %q (want KEY=VALUE)", kv)
		}
	}
	for i, s := range req.Steps {
		if err := checkStep(s); err != nil {
			return fmt.Errorf("step %d: %w", i+1, err)
		}
	}
	return nil
}

func checkStep(s api.BuildStep) error {
	switch s.Kind {
	case api.StepRun:
		if strings.TrimSpace(s.Script) == "" {
			return errdefs.Newf(errdefs.ErrInvalid, "empty command")
		}
	case api.StepCopy:
		if !filepath.IsAbs(s.Source) || !path.IsAbs(s.Dest) {
			return errdefs.Newf(errdefs.ErrInvalid, "copy %s:%s: both paths must be absolute", s.Source, s.Dest)
		}
		st, err := os.Stat(s.Source)
		if err != nil {
			return errdefs.Newf(errdefs.ErrInvalid, "copy %s: %w", s.Source, err)
		}
		if !st.Mode().IsRegular() {
			return errdefs.Newf(errdefs.ErrInvalid, "copy %s: only regular files can be copied (tar a directory, copy the archive and --run tar)", s.Source)
		}
	default:
		return errdefs.Newf(errdefs.ErrInvalid, "unknown step kind %q", s.Kind)
	}
	return nil
}

// heldLocks are name locks taken together and released one by one or all
// at once (each at most once).
type heldLocks struct {
	mu   sync.Mutex
	held map[string]func()
}

// release gives up the lock on name, if still held.
func (h *heldLocks) release(name string) {
	h.mu.Lock()
	unlock := h.held[name]
	delete(h.held, name)
	h.mu.Unlock()
	if unlock != nil {
		unlock()
	}
}

// releaseAll gives up every lock still held.
func (h *heldLocks) releaseAll() {
	h.mu.Lock()
	names := slices.Sorted(maps.Keys(h.held))
	h.mu.Unlock()
	for _, n := range slices.Backward(names) {
		h.release(n)
	}
}

// lockNames takes the name locks of kind for every name, in sorted order so
// two operations locking the same pair cannot deadlock.
func (d *Daemon) lockNames(ctx context.Context, kind string, names ...string) (*heldLocks, error) {
	names = append([]string{}, names...)
	sort.Strings(names)
	h := &heldLocks{held: map[string]func(){}}
	for _, n := range names {
		if h.held[n] != nil {
			continue
		}
		u, err := d.lockName(ctx, kind, n)
		if err != nil {
			h.releaseAll()
			return nil, err
		}
		h.held[n] = u
	}
	return h, nil
}
