package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/errdefs"
	"github.com/banger-dev/banger/internal/kernelcat"
	"github.com/banger-dev/banger/internal/model"
	"github.com/banger-dev/banger/internal/paths"
)

// Kernels live in kernels/<name>/ as kernelcat leaves them (vmlinuz or
// vmlinux, modules/<release>/, initrd, config, kernel.json). The store row
// records the kernel; everything about its files is read back from
// kernel.json and kernelcat.Inspect by describeKernel, so code that needs a
// kernel's files calls d.kernel, not d.store.GetKernel.

func (d *Daemon) kernelRoutes(mux *http.ServeMux) {
	mux.Handle("GET "+api.PathKernels, d.jsonHandler(d.handleKernelList))
	mux.Handle("GET "+api.PathKernel, d.jsonHandler(d.handleKernelInspect))
	mux.Handle("DELETE "+api.PathKernel, d.jsonHandler(d.handleKernelRemove))
	mux.Handle("POST "+api.PathKernelPull, d.streamHandler(func(r *http.Request, progress api.ProgressFunc) (any, error) {
		var req api.PullKernelRequest
		if err := decodeBody(r, &req); err != nil {
			return nil, err
		}
		return d.pullKernel(r.Context(), req, progress)
	}))
	mux.Handle("POST "+api.PathKernelImport, d.streamHandler(func(r *http.Request, progress api.ProgressFunc) (any, error) {
		var req api.ImportKernelRequest
		if err := decodeBody(r, &req); err != nil {
			return nil, err
		}
		return d.importKernel(r.Context(), req, progress)
	}))
	mux.Handle("PUT "+api.PathImageKernel, d.jsonHandler(d.handleSetImageKernel))
}

func (d *Daemon) handleKernelList(r *http.Request) (any, error) {
	rows, err := d.store.ListKernels(r.Context())
	if err != nil {
		return nil, err
	}
	kernels := make([]model.Kernel, len(rows))
	for i, k := range rows {
		kernels[i], _ = d.describeKernel(r.Context(), k)
	}
	return kernels, nil
}

