package vmm

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
)

// CopyDisk on top of sparsefile.Copy (tested there): the copy is whole and
// keeps the hole, a shrink is refused, no temp file is left.
func TestCopyDiskSparse(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.img")
	data := bytes.Repeat([]byte("banger"), 100000)
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(src, 200<<20); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "dst.img")
	if err := CopyDisk(context.Background(), src, dst, 0); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(src)
	b, _ := os.ReadFile(dst)
	if !bytes.Equal(a, b) {
		t.Fatal("copy differs from source")
	}
	var ds syscall.Stat_t
	syscall.Stat(dst, &ds)
	if ds.Blocks*512 > 8<<20 {
		t.Errorf("copy allocates %d bytes of a 200 MiB file with 0.6 MB of data: the hole was filled", ds.Blocks*512)
	}
	if err := CopyDisk(context.Background(), src, filepath.Join(dir, "x"), 1<<20); err == nil {
		t.Error("shrinking was accepted")
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".tmp-*")); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}
}

func TestCopyDiskGrowsExt4(t *testing.T) {
	for _, bin := range []string{"mkfs.ext4", "resize2fs", "dumpe2fs", "e2fsck"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not found: install the Debian package e2fsprogs", bin)
		}
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src.ext4")
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", src, "16M").CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	before, _ := os.ReadFile(src)
	dst := filepath.Join(dir, "dst.ext4")
	if err := CopyDisk(context.Background(), src, dst, 64<<20); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(src); !bytes.Equal(before, after) {
		t.Error("source image changed")
	}
	if st, _ := os.Stat(dst); st.Size() != 64<<20 {
		t.Errorf("copy size %d, want %d", st.Size(), 64<<20)
	}
	out, err := exec.Command("dumpe2fs", "-h", dst).CombinedOutput()
	if err != nil {
		t.Fatalf("dumpe2fs: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(?m)^Block count:\s+(\d+)`).FindSubmatch(out)
	bs := regexp.MustCompile(`(?m)^Block size:\s+(\d+)`).FindSubmatch(out)
	if m == nil || bs == nil {
		t.Fatalf("no block count in dumpe2fs output:\n%s", out)
	}
	count, _ := strconv.Atoi(string(m[1]))
	size, _ := strconv.Atoi(string(bs[1]))
	if int64(count*size) != 64<<20 {
		t.Errorf("filesystem spans %d bytes after growing, want %d", count*size, 64<<20)
	}
	if out, err := exec.Command("e2fsck", "-fn", dst).CombinedOutput(); err != nil {
		t.Errorf("e2fsck -fn on grown copy: %v\n%s", err, out)
	}
}
