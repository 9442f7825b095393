package daemon

import (
	"context"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/testutil/busyboximage"
	"github.com/banger-dev/banger/internal/testutil/ext4check"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// bulkLayer is many small files of random bytes: a layer whose blob is
// big enough to be cut halfway with conversion well under way.
func bulkLayer(n int) ([]file, map[string]ext4check.Node) {
	r := rand.New(rand.NewPCG(7, 8))
	files := []file{dir("bulk", 0o755)}
	want := map[string]ext4check.Node{"bulk": {Type: "dir", Mode: 0o755}}
	for i := range n {
		data := make([]byte, 700)
		for j := range data {
			data[j] = byte(r.Uint32())
		}
		name := fmt.Sprintf("bulk/f%05d", i)
		files = append(files, reg(name, 0o644, string(data)))
		want[name] = ext4check.Node{Type: "file", Mode: 0o644, Size: int64(len(data)), SHA256: ext4check.SHA256(string(data)), Nlink: 1}
	}
	return files, want
}

// cutOnceRegistry is ggcr's in-process registry; the first GET of one blob
// sends half of it, waits for cut to close, then drops the connection.
func cutOnceRegistry(t *testing.T, blob v1.Hash, cut <-chan struct{}) string {
	t.Helper()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	var gets atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/blobs/"+blob.String()) || gets.Add(1) > 1 {
			reg.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		reg.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body[:len(body)/2])
		http.NewResponseController(w).Flush()
		<-cut
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// A pull converts each layer while it downloads. When the download it
// follows is cut after conversion has used some of its bytes, the retry
// may bring other bytes: the pull must start the conversion again from
// the verified blobs and publish exactly the image, with no trace of the
// first try.
func TestPullRestartsConversionWhenAFollowedDownloadIsCut(t *testing.T) {
	bulk, want := bulkLayer(3000)
	layers := append([][]file{bulk}, edgeLayers()...)
	for k, v := range edgeWant() {
		want[k] = v
	}
	img, err := busyboximage.FromLayers(layers, v1.Config{})
	if err != nil {
		t.Fatal(err)
	}
	imgLayers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	first, err := imgLayers[0].Digest()
	if err != nil {
		t.Fatal(err)
	}
	cut := make(chan struct{})
	ref := cutOnceRegistry(t, first, cut) + "/follow/cut:1"
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}

	layout, _ := tempLayout(t)
	td := startDaemon(t, layout, Hooks{})
	var once sync.Once
	var mu sync.Mutex
	var restarts []string
	res, err := td.client.PullImage(context.Background(), api.PullImageRequest{Ref: ref}, func(ev api.Event) {
		if ev.Phase == "convert" && ev.Item == fmt.Sprintf("layer 1/%d", len(layers)) && ev.Current > 0 {
			once.Do(func() { close(cut) }) // conversion has used bytes of the download
		}
		if ev.Phase == "restart" {
			mu.Lock()
			restarts = append(restarts, ev.Message)
			mu.Unlock()
		}
	})
	once.Do(func() { close(cut) })
	if err != nil {
		t.Fatalf("pull: %v", err)
	}
	if len(restarts) != 1 {
		t.Errorf("restart events %q, want one: the cut came after conversion had read from the download", restarts)
	}
	ext4check.Gate(t, res.Image.RootfsPath)
	ext4check.Compare(t, ext4check.Tree(t, ext4check.MountRO(t, res.Image.RootfsPath)), want)
	assertNoStaging(t, layout.ImagesDir())
}
