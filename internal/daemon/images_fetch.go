package daemon

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/imagepull"
)

// fetchJobs is how many layers download at once when the network is
// the bottleneck.
const fetchJobs = 3

// layerFetch downloads a pull's layers into the blob cache in the
// background, in layer order, while conversion follows them. Downloads run
// one at a time while conversion keeps up: on a fast link (a registry on
// this machine or LAN) more of them would only take CPU from the
// conversion, which is then the bottleneck. Once conversion has caught up
// with a download and waits for the network (widen), up to fetchJobs run
// at once, as parallel connections then help. Each layer has its own
// completion.
type layerFetch struct {
	done      []chan struct{}
	errs      []error
	wg        sync.WaitGroup
	cancel    context.CancelFunc
	wide      chan struct{}
	widenOnce sync.Once
}

// startFetch starts the downloads; stop must be called to end them.
func (d *Daemon) startFetch(ctx context.Context, plan *pullPlan, progress api.ProgressFunc) *layerFetch {
	ctx, cancel := context.WithCancel(ctx)
	layers := plan.resolved.Layers
	lf := &layerFetch{done: make([]chan struct{}, len(layers)), errs: make([]error, len(layers)), cancel: cancel, wide: make(chan struct{})}
	for i := range layers {
		lf.done[i] = make(chan struct{})
	}
	lf.wg.Add(1)
	go func() {
		defer lf.wg.Done()
		slots := make(chan struct{}, fetchJobs)
		for i, l := range layers {
			if i > 0 {
				select {
				case <-lf.done[i-1]:
				case <-lf.wide:
				case <-ctx.Done():
				}
			}
			select {
			case slots <- struct{}{}: // taken in layer order, so layer 1 goes first
			case <-ctx.Done():
				lf.finish(i, ctx.Err())
				continue
			}
			lf.wg.Add(1)
			go func() {
				defer lf.wg.Done()
				defer func() { <-slots }()
				lf.finish(i, d.fetchLayer(ctx, plan, i, l, progress))
			}()
		}
	}()
	return lf
}

func (d *Daemon) fetchLayer(ctx context.Context, plan *pullPlan, i int, l imagepull.Blob, progress api.ProgressFunc) error {
	cached := d.blobs.Has(l.Digest, l.Size)
	err := d.blobs.Fetch(ctx, plan.client, plan.resolved.Repo, l, func(done int64) {
		ev := api.Event{Phase: "fetch", Item: l.Digest.String(), Current: done, Total: l.Size}
		if cached {
			ev.Message = "cached"
		}
		progress(ev)
	})
	if err != nil {
		return fmt.Errorf("fetching layer %d of %s: %w", i+1, plan.req.Ref, err)
	}
	return nil
}

// widen lets up to fetchJobs downloads run at once from now on.
func (lf *layerFetch) widen() {
	lf.widenOnce.Do(func() { close(lf.wide) })
}

func (lf *layerFetch) finish(i int, err error) {
	lf.errs[i] = err
	close(lf.done[i])
}

// wait blocks until layer i is in the cache (or failed).
func (lf *layerFetch) wait(ctx context.Context, i int) error {
	select {
	case <-lf.done[i]:
		return lf.errs[i]
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop cancels what is still downloading, waits for it, and returns the
// first download error, if any.
func (lf *layerFetch) stop() error {
	lf.cancel()
	lf.wg.Wait()
	for _, err := range lf.errs {
		if err != nil && !isCancel(err) {
			return err
		}
	}
	return nil
}

func isCancel(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