func (d *Daemon) handleKernelInspect(r *http.Request) (any, error) {
	row, err := d.store.GetKernel(r.Context(), r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	k, rep := d.describeKernel(r.Context(), row)
	return api.KernelDetails{Kernel: k, Report: apiReport(k.Dir, rep)}, nil
}

// kernel returns the installed kernel called name with its file fields
// filled in, or errdefs.ErrNotFound.
func (d *Daemon) kernel(ctx context.Context, name string) (model.Kernel, error) {
	row, err := d.store.GetKernel(ctx, name)
	if err != nil {
		return model.Kernel{}, err
	}
	k, _ := d.describeKernel(ctx, row)
	return k, nil
}

// bootKernel is kernel for a boot: it refuses a kernel that is known not
// to boot under QEMU microvm (wrong architecture, an ELF without a PVH
// note, a missing virtio/ext4 option...), naming why. A kernel whose config
// is unknown is tried.
func (d *Daemon) bootKernel(ctx context.Context, name string) (model.Kernel, error) {
	row, err := d.store.GetKernel(ctx, name)
	if err != nil {
		return model.Kernel{}, err
	}
	k, rep := d.describeKernel(ctx, row)
	if rep != nil && len(rep.Blockers) > 0 {
		return model.Kernel{}, errdefs.Newf(errdefs.ErrInvalid, "kernel %q cannot boot under QEMU microvm: %s (see banger kernel inspect %s)",
			name, strings.Join(rep.Blockers, "; "), name)
	}
	return k, nil
}

// describeKernel fills the file fields of a stored kernel from its
// kernel.json and its Boots verdict from kernelcat.Inspect. A kernel whose
// files cannot be read keeps the stored fields, with Boots false and the
// reason in the report.
func (d *Daemon) describeKernel(ctx context.Context, k model.Kernel) (model.Kernel, *kernelcat.Report) {
	m, err := kernelcat.ReadManifest(k.Dir)
	if err != nil {
		d.log.Warn("reading kernel manifest", "kernel", k.Name, "err", err)
		msg := fmt.Sprintf("cannot read the kernel's files: %v", err)
		return k, &kernelcat.Report{Reasons: []string{msg}, Blockers: []string{msg}}
	}
	abs := func(rel string) string {
		if rel == "" {
			return ""
		}
		return filepath.Join(k.Dir, filepath.FromSlash(rel))
	}
	k.Release, k.Format = m.Release, string(m.Format)
	k.Image, k.Modules, k.Initrd, k.Config = abs(m.Image), abs(m.Modules), abs(m.Initrd), abs(m.Config)
	rep, err := kernelcat.Inspect(ctx, k.Dir)
	if err != nil {
		d.log.Warn("inspecting kernel", "kernel", k.Name, "err", err)
		msg := fmt.Sprintf("inspecting the kernel: %v", err)
		return k, &kernelcat.Report{Reasons: []string{msg}, Blockers: []string{msg}}
	}
	k.Boots = rep.BootsUnderQEMUMicrovm
	return k, rep
}

// apiReport converts a kernelcat report to its wire form, with the module
// files made absolute under dir.
func apiReport(dir string, r *kernelcat.Report) api.KernelReport {
	out := api.KernelReport{
		Boots: r.BootsUnderQEMUMicrovm, Reasons: r.Reasons, PVH: r.Image.PVH, ConfigSource: r.ConfigSource,
		Options: []api.KernelOption{}, ModulesNeeded: r.ModulesNeeded, ModuleFiles: []string{},
	}
	for _, o := range r.Options {
		out.Options = append(out.Options, api.KernelOption{Symbol: o.Symbol, State: string(o.State),
			Module: o.Module, Required: o.Required, Purpose: o.Purpose})
	}
	for _, f := range r.ModuleFiles {
		out.ModuleFiles = append(out.ModuleFiles, filepath.Join(dir, filepath.FromSlash(f)))
	}
	if out.Reasons == nil {
		out.Reasons = []string{}
	}
	if out.ModulesNeeded == nil {
		out.ModulesNeeded = []string{}
	}
	return out
}

// handleKernelRemove deletes a kernel: refused while images name it, unless
// ?force=1 (the images then keep a reference to a missing kernel). The row
// goes first, then the directory, renamed aside so that an interrupted
// removal is finished at the next start.
func (d *Daemon) handleKernelRemove(r *http.Request) (any, error) {
	ctx, name := r.Context(), r.PathValue("name")
	force := r.URL.Query().Get("force")
	unlock, err := d.lockName(ctx, "kernel", name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	k, err := d.store.GetKernel(ctx, name)
	if err != nil {
		return nil, err
	}
	users, err := d.kernelUsers(ctx, name)
	if err != nil {
		return nil, err
	}
	if len(users) > 0 && force != "1" && force != "true" {
		return nil, errdefs.Newf(errdefs.ErrConflict,
			"kernel %q is used by image(s) %s; point them at another kernel (banger image set-kernel IMAGE KERNEL) or use --force",
			name, strings.Join(users, ", "))
	}
	if err := d.store.DeleteKernel(ctx, name); err != nil {
		return nil, err
	}
	trash := k.Dir + "~rm" + paths.StagingSuffix
	if err := os.Rename(k.Dir, trash); err != nil && !errors.Is(err, fs.ErrNotExist) {
		d.log.Error("removing kernel directory", "kernel", name, "err", err)
		return nil, nil
	}
	d.discard(trash)
	d.log.Info("kernel removed", "kernel", name, "images", users)
	return nil, nil
}

// kernelUsers lists the names of the images that boot with kernel name.
func (d *Daemon) kernelUsers(ctx context.Context, name string) ([]string, error) {
	images, err := d.store.ListImages(ctx)
	if err != nil {
		return nil, err
	}
	var users []string
	for _, img := range images {
		if img.Kernel == name {
			users = append(users, img.Name)
		}
	}
	return users, nil
}

// validateKernelName checks a kernel name (the common rules keep names
// from looking like staging directories, which startup removes).
func validateKernelName(name string) error { return validateName("kernel", name) }

// kernelError tags a kernelcat error with its errdefs category.
func kernelError(err error) error {
	if err == nil || errdefs.CategoryOf(err) != "" {
		return err
	}
	var netErr net.Error
	switch {
	case errors.Is(err, kernelcat.ErrUnknownKernel), errors.Is(err, kernelcat.ErrNotFound), errors.Is(err, fs.ErrNotExist):
		return errdefs.Wrap(errdefs.ErrNotFound, err)
	case errors.Is(err, kernelcat.ErrInvalidCatalog), errors.Is(err, kernelcat.ErrUnsafePath),
		errors.Is(err, kernelcat.ErrChecksum), errors.Is(err, kernelcat.ErrSize),
		errors.Is(err, kernelcat.ErrUnsupported), errors.Is(err, kernelcat.ErrTooLarge):
		return errdefs.Wrap(errdefs.ErrInvalid, err)
	case errors.Is(err, kernelcat.ErrTruncated), errors.As(err, &netErr):
		return errdefs.Wrap(errdefs.ErrUnavailable, err)
	}
	return err
}
