package imagepull

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// followCase is a one-layer image whose blob GET a test controls.
type followCase struct {
	pushed
	blob []byte // the layer's compressed bytes
}

func newFollowCase(t *testing.T) followCase {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	content := make([]byte, 512<<10) // random, so the gzip blob stays big
	for i := range content {
		content[i] = byte(r.Uint32())
	}
	layer := gzipLayer(t, tarLayer(t, "big", string(content)))
	rc, err := layer.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	blob, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	tr := newTestRegistry(t)
	tr.push(t, "app:1", buildImage(t, amd64, layer))
	res, err := Resolve(context.Background(), tr.host+"/app:1", fastOpts(t))
	if err != nil {
		t.Fatal(err)
	}
	return followCase{pushed: pushed{tr: tr, res: res, layer: res.Layers[0]}, blob: blob}
}

// serveHalfThen makes the first blob GET send half the blob, then wait for
// gate and hand the connection to then (nil: send the rest).
func (fc followCase) serveHalfThen(gate <-chan struct{}, then func(w http.ResponseWriter)) {
	path := fc.tr.blobPath("app", fc.layer.Digest)
	fc.tr.setFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Path != path || r.Method != http.MethodGet || n > 1 {
			return false
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(fc.blob)))
		half := len(fc.blob) / 2
		w.Write(fc.blob[:half])
		http.NewResponseController(w).Flush()
		<-gate
		if then == nil {
			w.Write(fc.blob[half:])
			return true
		}
		then(w)
		return true
	})
}

// startFetch runs Fetch in the background; the channel closes when it ends.
func (fc followCase) startFetch(t *testing.T, c *Cache) (<-chan struct{}, *error) {
	t.Helper()
	done := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		err = c.Fetch(context.Background(), fc.client(t), fc.res.Repo, fc.layer, nil)
	}()
	return done, &err
}

func TestFollowReadsBytesBeforeTheDownloadEnds(t *testing.T) {
	fc := newFollowCase(t)
	gate := make(chan struct{})
	fc.serveHalfThen(gate, nil)
	c := newCache(t)
	fetched, fetchErr := fc.startFetch(t, c)
	starved := make(chan struct{}, 2)
	r, err := c.Follow(context.Background(), fc.layer.Digest, fetched, func() { starved <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	half := make([]byte, len(fc.blob)/2)
	if _, err := io.ReadFull(r, half); err != nil {
		t.Fatalf("reading the first half while the server holds the rest: %v", err)
	}
	if !bytes.Equal(half, fc.blob[:len(half)]) {
		t.Fatal("the first half differs from the blob")
	}
	go func() {
		<-starved // the reader caught up with the download and waits
		close(gate)
	}()
	rest, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading the rest: %v", err)
	}
	if !bytes.Equal(append(half, rest...), fc.blob) {
		t.Fatal("followed bytes differ from the blob")
	}
	<-fetched
	if *fetchErr != nil || !c.Has(fc.layer.Digest, fc.layer.Size) {
		t.Fatalf("fetch: %v, cached: %v", *fetchErr, c.Has(fc.layer.Digest, fc.layer.Size))
	}
	if len(starved) != 0 {
		t.Error("starved was reported more than once")
	}
}

func TestFollowLostWhenTheAttemptFails(t *testing.T) {
	fc := newFollowCase(t)
	gate := make(chan struct{})
	fc.serveHalfThen(gate, func(w http.ResponseWriter) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close() // cut mid-blob; the retry is served whole
		}
	})
	c := newCache(t)
	fetched, fetchErr := fc.startFetch(t, c)
	r, err := c.Follow(context.Background(), fc.layer.Digest, fetched, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := io.ReadFull(r, make([]byte, len(fc.blob)/2)); err != nil {
		t.Fatal(err)
	}
	close(gate)
	if _, err := io.ReadAll(r); !errors.Is(err, ErrFollowLost) {
		t.Fatalf("reading past the cut = %v, want ErrFollowLost", err)
	}
	<-fetched
	if *fetchErr != nil {
		t.Fatalf("the retry did not fetch the blob: %v", *fetchErr)
	}
	again, err := c.Follow(context.Background(), fc.layer.Digest, fetched, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if got, err := io.ReadAll(again); err != nil || !bytes.Equal(got, fc.blob) {
		t.Fatalf("following the cached blob: %d bytes, %v", len(got), err)
	}
}

func TestFollowNeverEndsCleanlyOnWrongBytes(t *testing.T) {
	fc := newFollowCase(t)
	path := fc.tr.blobPath("app", fc.layer.Digest)
	fc.tr.setFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Path != path || r.Method != http.MethodGet {
			return false
		}
		bad := bytes.Clone(fc.blob)
		bad[len(bad)-10] ^= 0xff
		w.Header().Set("Content-Length", strconv.Itoa(len(bad)))
		w.Write(bad)
		return true
	})
	c := newCache(t)
	fetched, fetchErr := fc.startFetch(t, c)
	r, err := c.Follow(context.Background(), fc.layer.Digest, fetched, nil)
	if err != nil {
		<-fetched // the attempt may be over before Follow looked
		if !errors.Is(err, ErrFollowLost) || !errors.Is(*fetchErr, ErrDigestMismatch) {
			t.Fatalf("Follow = %v, fetch = %v", err, *fetchErr)
		}
		return
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if !errors.Is(err, ErrFollowLost) || !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("after %d altered bytes the follower said %v, want ErrFollowLost with the digest mismatch", len(got), err)
	}
	<-fetched
	if c.Has(fc.layer.Digest, 0) {
		t.Fatal("altered bytes reached the cache")
	}
}

func TestFollowWaitsForADownloadOrGivesUp(t *testing.T) {
	fc := newFollowCase(t)
	c := newCache(t)
	fetched := make(chan struct{})
	close(fetched) // a fetch that ended without the blob
	if _, err := c.Follow(context.Background(), fc.layer.Digest, fetched, nil); !errors.Is(err, ErrFollowLost) {
		t.Fatalf("Follow with no download and no blob = %v, want ErrFollowLost", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Follow(ctx, fc.layer.Digest, make(chan struct{}), nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Follow waiting for a download that never starts = %v, want the context's error", err)
	}
}
