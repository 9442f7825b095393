package daemon

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/testutil/kernelfixture"
)

// The kernel fixtures are built here, not checked in: a bzImage that is
// only a real x86 boot header, a config with everything banger needs built
// in (so Inspect says it boots without modules), and tar.gz bundles.

// kernelBundle is a tar.gz laid out like a distro package: boot/vmlinuz-R,
// boot/config-R and lib/modules/R/modules.builtin.
func kernelBundle(t *testing.T, release string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, f := range []struct {
		name string
		body []byte
	}{
		{"boot/vmlinuz-" + release, kernelfixture.BzImage(release)},
		{"boot/config-" + release, []byte(kernelfixture.BuiltinConfig)},
		{"lib/modules/" + release + "/modules.builtin", []byte("kernel/fs/ext4/ext4.ko\n")},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(f.body)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	return buf.Bytes()
}

// catalogServer serves files by path and counts requests; a path under
// /truncated/ announces its full length but sends half.
type catalogServer struct {
	*httptest.Server
	mu    sync.Mutex
	files map[string][]byte
	hits  map[string]int
}

func newCatalogServer(t *testing.T) *catalogServer {
	cs := &catalogServer{files: map[string][]byte{}, hits: map[string]int{}}
	cs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cs.mu.Lock()
		cs.hits[r.URL.Path]++
		data, ok := cs.files[r.URL.Path]
		cs.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/truncated/") {
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			w.Write(data[:len(data)/2])
			return // the body ends short of its announced length
		}
		w.Write(data)
	}))
	t.Cleanup(cs.Close)
	return cs
}

func (cs *catalogServer) put(path string, data []byte) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.files[path] = data
}

func (cs *catalogServer) count(path string) int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.hits[path]
}

// bundleEntry is a catalog entry for a bundle served at path (which may be
// missing: for a 404); sha overrides the real hash when not empty.
func bundleEntry(cs *catalogServer, name, path, release string, data []byte, sha string) map[string]any {
	if sha == "" {
		sum := sha256.Sum256(data)
		sha = hex.EncodeToString(sum[:])
	}
	return map[string]any{
		"name": name, "version": "6.1.99", "arch": "amd64",
		"bundle": map[string]any{
			"url": cs.URL + path, "size": len(data), "sha256": sha, "format": "tar",
			"kernel": "boot/vmlinuz-" + release, "config": "boot/config-" + release,
			"modules": "lib/modules/" + release,
		},
	}
}

// putCatalog serves a catalog of entries at /catalog.json and returns its URL.
func (cs *catalogServer) putCatalog(t *testing.T, entries ...map[string]any) string {
	t.Helper()
	data, err := json.Marshal(map[string]any{"schema": 1, "kernels": entries})
	if err != nil {
		t.Fatal(err)
	}
	cs.put("/catalog.json", data)
	return cs.URL + "/catalog.json"
}

// importTestKernel installs a fake (but bootable by Inspect's rules)
// kernel called name from local files.
func importTestKernel(t *testing.T, td *testDaemon, name string) api.KernelResult {
	t.Helper()
	dir := t.TempDir()
	img, cfg := filepath.Join(dir, "vmlinuz-6.1.0-7-test"), filepath.Join(dir, "config")
	if err := os.WriteFile(img, kernelfixture.BzImage("6.1.0-7-test"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte(kernelfixture.BuiltinConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := td.client.ImportKernel(context.Background(), api.ImportKernelRequest{Name: name, Kernel: img, Config: cfg}, nil)
	if err != nil {
		t.Fatalf("importing kernel %s: %v", name, err)
	}
	return res
}

// assertNoKernel checks that kernel name left no row, directory or staging.
func assertNoKernel(t *testing.T, td *testDaemon, name string) {
	t.Helper()
	if _, err := td.client.InspectKernel(context.Background(), name); err == nil {
		t.Errorf("kernel %s is recorded", name)
	}
	if _, err := os.Stat(td.layout.KernelDir(name)); !os.IsNotExist(err) {
		t.Errorf("kernel dir %s exists: %v", name, err)
	}
	entries, _ := os.ReadDir(td.layout.KernelsDir())
	for _, e := range entries {
		if filepath.Ext(e.Name()) == ".staging" {
			t.Errorf("leftover %s", e.Name())
		}
	}
}
