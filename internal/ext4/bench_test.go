package ext4

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// peakRSSMiB reads the process's peak resident set size.
func peakRSSMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// writeDirTree feeds every entry under root to w, hardlinks as TypeLink.
func writeDirTree(b testing.TB, w *Writer, root string) int64 {
	var total int64
	seen := map[[2]uint64]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSocket != 0 {
			return nil
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			link, _ = os.Readlink(p)
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		hdr.Name, _ = filepath.Rel(root, p)
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode().IsRegular() && st.Nlink > 1 {
			key := [2]uint64{st.Dev, st.Ino}
			if first, ok := seen[key]; ok {
				hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
				return w.Put(hdr, nil)
			}
			seen[key] = hdr.Name
		}
		if !fi.Mode().IsRegular() {
			return w.Put(hdr, nil)
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		total += hdr.Size
		return w.Put(hdr, f)
	})
	if err != nil {
		b.Fatal(err)
	}
	return total
}

// TestWriteTreeEnv converts BANGER_BENCH_TREE and compares the mounted
// image with it using diff -r (content, symlinks) and the fsck gate.
func TestWriteTreeEnv(t *testing.T) {
	root := os.Getenv("BANGER_BENCH_TREE")
	if root == "" {
		t.Skip("set BANGER_BENCH_TREE to a directory to convert")
	}
	img := filepath.Join(t.TempDir(), "tree.img")
	buildImage(t, img, Options{}, func(w *Writer) { writeDirTree(t, w, root) })
	fsckGate(t, img)
	dir := mountImage(t, img, false)
	if out, err := exec.Command("diff", "-r", "--no-dereference", "-x", "lost+found", root, dir).CombinedOutput(); err != nil {
		t.Errorf("diff -r: %v\n%.2000s", err, out)
	}
}

// BenchmarkWriteTree converts the directory named by BANGER_BENCH_TREE, for
// comparison with `mkfs.ext4 -d`.
func BenchmarkWriteTree(b *testing.B) {
	root := os.Getenv("BANGER_BENCH_TREE")
	if root == "" {
		b.Skip("set BANGER_BENCH_TREE to a directory to convert")
	}
	img := filepath.Join(b.TempDir(), "tree.img")
	for b.Loop() {
		f, err := os.Create(img)
		if err != nil {
			b.Fatal(err)
		}
		w, err := New(f, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(writeDirTree(b, w, root))
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	b.ReportMetric(peakRSSMiB(), "peakRSS-MiB")
}

// BenchmarkWriteSynthetic writes 20k small files in 200 directories plus
// four 64 MiB files.
func BenchmarkWriteSynthetic(b *testing.B) {
	img := filepath.Join(b.TempDir(), "synth.img")
	small := randBytes(11, 6000)
	big := randBytes(12, 1<<20)
	var total int64
	for b.Loop() {
		f, err := os.Create(img)
		if err != nil {
			b.Fatal(err)
		}
		w, err := New(f, Options{})
		if err != nil {
			b.Fatal(err)
		}
		total = 0
		for i := range 20000 {
			hdr := regHdr(fmt.Sprintf("d%03d/file-%05d.txt", i%200, i))
			n := 100 + i%(len(small)-100)
			hdr.Size = int64(n)
			if err := w.Put(hdr, bytes.NewReader(small[:n])); err != nil {
				b.Fatal(err)
			}
			total += int64(n)
		}
		for i := range 4 {
			hdr := regHdr(fmt.Sprintf("big/%d.bin", i))
			hdr.Size = 64 << 20
			if err := w.Put(hdr, io.LimitReader(repeatReader(big), hdr.Size)); err != nil {
				b.Fatal(err)
			}
			total += hdr.Size
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	b.SetBytes(total)
	b.ReportMetric(peakRSSMiB(), "peakRSS-MiB")
}

// repeatReader cycles through p forever.
type repeatReader []byte

func (r repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		n += copy(p[n:], r)
	}
	return n, nil
}
