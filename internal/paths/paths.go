// Package paths computes banger's on-disk layout from the XDG base directory
// variables. Nothing here reads the process environment on its own: callers
// pass a lookup function (os.Getenv in production, a map in tests).
//
//	state   $XDG_STATE_HOME/banger  (default ~/.local/state/banger)
//	        banger.db, daemon.lock, daemon.log, images/<id>/, kernels/<name>/, vms/<id>/, tmp/
//	cache   $XDG_CACHE_HOME/banger  (default ~/.cache/banger)
//	        oci/blobs/sha256/<hex>
//	runtime $XDG_RUNTIME_DIR/banger (fallback /tmp/banger-<uid>)
//	        bangerd.sock
package paths

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// StagingSuffix marks an artifact directory still being built; startup
// recovery removes anything carrying it.
const StagingSuffix = ".staging"

// Layout holds banger's three roots; every other path derives from them.
// Build one with FromEnv, or fill the fields directly in tests.
type Layout struct {
	StateDir   string // persistent state: database, images, kernels, VMs
	CacheDir   string // re-downloadable data: the OCI blob cache
	RuntimeDir string // the daemon socket
}

// FromEnv computes the layout from getenv (HOME, XDG_STATE_HOME,
// XDG_CACHE_HOME, XDG_RUNTIME_DIR). Relative XDG values are ignored, as the
// XDG spec asks. Without XDG_RUNTIME_DIR the socket lives in /tmp/banger-<uid>.
func FromEnv(getenv func(string) string) (Layout, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	state, err := xdgDir(getenv, "XDG_STATE_HOME", ".local/state")
	if err != nil {
		return Layout{}, err
	}
	cache, err := xdgDir(getenv, "XDG_CACHE_HOME", ".cache")
	if err != nil {
		return Layout{}, err
	}
	runtime := filepath.Join(os.TempDir(), fmt.Sprintf("banger-%d", os.Getuid()))
	if dir := getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(dir) {
		runtime = filepath.Join(dir, "banger")
	}
	return Layout{StateDir: filepath.Join(state, "banger"), CacheDir: filepath.Join(cache, "banger"), RuntimeDir: runtime}, nil
}

func xdgDir(getenv func(string) string, key, homeRel string) (string, error) {
	if dir := getenv(key); filepath.IsAbs(dir) {
		return dir, nil
	}
	home := getenv("HOME")
	if !filepath.IsAbs(home) {
		return "", errors.New("locating state directories: neither " + key + " nor HOME is an absolute path")
	}
	return filepath.Join(home, homeRel), nil
}

// DBPath is the SQLite database.
func (l Layout) DBPath() string { return filepath.Join(l.StateDir, "banger.db") }

// LockPath is the file the running daemon holds an flock on.
func (l Layout) LockPath() string { return filepath.Join(l.StateDir, "daemon.lock") }

// LogPath is the daemon's log file.
func (l Layout) LogPath() string { return filepath.Join(l.StateDir, "daemon.log") }

// TmpDir holds scratch files; the daemon empties it at startup.
func (l Layout) TmpDir() string { return filepath.Join(l.StateDir, "tmp") }

// ImagesDir holds one directory per image, named by image id.
func (l Layout) ImagesDir() string { return filepath.Join(l.StateDir, "images") }

// ImageDir is the published directory of image id.
func (l Layout) ImageDir(id string) string { return filepath.Join(l.ImagesDir(), id) }

// KernelsDir holds one directory per kernel, named by kernel name.
func (l Layout) KernelsDir() string { return filepath.Join(l.StateDir, "kernels") }

// KernelDir is the published directory of kernel name.
func (l Layout) KernelDir(name string) string { return filepath.Join(l.KernelsDir(), name) }

// VMsDir holds one directory per VM, named by VM id.
func (l Layout) VMsDir() string { return filepath.Join(l.StateDir, "vms") }

// VMDir is the directory of VM id.
func (l Layout) VMDir(id string) string { return filepath.Join(l.VMsDir(), id) }

// ArtifactDirs lists the directories whose entries are published artifacts
// (and whose *.staging entries are leftovers).
func (l Layout) ArtifactDirs() []string {
	return []string{l.ImagesDir(), l.KernelsDir(), l.VMsDir()}
}

// OCIDir is the blob cache, an OCI image layout (oci-layout, blobs/).
func (l Layout) OCIDir() string { return filepath.Join(l.CacheDir, "oci") }

// OCIBlobsDir is the OCI-layout blob directory of the cache.
func (l Layout) OCIBlobsDir() string { return filepath.Join(l.OCIDir(), "blobs", "sha256") }

// BlobPath is the cached blob with the given sha256 hex digest.
func (l Layout) BlobPath(hex string) string { return filepath.Join(l.OCIBlobsDir(), hex) }

// SocketPath is the daemon's Unix socket.
func (l Layout) SocketPath() string { return filepath.Join(l.RuntimeDir, "bangerd.sock") }
