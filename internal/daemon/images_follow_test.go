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
	"time"

	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/testutil/ext4check"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
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

// halfThen is a blob GET answer that sends the first half of body, waits
// for release, then either sends the rest or (cut) drops the connection.
func halfThen(w http.ResponseWriter, body []byte, release <-chan struct{}, cut bool) {
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body[:len(body)/2])
	http.NewResponseController(w).Flush()
	<-release
	if !cut {
		w.Write(body[len(body)/2:])
		return
	}
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		conn.Close()
	}
}

// hookedRegistry is ggcr's in-process registry that lets hook answer blob
// GETs: hook gets the blob's digest, which GET of it this is (from 1) and
// its bytes, and returns false to let the registry answer.
func hookedRegistry(t *testing.T, hook func(w http.ResponseWriter, digest string, n int, body []byte) bool) string {
	t.Helper()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	var mu sync.Mutex
	gets := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, digest, isBlob := strings.Cut(r.URL.Path, "/blobs/")
		if r.Method != http.MethodGet || !isBlob {
			reg.ServeHTTP(w, r)
			return
		}
		mu.Lock()
		gets[digest]++
		n := gets[digest]
		mu.Unlock()
		rec := httptest.NewRecorder()
		reg.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK || !hook(w, digest, n, rec.Body.Bytes()) {
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			w.Write(rec.Body.Bytes())
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// blobCounts is what a countingRegistry saw: GETs and sizes per blob.
type blobCounts struct {
	mu    sync.Mutex
	n     map[string]int
	bytes map[string]int64
}

func (c *blobCounts) gets(digest string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[digest]
}

func (c *blobCounts) size(digest string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes[digest]
}

// countingRegistry is a hookedRegistry that counts blob GETs.
func countingRegistry(t *testing.T) (string, *blobCounts) {
	t.Helper()
	c := &blobCounts{n: map[string]int{}, bytes: map[string]int64{}}
	host := hookedRegistry(t, func(_ http.ResponseWriter, digest string, _ int, body []byte) bool {
		c.mu.Lock()
		c.n[digest]++
		c.bytes[digest] = int64(len(body))
		c.mu.Unlock()
		return false
	})
	return host, c
}

// pushLayers pushes an image of layers to ref and returns its layer
// digests.
func pushLayers(t *testing.T, ref string, layers [][]file) []string {
	t.Helper()
	img := pushImage(t, ref, layers, v1.Config{})
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var digests []string
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, d.String())
	}
	return digests
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
	cut := make(chan struct{})
	var first atomic.Value
	host := hookedRegistry(t, func(w http.ResponseWriter, digest string, n int, body []byte) bool {
		if digest != first.Load() || n > 1 {
			return false
		}
		halfThen(w, body, cut, true)
		return true
	})
	ref := host + "/follow/cut:1"
	first.Store(pushLayers(t, ref, layers)[0])

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
	ext4check.GateUntouched(t, res.Image.RootfsPath)
	ext4check.Compare(t, ext4check.Tree(t, ext4check.MountRO(t, res.Image.RootfsPath)), want)
	assertNoStaging(t, layout.ImagesDir())
}

// Layers download one at a time while conversion keeps up; once
// conversion waits on a slow download, the next layers start alongside
// it. Here the first layer's server holds the second half until the
// second layer is asked for: a pull that never widened would hang.
func TestPullWidensDownloadsWhenConversionWaits(t *testing.T) {
	bulk, want := bulkLayer(500)
	second := []file{reg("second.txt", 0o644, "two")}
	want["second.txt"] = ext4check.Node{Type: "file", Mode: 0o644, Size: 3, SHA256: ext4check.SHA256("two"), Nlink: 1}
	var digests atomic.Value
	var timedOut atomic.Bool
	secondAsked := make(chan struct{})
	var askOnce sync.Once
	host := hookedRegistry(t, func(w http.ResponseWriter, digest string, n int, body []byte) bool {
		ds := digests.Load().([]string)
		switch digest {
		case ds[1]:
			askOnce.Do(func() { close(secondAsked) })
			return false
		case ds[0]:
			release := make(chan struct{})
			go func() {
				select {
				case <-secondAsked:
				case <-time.After(20 * time.Second): // fail the test, not hang it
					timedOut.Store(true)
				}
				close(release)
			}()
			halfThen(w, body, release, false)
			return true
		}
		return false
	})
	ref := host + "/follow/wide:1"
	digests.Store(pushLayers(t, ref, [][]file{bulk, second}))

	layout, _ := tempLayout(t)
	td := startDaemon(t, layout, Hooks{})
	res, err := td.client.PullImage(context.Background(), api.PullImageRequest{Ref: ref}, func(api.Event) {})
	if err != nil {
		t.Fatalf("pull: %v", err)
	}
	if timedOut.Load() {
		t.Fatal("the second layer was asked for only after the first had downloaded: conversion waited on the network without widening")
	}
	ext4check.GateUntouched(t, res.Image.RootfsPath)
	ext4check.Compare(t, ext4check.Tree(t, ext4check.MountRO(t, res.Image.RootfsPath)), want)
}

