package ext4

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/banger-dev/banger/internal/testutil/ext4check"
	"golang.org/x/sys/unix"
)

func TestDeepPathsAndLongNames(t *testing.T) {
	img := filepath.Join(t.TempDir(), "deep.img")
	var s *spec
	buildImage(t, img, Options{Time: testTime}, func(w *Writer) {
		s = newSpec(t, w)
		p := ""
		for i := range 200 {
			p = filepath.Join(p, fmt.Sprintf("d%03d", i))
			s.put(dirHdr(p, 0o755), nil)
		}
		s.put(regHdr(p+"/bottom"), []byte("deep"))
		for i := range 40 {
			name := strings.Repeat(string(rune('a'+i%26)), 200) + fmt.Sprintf("%055d", i)
			s.put(regHdr("long/"+name), []byte(name))
		}
		s.exp["long"] = want{mode: 0o40755, mtime: testTime, xattrs: map[string]string{}}
	})
	fsckGate(t, img)
	dir := mountImage(t, img, false)
	compareTree(t, dir, s.exp)
}

// TestBigDirectory puts 100k entries in one directory: a two-level htree.
func TestBigDirectory(t *testing.T) {
	if testing.Short() {
		t.Skip("100k entries: skipped with -short")
	}
	img := filepath.Join(t.TempDir(), "bigdir.img")
	const n = 100000
	buildImage(t, img, Options{Time: testTime}, func(w *Writer) {
		for i := range n {
			name := fmt.Sprintf("big/entry-with-a-longish-name-%06d", i)
			hdr := regHdr(name)
			if i%1000 == 0 {
				hdr.Name = fmt.Sprintf("big/sub-%06d", i)
				hdr.Typeflag = tar.TypeDir
				hdr.Mode = 0o755
			}
			if err := w.Put(hdr, strings.NewReader("")); err != nil {
				t.Fatal(err)
			}
		}
		// high-bit names exercise the signed hash flavour.
		for i := range 300 {
			if err := w.Put(regHdr(fmt.Sprintf("big/\xe9\xff%04d\x80", i)), strings.NewReader("")); err != nil {
				t.Fatal(err)
			}
		}
	})
	fsckGate(t, img)
	out, err := exec.Command("debugfs", "-R", "htree_dump /big", img).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Indirect levels: 1") {
		t.Errorf("want a two-level htree; debugfs: %v\n%.500s", err, out)
	}
	dir := mountImage(t, img, false)
	for _, i := range []int{1, 4242, 99999, 50001} {
		if _, err := os.Lstat(filepath.Join(dir, fmt.Sprintf("big/entry-with-a-longish-name-%06d", i))); err != nil {
			t.Errorf("lookup through the mount: %v", err)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "big/\xe9\xff0123\x80")); err != nil {
		t.Errorf("lookup of a high-bit name: %v", err)
	}
	ents, err := os.ReadDir(filepath.Join(dir, "big"))
	if err != nil || len(ents) != n+300 {
		t.Errorf("readdir: %d entries, %v; want %d", len(ents), err, n+300)
	}
	var st unix.Stat_t
	unix.Lstat(filepath.Join(dir, "big"), &st)
	if st.Nlink != 2+100 {
		t.Errorf("big has nlink %d, want 102", st.Nlink)
	}
	unmount(t, dir)
	// The kernel must be able to insert into (and split) the full leaves.
	dir = mountImage(t, img, true)
	for i := range 2000 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("big/added-%d", i)), nil, 0o644); err != nil {
			t.Fatalf("adding to the indexed directory: %v", err)
		}
	}
	unmount(t, dir)
	ext4check.Gate(t, img)
}

// sparseReader yields size bytes that are zero except for marks at offsets.
type sparseReader struct {
	off, size int64
	marks     map[int64]byte // block-aligned offsets → fill byte of that 4 KiB block
}

func (r *sparseReader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), r.size-r.off))
	clear(p[:n])
	for off, b := range r.marks {
		if off+blockSize > r.off && off < r.off+int64(n) {
			for i := max(off, r.off); i < min(off+blockSize, r.off+int64(n)); i++ {
				p[i-r.off] = b
			}
		}
	}
	r.off += int64(n)
	return n, nil
}

