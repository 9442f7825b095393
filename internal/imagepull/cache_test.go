package imagepull

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/ulikunitz/xz"
)

func hashOf(data []byte) v1.Hash {
	sum := sha256.Sum256(data)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

func TestPutBytesAndOpenXz(t *testing.T) {
	c := newCache(t)
	tarData := tarLayer(t, "x", "from xz")
	var buf bytes.Buffer
	w, err := xz.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(tarData)
	w.Close()
	d := hashOf(buf.Bytes())
	if err := c.PutBytes(d, buf.Bytes()[1:]); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("wrong bytes accepted: %v", err)
	}
	if err := c.PutBytes(d, buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	rc, err := c.Open(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if got := readTar(t, rc); !slices.Equal(got, []string{"x=from xz"}) {
		t.Fatalf("got %v", got)
	}
}

func TestOpenStopsOnCancel(t *testing.T) {
	c := newCache(t)
	data := tarLayer(t, "x", string(make([]byte, 1<<20)))
	d := hashOf(data)
	if err := c.PutBytes(d, data); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rc, err := c.Open(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	cancel()
	buf := make([]byte, 4096)
	var rerr error
	for range 1000 {
		if _, rerr = rc.Read(buf); rerr != nil {
			break
		}
	}
	if rerr == nil {
		t.Fatal("reads went on after cancel")
	}
}

func TestCleanTempPruneUsage(t *testing.T) {
	c := newCache(t)
	keep, drop := []byte("keep me"), []byte("drop me")
	for _, b := range [][]byte{keep, drop} {
		if err := c.PutBytes(hashOf(b), b); err != nil {
			t.Fatal(err)
		}
	}
	leftover := filepath.Join(c.tmpDir(), hashOf([]byte("partial")).Hex+".123.part")
	os.WriteFile(leftover, []byte("part"), 0o600)
	// A download in progress holds its lock: CleanTemp leaves it alone.
	busyHex := hashOf([]byte("busy")).Hex
	busy := filepath.Join(c.tmpDir(), busyHex+".456.part")
	os.WriteFile(busy, []byte("busy"), 0o600)
	unlock, err := c.lock(context.Background(), busyHex)
	if err != nil {
		t.Fatal(err)
	}
	u, err := c.Usage()
	if err != nil || u.Blobs != 2 || u.Bytes != int64(len(keep)+len(drop)) || u.TempBytes != 8 {
		t.Fatalf("usage %+v, %v", u, err)
	}
	if err := c.CleanTemp(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(leftover); !os.IsNotExist(err) {
		t.Errorf("leftover not removed: %v", err)
	}
	if _, err := os.Stat(busy); err != nil {
		t.Errorf("in-progress download removed: %v", err)
	}
	unlock()
	freed, err := c.Prune([]v1.Hash{hashOf(keep)})
	if err != nil || freed != int64(len(drop)) {
		t.Fatalf("Prune freed %d, %v", freed, err)
	}
	if !c.Has(hashOf(keep), int64(len(keep))) || c.Has(hashOf(drop), 0) {
		t.Fatal("Prune removed the wrong blob")
	}
}
