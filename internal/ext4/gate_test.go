package ext4

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// fsckSummary matches e2fsck's final summary line.
var fsckSummary = regexp.MustCompile(`^\S+: \d+/\d+ files \([0-9.]+% non-contiguous\), \d+/\d+ blocks$`)

// fsckClean reports whether e2fsck output holds only pass and summary lines.
func fsckClean(out string) bool {
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		switch {
		case strings.HasPrefix(line, "e2fsck 1."),
			regexp.MustCompile(`^Pass [1-5]: Checking`).MatchString(line),
			fsckSummary.MatchString(line):
		default:
			return false
		}
	}
	return true
}

func needTool(t testing.TB, name, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not found (install Debian package %s)", name, pkg)
	}
}

// fsckGate runs EXT4-NOTES §0 on an image: e2fsck -fn exits 0 with only the
// pass/summary lines, and e2fsck -fp on a sparse copy has nothing to fix.
func fsckGate(t testing.TB, img string) {
	t.Helper()
	fsckCheck(t, img, true)
}

// fsckCheck is fsckGate; with strict unset it allows e2fsck -fp to rewrite
// summary fields it recomputes (used after the kernel wrote to the image).
func fsckCheck(t testing.TB, img string, strict bool) {
	t.Helper()
	needTool(t, "e2fsck", "e2fsprogs")
	out, err := exec.Command("e2fsck", "-fn", img).CombinedOutput()
	if err != nil || !fsckClean(string(out)) {
		t.Fatalf("e2fsck -fn %s: %v\n%s", img, err, out)
	}
	cp := filepath.Join(t.TempDir(), "copy.img")
	if out, err := exec.Command("cp", "--sparse=always", img, cp).CombinedOutput(); err != nil {
		t.Fatalf("copying image: %v\n%s", err, out)
	}
	out, err = exec.Command("e2fsck", "-fp", cp).CombinedOutput()
	if err != nil || !fsckClean(string(out)) {
		t.Fatalf("e2fsck -fp changed %s: %v\n%s", img, err, out)
	}
	if strict && !sameExceptSuper(t, img, cp) {
		t.Fatalf("e2fsck -fp rewrote more than the superblock of %s", img)
	}
}

// sameExceptSuper compares two sparse images, ignoring the primary
// superblock (e2fsck -fp records its check time there). Only the data
// regions of either file are read.
func sameExceptSuper(t testing.TB, a, b string) bool {
	t.Helper()
	fa, err := os.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	ra, rb := dataRanges(t, fa), dataRanges(t, fb)
	bufA, bufB := make([]byte, 1<<20), make([]byte, 1<<20)
	for _, r := range append(ra, rb...) {
		for off := r[0]; off < r[1]; off += int64(len(bufA)) {
			n := min(int64(len(bufA)), r[1]-off)
			na, _ := fa.ReadAt(bufA[:n], off)
			nb, _ := fb.ReadAt(bufB[:n], off)
			clear(bufA[na:n])
			clear(bufB[nb:n])
			if off < 2048 {
				clear(bufA[1024-off : 2048-off])
				clear(bufB[1024-off : 2048-off])
			}
			if !bytes.Equal(bufA[:n], bufB[:n]) {
				i := 0
				for bufA[i] == bufB[i] {
					i++
				}
				t.Logf("images differ at byte %d", off+int64(i))
				return false
			}
		}
	}
	return true
}

// dataRanges lists a file's data segments (SEEK_DATA/SEEK_HOLE), aligned to 1 MiB.
func dataRanges(t testing.TB, f *os.File) [][2]int64 {
	t.Helper()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	var out [][2]int64
	for off := int64(0); off < st.Size(); {
		d, err := unix.Seek(int(f.Fd()), off, unix.SEEK_DATA)
		if err != nil {
			break
		}
		h, err := unix.Seek(int(f.Fd()), d, unix.SEEK_HOLE)
		if err != nil {
			h = st.Size()
		}
		out = append(out, [2]int64{d &^ (1<<20 - 1), h})
		off = h
	}
	return out
}

// requireRoot skips tests that mount.
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a loop device needs root")
	}
}
