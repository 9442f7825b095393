package ext4

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/banger-dev/banger/internal/testutil/ext4check"
)

// TestDirNlinkOverflow gives one directory 65100 subdirectories: its link
// count is stored as 1 (dir_nlink) and the kernel can still add more.
func TestDirNlinkOverflow(t *testing.T) {
	if testing.Short() {
		t.Skip("65k directories: skipped with -short")
	}
	img := filepath.Join(t.TempDir(), "nlink.img")
	buildImage(t, img, Options{}, func(w *Writer) {
		for i := range 65100 {
			if err := w.Put(dirHdr(fmt.Sprintf("p/d%d", i), 0o755), nil); err != nil {
				t.Fatal(err)
			}
		}
	})
	fsckGate(t, img)
	dir := mountImage(t, img, true)
	fi, err := os.Stat(filepath.Join(dir, "p"))
	if err != nil {
		t.Fatal(err)
	}
	if n := fi.Sys().(*syscall.Stat_t).Nlink; n != 1 {
		t.Errorf("nlink of a directory with 65100 subdirectories: %d, want 1", n)
	}
	if err := os.Mkdir(filepath.Join(dir, "p/new"), 0o755); err != nil {
		t.Errorf("mkdir in the overflowed directory: %v", err)
	}
	unmount(t, dir)
	ext4check.Gate(t, img)
}

// TestMemoryBoundedByMetadata writes 1 GiB in 50k files; the process must
// stay far below the data size.
func TestMemoryBoundedByMetadata(t *testing.T) {
	if testing.Short() {
		t.Skip("1 GiB of data: skipped with -short")
	}
	img := filepath.Join(t.TempDir(), "mem.img")
	src := randBytes(12, 1<<20)
	buildImage(t, img, Options{}, func(w *Writer) {
		for i := range 50000 {
			hdr := regHdr(fmt.Sprintf("d%03d/f%05d", i%500, i))
			hdr.Size = 21475
			if err := w.Put(hdr, io.LimitReader(repeatReader(src[i%1000:]), hdr.Size)); err != nil {
				t.Fatal(err)
			}
		}
	})
	if rss := peakRSSMiB(); rss > 300 {
		t.Errorf("peak RSS %.0f MiB while writing 1 GiB", rss)
	} else {
		t.Logf("peak RSS %.1f MiB", rss)
	}
	fsckGate(t, img)
}
