package ext4

import (
	"os"
	"testing"
)

// buildImage writes an image at path, letting fill feed entries.
func buildImage(t testing.TB, path string, opts Options, fill func(w *Writer)) *Writer {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := New(f, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if fill != nil {
		fill(w)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return w
}
