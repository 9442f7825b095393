package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/banger-dev/banger/internal/agent"
	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/errdefs"
	"github.com/banger-dev/banger/internal/ext4"
	"github.com/banger-dev/banger/internal/flatten"
)

// compactName is the rewritten rootfs in a build's staging directory until
// it replaces rootfsName.
const compactName = "rootfs.compact"

// exportArgv makes banger-init (PID 1, reachable as /proc/1/exe) write the
// guest's root filesystem, without what is mounted on it, as a tar stream.
var exportArgv = []string{"/proc/1/exe", "export-tar", "/"}

// exportCompact reads the guest's final tree back through the agent as a
// tar stream and writes it into a fresh ext4 image at dst, sized to fit
// (or to the request's disk size), so the blocks the steps freed are gone.
func (b *buildVM) exportCompact(ctx context.Context, plan *buildPlan, dst string) (ext4.Stats, error) {
	b.progress(api.Event{Phase: "compact", Message: "rewriting the guest's filesystem into a compact image"})
	f, err := os.OpenFile(dst, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return ext4.Stats{}, fmt.Errorf("creating the compact root filesystem: %w", err)
	}
	defer f.Close()
	w, err := ext4.New(f, ext4.Options{Size: plan.req.DiskBytes, Seed: "build:" + plan.id, Label: fsLabel(plan.req.Name)})
	if err != nil {
		return ext4.Stats{}, errdefs.Wrap(errdefs.ErrInvalid, err)
	}
	if err := b.streamTree(ctx, w); err != nil {
		return ext4.Stats{}, err
	}
	if err := w.Close(); err != nil {
		return ext4.Stats{}, compactError(err)
	}
	if err := f.Sync(); err != nil {
		return ext4.Stats{}, fmt.Errorf("syncing the compact root filesystem: %w", err)
	}
	return w.Stats(), nil
}

// streamTree runs the export in the guest with its stdout piped into
// flatten.Apply over sink. A failing export (its stderr is in the error)
// wins over the apply error it causes.
func (b *buildVM) streamTree(ctx context.Context, sink flatten.Sink) error {
	ectx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	stderr := &tailBuffer{max: 4096}
	done := make(chan error, 1)
	go func() {
		st, err := b.agent.Exec(ectx, agent.ExecRequest{Argv: exportArgv, Env: b.env, Dir: "/"}, nil, pw, stderr)
		if err == nil && st.Code != 0 {
			err = fmt.Errorf("exporting the guest's filesystem (banger-init export-tar /) failed with %v; its stderr ends with:\n%s",
				st, lastLines(stderr.String(), 10))
		} else if err != nil && ctx.Err() == nil && ectx.Err() == nil {
			err = b.failure(fmt.Errorf("exporting the guest's filesystem: %w", err))
		}
		pw.CloseWithError(err)
		done <- err
	}()
	layer := flatten.Layer{Digest: "guest filesystem", Open: func(context.Context) (io.ReadCloser, error) { return pr, nil }}
	_, aerr := flatten.Apply(ctx, sink, []flatten.Layer{layer}, flatten.Options{Verbatim: true})
	if aerr != nil {
		cancel()
		pr.CloseWithError(aerr)
	}
	eerr := <-done
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case eerr != nil && !errors.Is(eerr, context.Canceled):
		return eerr
	case aerr != nil:
		return compactError(aerr)
	}
	return nil
}

// compactError says which part of --compact failed, and which flag helps
// when the tree does not fit.
func compactError(err error) error {
	if errors.Is(err, ext4.ErrTooLarge) {
		return errdefs.Newf(errdefs.ErrInvalid, "the guest's files do not fit the compact image; give a larger --disk-size or leave it out: %v", err)
	}
	return fmt.Errorf("writing the compact root filesystem: %w", err)
}
