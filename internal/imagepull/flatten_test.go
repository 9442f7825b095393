package imagepull

import (
	"archive/tar"
	"context"
	"io"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/banger-dev/banger/internal/flatten"
)

// mapSink is a flat map filesystem: enough of flatten.Sink for files.
type mapSink map[string]string

func (m mapSink) Put(h *tar.Header, r io.Reader) error {
	b, err := io.ReadAll(io.LimitReader(r, h.Size))
	m[h.Name] = string(b)
	return err
}

func (m mapSink) Remove(name string) error {
	for k := range m {
		if k == name || strings.HasPrefix(k, name+"/") {
			delete(m, k)
		}
	}
	return nil
}

func (m mapSink) ReadDir(name string) ([]string, error) {
	var out []string
	for k := range m {
		if path.Dir(k) == name {
			out = append(out, path.Base(k))
		}
	}
	slices.Sort(out)
	return out, nil
}

// TestFlattenFromCache is the daemon's path in small: resolve, fetch into
// the cache, then flatten the cached layers oldest first.
func TestFlattenFromCache(t *testing.T) {
	tr := newTestRegistry(t)
	tr.push(t, "app:1", buildImage(t, amd64,
		gzipLayer(t, tarLayer(t, "etc/motd", "old", "etc/gone", "x")),
		zstdLayer(t, tarLayer(t, "etc/motd", "new", "etc/.wh.gone", ""))))
	opts := fastOpts(t)
	cl, _ := NewClient(opts)
	ref, _ := ParseReference(tr.host+"/app:1", false)
	res, err := cl.Resolve(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	cache := newCache(t)
	if err := cache.FetchAll(context.Background(), cl, res, nil); err != nil {
		t.Fatal(err)
	}
	var layers []flatten.Layer
	for _, b := range res.Layers {
		layers = append(layers, flatten.Layer{Digest: b.Digest.String(), Open: func(ctx context.Context) (io.ReadCloser, error) {
			return cache.Open(ctx, b.Digest)
		}})
	}
	sink := mapSink{}
	if _, err := flatten.Apply(context.Background(), sink, layers, flatten.Options{}); err != nil {
		t.Fatal(err)
	}
	if len(sink) != 1 || sink["etc/motd"] != "new" {
		t.Fatalf("flattened tree %v", sink)
	}
}
