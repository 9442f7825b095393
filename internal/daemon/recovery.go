package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/banger-dev/banger/internal/paths"
)

// recover runs at startup, before the daemon is ready: it removes what
// interrupted operations left (staging directories, scratch files) and
// reports, without deleting anything, records whose files are gone and
// published directories nobody records.
func (d *Daemon) recover(ctx context.Context) error {
	if err := d.restoreAsideKernels(); err != nil {
		return err
	}
	if err := d.recoverMachines(ctx); err != nil {
		return err
	}
	for _, dir := range d.layout.ArtifactDirs() {
		if err := d.removeStaging(dir); err != nil {
			return err
		}
	}
	if err := d.emptyDir(d.layout.TmpDir()); err != nil {
		return err
	}
	if err := d.blobs.CleanTemp(); err != nil {
		return err
	}
	if err := d.auditImages(ctx); err != nil {
		return err
	}
	return d.auditKernels(ctx)
}

// removeStaging deletes every *.staging entry of dir.
func (d *Daemon) removeStaging(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading %s: %w", dir, err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), paths.StagingSuffix) {
			path := filepath.Join(dir, e.Name())
			d.log.Info("removing leftover staging directory", "path", path)
			if err := os.RemoveAll(path); err != nil {
				return fmt.Errorf("removing %s: %w", path, err)
			}
		}
	}
	return nil
}

// emptyDir deletes the contents of dir, keeping dir.
func (d *Daemon) emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading %s: %w", dir, err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("cleaning %s: %w", dir, err)
		}
	}
	return nil
}

// auditImages reports image rows whose rootfs is missing and removes image
// directories without a row: their names are random ids only banger makes,
// so such a directory is what a crash left between a rename and its store
// write (publish, replace or rm), and nobody was told it exists.
func (d *Daemon) auditImages(ctx context.Context) error {
	images, err := d.store.ListImages(ctx)
	if err != nil {
		return err
	}
	known := make(map[string]bool, len(images))
	for _, img := range images {
		known[img.ID] = true
		if _, err := os.Stat(img.RootfsPath); errors.Is(err, fs.ErrNotExist) {
			d.log.Warn("image rootfs is missing", "image", img.Name, "rootfs", img.RootfsPath)
		}
	}
	entries, err := os.ReadDir(d.layout.ImagesDir())
	if err != nil {
		return fmt.Errorf("reading %s: %w", d.layout.ImagesDir(), err)
	}
	for _, e := range entries {
		if !known[e.Name()] {
			d.log.Warn("removing unrecorded image directory", "path", filepath.Join(d.layout.ImagesDir(), e.Name()))
			d.removeImageDir(e.Name())
		}
	}
	return nil
}

// reportUnrecorded logs entries of dir that recorded does not know.
func (d *Daemon) reportUnrecorded(dir, kind string, recorded func(name string) bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading %s: %w", dir, err)
	}
	for _, e := range entries {
		if !recorded(e.Name()) {
			d.log.Warn("unrecorded "+kind+" directory (remove it by hand if unwanted)", "path", filepath.Join(dir, e.Name()))
		}
	}
	return nil
}

// auditKernels reports kernel rows whose directory is missing and kernel
// directories without a row.
func (d *Daemon) auditKernels(ctx context.Context) error {
	kernels, err := d.store.ListKernels(ctx)
	if err != nil {
		return err
	}
	known := make(map[string]bool, len(kernels))
	for _, k := range kernels {
		known[filepath.Base(k.Dir)] = true
		if _, err := os.Stat(k.Dir); errors.Is(err, fs.ErrNotExist) {
			d.log.Warn("kernel directory is missing", "kernel", k.Name, "dir", k.Dir)
		}
	}
	return d.reportUnrecorded(d.layout.KernelsDir(), "kernel", func(name string) bool { return known[name] })
}
