package imagepull

import (
	"context"
	"errors"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/banger-dev/banger/internal/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// pushed is a one-layer image in a test registry.
type pushed struct {
	tr    *testRegistry
	res   *Resolved
	layer Blob
}

func pushOne(t *testing.T, files ...string) pushed {
	t.Helper()
	tr := newTestRegistry(t)
	tr.push(t, "app:1", buildImage(t, amd64, gzipLayer(t, tarLayer(t, files...))))
	res, err := Resolve(context.Background(), tr.host+"/app:1", fastOpts(t))
	if err != nil {
		t.Fatal(err)
	}
	return pushed{tr: tr, res: res, layer: res.Layers[0]}
}

func (p pushed) client(t *testing.T) *Client {
	t.Helper()
	c, err := NewClient(Options{Retry: RetryPolicy{Attempts: 3, Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFetchAllAndOpen(t *testing.T) {
	tr := newTestRegistry(t)
	layers := []v1.Layer{gzipLayer(t, tarLayer(t, "a", "gz")), zstdLayer(t, tarLayer(t, "b", "zst")), plainLayer(tarLayer(t, "c", "plain"))}
	tr.push(t, "app:1", buildImage(t, amd64, layers...))
	opts := fastOpts(t)
	cl, err := NewClient(opts)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := ParseReference(tr.host+"/app:1", false)
	res, err := cl.Resolve(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	cache := newCache(t)
	var mu sync.Mutex
	final := map[int]LayerProgress{}
	err = cache.FetchAll(context.Background(), cl, res, func(p LayerProgress) {
		mu.Lock()
		final[p.Index] = p
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"a=gz"}, {"b=zst"}, {"c=plain"}}
	for i, b := range res.Layers {
		if p := final[i]; p.Done != b.Size || p.Total != b.Size {
			t.Errorf("layer %d progress %+v, size %d", i, p, b.Size)
		}
		fi, err := os.Stat(cache.Path(b.Digest))
		if err != nil || fi.Mode().Perm() != 0o444 {
			t.Errorf("layer %d blob: %v %v", i, fi, err)
		}
		rc, err := cache.Open(context.Background(), b.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if got := readTar(t, rc); !slices.Equal(got, want[i]) {
			t.Errorf("layer %d holds %v, want %v", i, got, want[i])
		}
		rc.Close()
	}
	// A second pull is served from the cache: no blob requests.
	before := tr.count("GET", tr.blobPath("app", res.Layers[0].Digest))
	var cached atomic.Int32
	if err := cache.FetchAll(context.Background(), cl, res, func(p LayerProgress) {
		if p.Cached {
			cached.Add(1)
		}
	}); err != nil || cached.Load() != 3 || tr.count("GET", tr.blobPath("app", res.Layers[0].Digest)) != before {
		t.Errorf("cached pull: err=%v cached=%d", err, cached.Load())
	}
	if _, err := os.Stat(cache.Root() + "/oci-layout"); err != nil {
		t.Errorf("no oci-layout file: %v", err)
	}
}

func TestFetchTamperedBlob(t *testing.T) {
	p := pushOne(t, "etc/passwd", "root:x:0:0::/root:/bin/sh\n")
	path := p.tr.blobPath("app", p.layer.Digest)
	p.tr.setFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Path != path || r.Method != http.MethodGet {
			return false
		}
		evil := make([]byte, p.layer.Size) // right length, wrong bytes
		w.Header().Set("Content-Length", strconv.FormatInt(p.layer.Size, 10))
		w.Write(evil)
		return true
	})
	cache := newCache(t)
	err := cache.Fetch(context.Background(), p.client(t), p.res.Repo, p.layer, nil)
	if !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("want ErrDigestMismatch, got %v", err)
	}
	if blobs, tmp := blobFiles(t, cache); len(blobs) != 0 || len(tmp) != 0 {
		t.Fatalf("unverified bytes left behind: blobs %v tmp %v", blobs, tmp)
	}
}

func TestFetchTruncatedBlob(t *testing.T) {
	p := pushOne(t, "big", strings.Repeat("data", 4096))
	path := p.tr.blobPath("app", p.layer.Digest)
	p.tr.setFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Path != path || r.Method != http.MethodGet {
			return false
		}
		w.Header().Set("Content-Length", strconv.FormatInt(p.layer.Size, 10))
		w.Write(make([]byte, p.layer.Size/2)) // then the handler ends: the connection is cut
		return true
	})
	cache := newCache(t)
	err := cache.Fetch(context.Background(), p.client(t), p.res.Repo, p.layer, nil)
	if !errors.Is(err, ErrNetwork) || !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("want ErrNetwork, got %v", err)
	}
	if n := p.tr.count("GET", path); n != 3 {
		t.Errorf("blob fetched %d times, want 3 attempts", n)
	}
	if blobs, tmp := blobFiles(t, cache); len(blobs) != 0 || len(tmp) != 0 {
		t.Fatalf("partial bytes left behind: blobs %v tmp %v", blobs, tmp)
	}
}

func TestFetchRecoversFrom500(t *testing.T) {
	p := pushOne(t, "f", "content")
	path := p.tr.blobPath("app", p.layer.Digest)
	p.tr.setFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Path == path && r.Method == http.MethodGet && n <= 2 {
			http.Error(w, "boom", http.StatusInternalServerError)
			return true
		}
		return false
	})
	cache := newCache(t)
	if err := cache.Fetch(context.Background(), p.client(t), p.res.Repo, p.layer, nil); err != nil {
		t.Fatal(err)
	}
	if n := p.tr.count("GET", path); n != 3 {
		t.Errorf("blob requested %d times, want 3", n)
	}
	if !cache.Has(p.layer.Digest, p.layer.Size) {
		t.Error("blob not cached")
	}
}

