package ext4

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// putBig adds a file of n pseudo-random (so not sparse) bytes.
func putBig(t *testing.T, w *Writer, name string, n int) {
	t.Helper()
	data := randBytes(uint64(n), n)
	if err := w.Put(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(n), ModTime: testTime}, bytes.NewReader(data)); err != nil {
		t.Fatalf("Put %s: %v", name, err)
	}
}

func TestSyncBehindRunsWhileWriting(t *testing.T) {
	img := filepath.Join(t.TempDir(), "big.img")
	w := buildImage(t, img, Options{Time: testTime}, func(w *Writer) {
		for _, name := range []string{"a", "b", "c"} {
			putBig(t, w, name, 20<<20)
		}
	})
	if w.behind.started < 2 {
		t.Errorf("%d background syncs for 60 MiB of data, want at least 2 (one per %d MiB)", w.behind.started, syncBehindEvery>>20)
	}
	if w.behind.running != nil {
		t.Error("Close returned with a background sync still running")
	}
	fsckGate(t, img)
}

func TestSyncBehindErrorReachesClose(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "fail.img"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := New(f, Options{Time: testTime})
	if err != nil {
		t.Fatal(err)
	}
	errDisk := errors.New("injected EIO")
	w.behind.sync = func() error { return errDisk }
	putBig(t, w, "a", 20<<20)
	putBig(t, w, "b", 20<<20) // a later write collects the first sync's result
	if err := w.Close(); !errors.Is(err, errDisk) {
		t.Fatalf("Close = %v, want the background sync's error", err)
	}
}