// A second image that shares its base layers with one already pulled
// fetches only its own layers: the registry sees no GET of a shared blob,
// and DownloadedBytes counts the new layer alone.
func TestPullSharedBaseFetchesOnlyNewLayers(t *testing.T) {
	host, counts := countingRegistry(t)
	base := [][]file{{dir("etc", 0o755), reg("etc/os", 0o644, "base")}, {reg("usr.txt", 0o644, "usr")}}
	first := pushLayers(t, host+"/shared/app:a", append(base, []file{reg("a.txt", 0o644, "a")}))
	second := pushLayers(t, host+"/shared/app:b", append(base, []file{reg("b.txt", 0o644, "b")}))

	layout, _ := tempLayout(t)
	td := startDaemon(t, layout, Hooks{})
	if _, err := pull(context.Background(), td, api.PullImageRequest{Ref: host + "/shared/app:a"}); err != nil {
		t.Fatal(err)
	}
	res, err := pull(context.Background(), td, api.PullImageRequest{Ref: host + "/shared/app:b"})
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range second {
		if i < len(base) && d != first[i] {
			t.Fatalf("layer %d differs between the images: the test's premise is wrong", i)
		}
		if n := counts.gets(d); n != 1 {
			t.Errorf("layer %d (%s) was fetched %d times over both pulls, want once", i, d, n)
		}
	}
	if own := counts.size(second[len(base)]); res.DownloadedBytes != own {
		t.Errorf("DownloadedBytes = %d, want %d (the second image's own layer)", res.DownloadedBytes, own)
	}
	ext4check.GateUntouched(t, res.Image.RootfsPath)
	tree := ext4check.Tree(t, ext4check.MountRO(t, res.Image.RootfsPath))
	if _, ok := tree["a.txt"]; ok || tree["b.txt"].Type != "file" || tree["etc/os"].Type != "file" || tree["usr.txt"].Type != "file" {
		t.Errorf("second image's tree: %v", tree)
	}
}

// An image may list one blob twice (empty layers often are): it is
// downloaded once, converted twice, and counted once.
func TestPullRepeatedLayer(t *testing.T) {
	host, counts := countingRegistry(t)
	a := []file{dir("etc", 0o755), reg("etc/a", 0o644, "a")}
	b := []file{whiteout("etc/.wh.a"), reg("b", 0o644, "b")}
	digests := pushLayers(t, host+"/repeat/app:1", [][]file{a, b, a})
	if digests[0] != digests[2] {
		t.Fatal("the repeated layer got two digests: the test's premise is wrong")
	}
	layout, _ := tempLayout(t)
	td := startDaemon(t, layout, Hooks{})
	res, err := pull(context.Background(), td, api.PullImageRequest{Ref: host + "/repeat/app:1"})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := counts.gets(digests[0]), counts.gets(digests[1]); a != 1 || b != 1 {
		t.Errorf("blob GETs: %d and %d, want each blob once", a, b)
	}
	if want := counts.size(digests[0]) + counts.size(digests[1]); res.DownloadedBytes != want {
		t.Errorf("DownloadedBytes = %d, want %d", res.DownloadedBytes, want)
	}
	tree := ext4check.Tree(t, ext4check.MountRO(t, res.Image.RootfsPath))
	if tree["etc/a"].Type != "file" || tree["b"].Type != "file" {
		t.Errorf("tree %v: etc/a must be back (the third layer re-adds it) and b present", tree)
	}
}
