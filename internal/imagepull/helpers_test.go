package imagepull

import (
	"archive/tar"
	"bytes"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/compression"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// testRegistry is ggcr's in-process registry behind a fault-injecting
// middleware that also counts requests per path.
type testRegistry struct {
	host string
	mu   sync.Mutex
	hits map[string]int
	// fault, if set, may handle the request itself (returning true).
	fault func(w http.ResponseWriter, r *http.Request, n int) bool
}

func newTestRegistry(t *testing.T) *testRegistry {
	t.Helper()
	tr := &testRegistry{hits: map[string]int{}}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tr.mu.Lock()
		key := r.Method + " " + r.URL.Path
		tr.hits[key]++
		n, fault := tr.hits[key], tr.fault
		tr.mu.Unlock()
		if fault != nil && fault(w, r, n) {
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	tr.host = strings.TrimPrefix(srv.URL, "http://")
	return tr
}

func (tr *testRegistry) setFault(f func(w http.ResponseWriter, r *http.Request, n int) bool) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.fault = f
}

func (tr *testRegistry) count(method, path string) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.hits[method+" "+path]
}

func (tr *testRegistry) blobPath(repo string, d v1.Hash) string {
	return "/v2/" + repo + "/blobs/" + d.String()
}

// tarLayer builds a tar of name→content files.
func tarLayer(t testing.TB, files ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i+1 < len(files); i += 2 {
		tw.WriteHeader(&tar.Header{Name: files[i], Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(files[i+1]))})
		io.WriteString(tw, files[i+1])
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipLayer(t testing.TB, tarData []byte) v1.Layer {
	t.Helper()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(tarData)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func zstdLayer(t testing.TB, tarData []byte) v1.Layer {
	t.Helper()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(tarData)), nil },
		tarball.WithCompression(compression.ZStd), tarball.WithMediaType(types.OCILayerZStd))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func plainLayer(tarData []byte) v1.Layer {
	return static.NewLayer(tarData, types.OCIUncompressedLayer)
}

// buildImage makes an image of the given platform and layers.
func buildImage(t testing.TB, plat Platform, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = plat.OS, plat.Architecture, plat.Variant
	cf.Config.Entrypoint = []string{"/bin/app"}
	cf.Config.Cmd = []string{"--serve"}
	cf.Config.Env = []string{"PATH=/bin", "A=b"}
	cf.Config.WorkingDir = "/srv"
	cf.Config.User = "1000:1000"
	cf.Config.ExposedPorts = map[string]struct{}{"80/tcp": {}}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func (tr *testRegistry) push(t testing.TB, ref string, img v1.Image) v1.Hash {
	t.Helper()
	r, err := name.ParseReference(tr.host + "/" + ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatalf("pushing %s: %v", r, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func digestOf(t testing.TB, l v1.Layer) v1.Hash {
	t.Helper()
	d, err := l.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// fastOpts are Options with quick retries and an isolated docker config.
func fastOpts(t *testing.T) Options {
	t.Helper()
	isolateAuth(t)
	return Options{Retry: RetryPolicy{Attempts: 3, Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond}}
}

// isolateAuth points HOME and DOCKER_CONFIG at empty temp dirs.
func isolateAuth(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	dc := filepath.Join(home, ".docker")
	os.MkdirAll(dc, 0o700)
	t.Setenv("HOME", home)
	t.Setenv("DOCKER_CONFIG", dc)
	t.Setenv("REGISTRY_AUTH_FILE", "")
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	return dc
}

func newCache(t *testing.T) *Cache {
	t.Helper()
	c, err := NewCache(filepath.Join(t.TempDir(), "oci"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// readTar lists name=content of a tar stream.
func readTar(t testing.TB, r io.Reader) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out = append(out, h.Name+"="+string(b))
	}
}

// blobFiles lists the cache's blobs/sha256 and tmp directories.
func blobFiles(t testing.TB, c *Cache) (blobs, tmp []string) {
	t.Helper()
	for _, d := range []string{c.blobDir(), c.tmpDir()} {
		entries, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if d == c.blobDir() {
				blobs = append(blobs, e.Name())
			} else {
				tmp = append(tmp, e.Name())
			}
		}
	}
	return blobs, tmp
}
