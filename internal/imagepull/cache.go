package imagepull

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/singleflight"
	"golang.org/x/sys/unix"
)

// Cache is a content-addressed blob store in OCI image layout
// (<root>/oci-layout, <root>/blobs/sha256/<hex>), so skopeo and crane can
// read it. Only verified bytes ever reach blobs/: downloads go to
// <root>/tmp/, are hashed while written, checked, fsynced and renamed into
// place, then made read-only. One download per digest runs at a time, in
// this process (shared wait) and across processes (flock on
// <root>/locks/<hex>.lock). A download in progress can be followed by a
// reader (Follow). Use NewCache; a Cache must not be copied.
type Cache struct {
	root   string
	flight singleflight.Group

	liveMu   sync.Mutex
	live     map[string]*liveBlob // downloads in progress, by digest hex
	liveWake chan struct{}        // closed (and replaced) when live changes
}

// Usage is what the cache holds.
type Usage struct {
	Blobs     int   // verified blobs
	Bytes     int64 // their total size
	TempBytes int64 // partial downloads in tmp/
}

const ociLayout = `{"imageLayoutVersion":"1.0.0"}`
const emptyIndex = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`

// NewCache opens (creating as needed) the cache rooted at root, e.g.
// ~/.cache/banger/oci.
func NewCache(root string) (*Cache, error) {
	c := &Cache{root: root, live: map[string]*liveBlob{}, liveWake: make(chan struct{})}
	for _, d := range []string{c.blobDir(), c.tmpDir(), c.lockDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("creating blob cache: %w", err)
		}
	}
	for name, content := range map[string]string{"oci-layout": ociLayout, "index.json": emptyIndex} {
		p := filepath.Join(root, name)
		if _, err := os.Stat(p); err == nil {
			continue
		}
		if err := writeFileAtomic(p, []byte(content), 0o644); err != nil {
			return nil, fmt.Errorf("creating blob cache: %w", err)
		}
	}
	return c, nil
}

// Root is the cache directory.
func (c *Cache) Root() string { return c.root }

func (c *Cache) blobDir() string { return filepath.Join(c.root, "blobs", "sha256") }
func (c *Cache) tmpDir() string  { return filepath.Join(c.root, "tmp") }
func (c *Cache) lockDir() string { return filepath.Join(c.root, "locks") }

// Path is where the blob with digest d lives once verified.
func (c *Cache) Path(d v1.Hash) string { return filepath.Join(c.blobDir(), d.Hex) }

// Has reports whether the verified blob d is present (with size bytes,
// unless size ≤ 0).
func (c *Cache) Has(d v1.Hash, size int64) bool {
	fi, err := os.Stat(c.Path(d))
	return err == nil && fi.Mode().IsRegular() && (size <= 0 || fi.Size() == size)
}

// checkDigest refuses digests the cache cannot verify or that are not a
// clean file name.
func checkDigest(d v1.Hash) error {
	if d.Algorithm != "sha256" || len(d.Hex) != 64 || strings.Trim(d.Hex, "0123456789abcdef") != "" {
		return newError(ErrUnsupported, nil, "digest %q is not a sha256 digest banger can verify", d)
	}
	return nil
}

// verifyBytes checks data against digest d.
func verifyBytes(data []byte, d v1.Hash) error {
	if err := checkDigest(d); err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != d.Hex {
		return newError(ErrDigestMismatch, nil, "content of %s has digest sha256:%s: the registry served the wrong bytes", d, got)
	}
	return nil
}

// PutBytes stores a small blob (a manifest or config) after verifying it.
func (c *Cache) PutBytes(d v1.Hash, data []byte) error {
	if err := verifyBytes(data, d); err != nil {
		return err
	}
	if c.Has(d, int64(len(data))) {
		return nil
	}
	if err := writeFileAtomic(c.Path(d), data, 0o444); err != nil {
		return fmt.Errorf("storing blob %s: %w", d, err)
	}
	return nil
}

// writeFileAtomic writes data to a temp file beside path, fsyncs, renames
// it over path and fsyncs the directory.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := commitFile(f, path, perm); err != nil {
		return err
	}
	return nil
}

// commitFile fsyncs f, sets perm, closes it, renames it to path and fsyncs
// the directory of path.
func commitFile(f *os.File, path string, perm os.FileMode) error {
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// lock takes the cross-process lock of digest hex, polling so ctx can
// cancel the wait.
func (c *Cache) lock(ctx context.Context, hexDigest string) (func(), error) {
	for {
		unlock, err := c.tryLock(hexDigest)
		if err == nil {
			return unlock, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("locking blob %s: %w", hexDigest, err)
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

// tryLock takes the lock of hex without waiting; unix.EWOULDBLOCK when busy.
func (c *Cache) tryLock(hexDigest string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(c.lockDir(), hexDigest+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// CleanTemp removes partial downloads no process is working on. Call it
// at daemon start.
func (c *Cache) CleanTemp() error {
	entries, err := os.ReadDir(c.tmpDir())
	if err != nil {
		return fmt.Errorf("cleaning blob cache: %w", err)
	}
	for _, e := range entries {
		hexDigest, _, _ := strings.Cut(e.Name(), ".")
		unlock, err := c.tryLock(hexDigest)
		if err != nil {
			continue // being downloaded right now
		}
		err = os.RemoveAll(filepath.Join(c.tmpDir(), e.Name()))
		unlock()
		if err != nil {
			return fmt.Errorf("cleaning blob cache: %w", err)
		}
	}
	return nil
}

// Prune removes every blob whose digest is not in keep, skipping blobs
// being downloaded, and returns the bytes freed.
func (c *Cache) Prune(keep []v1.Hash) (int64, error) {
	kept := map[string]bool{}
	for _, d := range keep {
		kept[d.Hex] = true
	}
	entries, err := os.ReadDir(c.blobDir())
	if err != nil {
		return 0, fmt.Errorf("pruning blob cache: %w", err)
	}
	var freed int64
	for _, e := range entries {
		if kept[e.Name()] || !e.Type().IsRegular() || checkDigest(v1.Hash{Algorithm: "sha256", Hex: e.Name()}) != nil {
			continue
		}
		n, err := c.removeBlob(e)
		if err != nil {
			return freed, fmt.Errorf("pruning blob cache: %w", err)
		}
		freed += n
	}
	return freed, nil
}

func (c *Cache) removeBlob(e fs.DirEntry) (int64, error) {
	unlock, err := c.tryLock(e.Name())
	if err != nil {
		return 0, nil // in use
	}
	defer unlock()
	fi, err := e.Info()
	if err != nil {
		return 0, nil // gone already
	}
	if err := os.Remove(filepath.Join(c.blobDir(), e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, err
	}
	os.Remove(filepath.Join(c.lockDir(), e.Name()+".lock"))
	return fi.Size(), nil
}

// Usage sums up what the cache holds.
func (c *Cache) Usage() (Usage, error) {
	var u Usage
	for _, d := range []string{c.blobDir(), c.tmpDir()} {
		entries, err := os.ReadDir(d)
		if err != nil {
			return u, fmt.Errorf("measuring blob cache: %w", err)
		}
		for _, e := range entries {
			fi, err := e.Info()
			if err != nil || !fi.Mode().IsRegular() {
				continue
			}
			if d == c.tmpDir() {
				u.TempBytes += fi.Size()
			} else {
				u.Blobs++
				u.Bytes += fi.Size()
			}
		}
	}
	return u, nil
}