// TestHugeSparseFile writes a 5 GiB file that is mostly holes.
func TestHugeSparseFile(t *testing.T) {
	if testing.Short() {
		t.Skip("5 GiB sparse file: skipped with -short")
	}
	img := filepath.Join(t.TempDir(), "sparse.img")
	const size = 5<<30 + 123
	marks := map[int64]byte{0: 1, 1 << 30: 2, 4<<30 + 4096: 3, 5<<30 - 4096: 4}
	buildImage(t, img, Options{Time: testTime}, func(w *Writer) {
		hdr := regHdr("huge")
		hdr.Size = size
		if err := w.Put(hdr, &sparseReader{size: size, marks: marks}); err != nil {
			t.Fatal(err)
		}
	})
	fsckGate(t, img)
	var st unix.Stat_t
	unix.Stat(img, &st)
	if st.Blocks*512 > 64<<20 {
		t.Errorf("image file allocates %d bytes on the host; want it sparse", st.Blocks*512)
	}
	dir := mountImage(t, img, false)
	f, err := os.Open(filepath.Join(dir, "huge"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	if fi.Size() != size {
		t.Errorf("size %d, want %d", fi.Size(), size)
	}
	buf := make([]byte, blockSize)
	for off, b := range marks {
		f.ReadAt(buf, off)
		if !bytes.Equal(buf, bytes.Repeat([]byte{b}, blockSize)) {
			t.Errorf("block at %d reads wrong", off)
		}
	}
	f.ReadAt(buf, 3<<30)
	if !bytes.Equal(buf, zeroBlock) {
		t.Error("hole reads non-zero")
	}
	unix.Fstat(int(f.Fd()), &st)
	if st.Blocks != 4*8 {
		t.Errorf("file holds %d sectors, want 32 (4 data blocks)", st.Blocks)
	}
}

// TestFragmentedFile makes a file of 1500 extents: an extent tree of depth 2.
func TestFragmentedFile(t *testing.T) {
	img := filepath.Join(t.TempDir(), "frag.img")
	data := make([]byte, 3000*blockSize)
	for i := 0; i < 3000; i += 2 {
		copy(data[i*blockSize:], fmt.Sprintf("block %d", i))
	}
	var s *spec
	buildImage(t, img, Options{Time: testTime}, func(w *Writer) {
		s = newSpec(t, w)
		s.put(regHdr("frag"), data)
		s.put(regHdr("frag300"), data[:600*blockSize])
	})
	fsckGate(t, img)
	out, _ := exec.Command("debugfs", "-R", "stat /frag", img).CombinedOutput()
	if !strings.Contains(string(out), "(ETB1)") {
		t.Errorf("want a depth-2 extent tree:\n%.800s", out)
	}
	dir := mountImage(t, img, false)
	compareTree(t, dir, s.exp)
}

func TestDeterministic(t *testing.T) {
	sum := func(seed string) [32]byte {
		img := filepath.Join(t.TempDir(), "det.img")
		buildImage(t, img, Options{Seed: seed}, func(w *Writer) {
			allTypes(newSpec(t, w))
			for i := range 500 {
				w.Put(regHdr(fmt.Sprintf("many/%d", i)), strings.NewReader(""))
			}
		})
		return sparseSHA(t, img)
	}
	if a, b := sum("same"), sum("same"); a != b {
		t.Errorf("two runs differ: %x vs %x", a, b)
	}
	if a, b := sum("same"), sum("other"); a == b {
		t.Error("a different seed (so UUID) gave the same image")
	}
}

// sparseSHA hashes a sparse file's size and data regions.
func sparseSHA(t testing.TB, path string) [32]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	fi, _ := f.Stat()
	fmt.Fprintf(h, "size %d\n", fi.Size())
	for _, r := range ext4check.DataRanges(t, f) {
		fmt.Fprintf(h, "range %d %d\n", r[0], r[1])
		if _, err := io.Copy(h, io.NewSectionReader(f, r[0], r[1]-r[0])); err != nil {
			t.Fatal(err)
		}
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

func TestExplicitSize(t *testing.T) {
	dir := t.TempDir()
	data := randBytes(3, 40<<20)
	fill := func(w *Writer) error {
		hdr := regHdr("big")
		hdr.Size = int64(len(data))
		return w.Put(hdr, bytes.NewReader(data))
	}
	f, _ := os.Create(filepath.Join(dir, "small.img"))
	defer f.Close()
	w, err := New(f, Options{Size: 32 << 20})
	if err != nil {
		t.Fatal(err)
	}
	err = fill(w)
	if err == nil {
		err = w.Close()
	}
	if !errors.Is(err, ErrTooSmall) || !strings.Contains(err.Error(), "too small") {
		t.Errorf("40 MiB into 32 MiB: %v", err)
	}
	f2, _ := os.Create(filepath.Join(dir, "tight.img"))
	defer f2.Close()
	w, _ = New(f2, Options{Size: 41 << 20})
	if err := fill(w); err != nil {
		t.Fatal(err)
	}
	err = w.Close()
	if !errors.Is(err, ErrTooSmall) || !strings.Contains(err.Error(), "needs at least") {
		t.Errorf("40 MiB into 41 MiB: %v (want the needed size named)", err)
	}
	img := filepath.Join(dir, "ok.img")
	w = buildImage(t, img, Options{Size: 100<<20 + 5000}, func(w *Writer) {
		if err := fill(w); err != nil {
			t.Fatal(err)
		}
	})
	if st := w.Stats(); st.ImageSize != (100<<20+5000)/blockSize*blockSize {
		t.Errorf("image size %d", st.ImageSize)
	}
	fsckGate(t, img)
}

// TestOddSizes builds images whose last group is partial, tiny or holds a backup.
func TestOddSizes(t *testing.T) {
	for _, blocks := range []int64{2048, 8191, 32768 + 300, 32768 + 255, 3*32768 + 1000, 5*32768 - 1} {
		img := filepath.Join(t.TempDir(), fmt.Sprintf("odd-%d.img", blocks))
		buildImage(t, img, Options{Size: blocks * blockSize}, func(w *Writer) {
			allTypes(newSpec(t, w))
		})
		fsckGate(t, img)
		if blocks > 8192 { // the 8 MiB image has no room for rwMountWrite's files
			rwMountWrite(t, img)
		}
	}
	f, _ := os.Create(filepath.Join(t.TempDir(), "x.img"))
	defer f.Close()
	w, _ := New(f, Options{})
	hdr := regHdr("x")
	hdr.PAXRecords = map[string]string{"SCHILY.xattr.user.huge": strings.Repeat("h", 5000)}
	if err := w.Put(hdr, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("5000-byte xattr: %v, want ErrInvalid", err)
	}
}

// TestBigJournal maps a 140000-block journal: five extents, so inode 8
// needs an extent tree block; the kernel must journal through all of it.
func TestBigJournal(t *testing.T) {
	img := filepath.Join(t.TempDir(), "journal.img")
	buildImage(t, img, Options{JournalBlocks: 140000}, func(w *Writer) {
		allTypes(newSpec(t, w))
	})
	fsckGate(t, img)
	out, _ := exec.Command("debugfs", "-R", "stat <8>", img).CombinedOutput()
	if !strings.Contains(string(out), "(ETB0)") || !strings.Contains(string(out), "Size: 573440000") {
		t.Errorf("journal inode:\n%.600s", out)
	}
	rwMountWrite(t, img)
}

func TestMaxSize(t *testing.T) {
	f, _ := os.Create(filepath.Join(t.TempDir(), "m.img"))
	defer f.Close()
	w, _ := New(f, Options{MaxSize: 1 << 20})
	hdr := regHdr("big")
	hdr.Size = 2 << 20
	if err := w.Put(hdr, bytes.NewReader(randBytes(1, 2<<20))); !errors.Is(err, ErrTooLarge) {
		t.Errorf("2 MiB past a 1 MiB limit: %v", err)
	}
}

func TestResizeGrow(t *testing.T) {
	needTool(t, "resize2fs", "e2fsprogs")
	img := filepath.Join(t.TempDir(), "grow.img")
	var s *spec
	buildImage(t, img, Options{Time: testTime}, func(w *Writer) {
		s = newSpec(t, w)
		allTypes(s)
	})
	if out, err := exec.Command("resize2fs", img, "20G").CombinedOutput(); err != nil {
		t.Fatalf("resize2fs: %v\n%s", err, out)
	}
	ext4check.Gate(t, img)
	dir := mountImage(t, img, false)
	compareTree(t, dir, s.exp)
}

func TestNoChecksums(t *testing.T) {
	img := filepath.Join(t.TempDir(), "nocsum.img")
	var s *spec
	buildImage(t, img, Options{NoChecksums: true, Time: testTime}, func(w *Writer) {
		s = newSpec(t, w)
		allTypes(s)
		for i := range 3000 {
			w.Put(regHdr(fmt.Sprintf("many/file-%d", i)), strings.NewReader(""))
			s.exp[fmt.Sprintf("many/file-%d", i)] = want{mode: 0o100644, mtime: testTime, xattrs: map[string]string{}, sha: sha(nil)}
		}
		s.exp["many"] = want{mode: 0o40755, mtime: testTime, xattrs: map[string]string{}}
	})
	fsckGate(t, img)
	dir := mountImage(t, img, false)
	compareTree(t, dir, s.exp)
	unmount(t, dir)
	rwMountWrite(t, img)
}
