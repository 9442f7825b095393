package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/banger-dev/banger/internal/model"
	"github.com/banger-dev/banger/internal/paths"
	"github.com/banger-dev/banger/internal/testutil/ext4check"
)

// stateCheck chooses what checkState tolerates.
type stateCheck struct {
	// AllowOrphans only logs image directories no row records (a crash
	// between publish and the store insert leaves one by design).
	AllowOrphans bool
	// NoGate skips the e2fsck gate (for checks repeated in a loop).
	NoGate bool
}

// checkState checks the invariants that must hold whenever no operation
// runs: every listed image is listed once and has a rootfs that passes the
// fsck gate; no staging directory, no partial download; every cached blob
// hashes to its name. It returns the images and the unrecorded image
// directories.
func (e *bangerEnv) checkState(t testing.TB, c stateCheck) ([]model.Image, []string) {
	t.Helper()
	images := e.images(t)
	ids := map[string]bool{}
	names := map[string]bool{}
	for _, img := range images {
		if names[img.Name] || ids[img.ID] {
			t.Errorf("image %s (id %s) is listed twice", img.Name, img.ID)
		}
		names[img.Name], ids[img.ID] = true, true
		if want := filepath.Join(e.layout.ImageDir(img.ID), "rootfs.ext4"); img.RootfsPath != want {
			t.Errorf("image %s: rootfs %s, want %s", img.Name, img.RootfsPath, want)
		}
		if _, err := os.Stat(img.RootfsPath); err != nil {
			t.Errorf("image %s is listed but its rootfs is not there: %v", img.Name, err)
			continue
		}
		if !c.NoGate {
			ext4check.Gate(t, img.RootfsPath)
		}
	}
	orphans := e.checkImagesDir(t, ids)
	if len(orphans) > 0 && !c.AllowOrphans {
		t.Errorf("image directories no row records: %v", orphans)
	}
	e.checkNoPartials(t)
	e.checkBlobs(t)
	return images, orphans
}

// checkImagesDir fails on staging leftovers and returns unrecorded entries.
func (e *bangerEnv) checkImagesDir(t testing.TB, ids map[string]bool) []string {
	t.Helper()
	entries, err := os.ReadDir(e.layout.ImagesDir())
	if err != nil {
		t.Fatalf("reading images dir: %v", err)
	}
	var orphans []string
	for _, ent := range entries {
		switch {
		case strings.HasSuffix(ent.Name(), paths.StagingSuffix):
			t.Errorf("staging directory left behind: %s", ent.Name())
		case !ids[ent.Name()]:
			orphans = append(orphans, ent.Name())
		}
	}
	return orphans
}

// checkNoPartials fails if the blob cache or the state tmp dir holds
// scratch files.
func (e *bangerEnv) checkNoPartials(t testing.TB) {
	t.Helper()
	for _, dir := range []string{filepath.Join(e.layout.OCIDir(), "tmp"), e.layout.TmpDir()} {
		entries, err := os.ReadDir(dir)
		if err != nil && !os.IsNotExist(err) {
			t.Errorf("reading %s: %v", dir, err)
		}
		for _, ent := range entries {
			t.Errorf("scratch file left behind: %s", filepath.Join(dir, ent.Name()))
		}
	}
}

// checkBlobs fails for every cached blob whose content does not hash to its
// name, and for any file there that is not a blob.
func (e *bangerEnv) checkBlobs(t testing.TB) {
	t.Helper()
	dir := e.layout.OCIBlobsDir()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatalf("reading blob cache: %v", err)
	}
	for _, ent := range entries {
		sum, err := ext4check.FileDigest(filepath.Join(dir, ent.Name()))
		if err != nil {
			t.Errorf("reading blob %s: %v", ent.Name(), err)
			continue
		}
		if sum != ent.Name() {
			t.Errorf("cached blob %s hashes to %s", ent.Name(), sum)
		}
	}
}

// hasBlob reports whether the cache holds a blob under hex.
func (e *bangerEnv) hasBlob(hex string) bool {
	_, err := os.Stat(e.layout.BlobPath(hex))
	return err == nil
}