func TestFetchPersistent500(t *testing.T) {
	p := pushOne(t, "f", "content")
	path := p.tr.blobPath("app", p.layer.Digest)
	p.tr.setFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Path == path {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	err := newCache(t).Fetch(context.Background(), p.client(t), p.res.Repo, p.layer, nil)
	if !errors.Is(err, ErrRegistry) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("want ErrRegistry naming 503, got %v", err)
	}
}

func TestRateLimit(t *testing.T) {
	p := pushOne(t, "f", "content")
	path := p.tr.blobPath("app", p.layer.Digest)
	p.tr.setFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Path != path {
			return false
		}
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}
		return false
	})
	cache := newCache(t)
	start := time.Now()
	if err := cache.Fetch(context.Background(), p.client(t), p.res.Repo, p.layer, nil); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < time.Second {
		t.Errorf("Retry-After: 1 not honoured (waited %v)", waited)
	}

	p.tr.setFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
		return true
	})
	_, err := Resolve(context.Background(), p.tr.host+"/app:1", fastOpts(t))
	if !errors.Is(err, ErrRateLimited) || !strings.Contains(err.Error(), "2m0s") || !strings.Contains(err.Error(), "banger login") {
		t.Fatalf("want ErrRateLimited with the wait, got %v", err)
	}
}

func TestConcurrentFetchesDownloadOnce(t *testing.T) {
	p := pushOne(t, "f", strings.Repeat("x", 1<<16))
	path := p.tr.blobPath("app", p.layer.Digest)
	p.tr.setFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Path == path {
			time.Sleep(200 * time.Millisecond) // keep the first download in flight
		}
		return false
	})
	cache := newCache(t)
	other, err := NewCache(cache.Root()) // a second "process" on the same directory
	if err != nil {
		t.Fatal(err)
	}
	cl := p.client(t)
	var wg sync.WaitGroup
	var failures atomic.Int32
	for _, c := range []*Cache{cache, cache, cache, other, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Fetch(context.Background(), cl, p.res.Repo, p.layer, nil); err != nil {
				t.Error(err)
				failures.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := p.tr.count("GET", path); n != 1 || failures.Load() != 0 {
		t.Fatalf("blob downloaded %d times, want once", n)
	}
}

func TestFetchCanceled(t *testing.T) {
	p := pushOne(t, "f", "content")
	p.tr.setFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		time.Sleep(300 * time.Millisecond)
		return false
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	cache := newCache(t)
	err := cache.Fetch(ctx, p.client(t), p.res.Repo, p.layer, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want the context's error, got %v", err)
	}
}
