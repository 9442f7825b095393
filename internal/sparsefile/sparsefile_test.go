package sparsefile

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// holey makes a 200 MiB file with three runs of data and holes between.
func holey(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte("banger"), 100000)
	for _, off := range []int64{0, 50 << 20, 120<<20 + 5} {
		if _, err := f.WriteAt(chunk, off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(200 << 20); err != nil {
		t.Fatal(err)
	}
	return f
}

// pair returns a holey source and an empty destination, closed at the end.
func pair(t *testing.T) (src, dst *os.File) {
	t.Helper()
	dir := t.TempDir()
	src = holey(t, filepath.Join(dir, "src"))
	t.Cleanup(func() { src.Close() })
	dst, err := os.Create(filepath.Join(dir, "dst"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dst.Close() })
	return src, dst
}

func TestCopyKeepsHolesAndContent(t *testing.T) {
	src, dst := pair(t)
	var last int64
	if err := Copy(context.Background(), dst, src, 200<<20, func(done int64) { last = done }); err != nil {
		t.Fatal(err)
	}
	if last != 200<<20 {
		t.Errorf("last progress %d, want the whole size", last)
	}
	a, _ := os.ReadFile(src.Name())
	b, _ := os.ReadFile(dst.Name())
	if !bytes.Equal(a, b) {
		t.Fatal("copy differs from source")
	}
	var ss, ds syscall.Stat_t
	syscall.Stat(src.Name(), &ss)
	syscall.Stat(dst.Name(), &ds)
	if ds.Blocks > ss.Blocks+2048 {
		t.Errorf("copy allocates %d blocks, source %d: holes were filled", ds.Blocks, ss.Blocks)
	}
}

func TestCopyStopsWhenCanceled(t *testing.T) {
	src, dst := pair(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Copy(ctx, dst, src, 200<<20, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Copy after cancel = %v, want context.Canceled", err)
	}
}
