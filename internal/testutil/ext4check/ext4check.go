// Package ext4check holds the checks every ext4 image banger produces must
// pass in tests: the fsck gate (e2fsck -fn clean, e2fsck -fp changing
// nothing) and a read-only loop mount whose tree is compared, file by file,
// with what the layers said.
package ext4check

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

var (
	fsckPass    = regexp.MustCompile(`^Pass [1-5]: Checking`)
	fsckSummary = regexp.MustCompile(`^\S+: \d+/\d+ files \([0-9.]+% non-contiguous\), \d+/\d+ blocks$`)
)

// clean reports whether e2fsck printed only its banner, pass and summary lines.
func clean(out string) bool {
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(line, "e2fsck 1.") && !fsckPass.MatchString(line) && !fsckSummary.MatchString(line) {
			return false
		}
	}
	return true
}

// Gate fails t unless e2fsck -fn exits 0 printing only pass and summary
// lines, and e2fsck -fp on a sparse copy finds nothing to report. Use it
// on images a kernel has written to (e2fsck -fp may then recompute summary
// counters); GateUntouched is stricter for images only banger wrote.
func Gate(t testing.TB, img string) {
	t.Helper()
	gate(t, img, false)
}

// GateUntouched is Gate, and e2fsck -fp must rewrite nothing but the
// primary superblock (where it records the check time).
func GateUntouched(t testing.TB, img string) {
	t.Helper()
	gate(t, img, true)
}

func gate(t testing.TB, img string, untouched bool) {
	t.Helper()
	if _, err := exec.LookPath("e2fsck"); err != nil {
		t.Skip("e2fsck not found: install the Debian package e2fsprogs")
	}
	out, err := exec.Command("e2fsck", "-fn", img).CombinedOutput()
	if err != nil || !clean(string(out)) {
		t.Fatalf("e2fsck -fn %s: %v\n%s", img, err, out)
	}
	cp := filepath.Join(t.TempDir(), "fsck-copy.img")
	if out, err := exec.Command("cp", "--sparse=always", img, cp).CombinedOutput(); err != nil {
		t.Fatalf("copying %s: %v\n%s", img, err, out)
	}
	out, err = exec.Command("e2fsck", "-fp", cp).CombinedOutput()
	if err != nil || !clean(string(out)) {
		t.Fatalf("e2fsck -fp found something to fix in %s: %v\n%s", img, err, out)
	}
	if untouched && !sameExceptSuper(t, img, cp) {
		t.Fatalf("e2fsck -fp rewrote more than the superblock of %s", img)
	}
}

// sameExceptSuper compares two sparse images, ignoring the primary
// superblock. Only the data regions of either file are read.
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
	bufA, bufB := make([]byte, 1<<20), make([]byte, 1<<20)
	for _, r := range append(DataRanges(t, fa), DataRanges(t, fb)...) {
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

// DataRanges lists a file's data segments (SEEK_DATA/SEEK_HOLE), aligned
// down to 1 MiB.
func DataRanges(t testing.TB, f *os.File) [][2]int64 {
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

// MountRO loop-mounts img read-only until the test ends and returns the
// mount point. It skips the test when not running as root.
func MountRO(t testing.TB, img string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting an image needs root (loop device); run the tests as root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "ext4", "-o", "loop,ro,noload", img, dir).CombinedOutput(); err != nil {
		t.Fatalf("mounting %s: %v\n%s", img, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("unmounting %s: %v\n%s", dir, err, out)
		}
	})
	return dir
}

// Node is what a test compares of one path: everything the layers decide.
type Node struct {
	Type   string // "file", "dir", "symlink", "char", "block", "fifo", "socket"
	Mode   uint32 // permission bits with setuid/setgid/sticky (07777)
	UID    uint32
	GID    uint32
	Size   int64             // files only
	SHA256 string            // files only, hex
	Target string            // symlinks only
	Rdev   [2]uint32         // devices only: major, minor
	Nlink  uint64            // files only
	Xattrs map[string]string // name → value (as a string)
	Ino    uint64            `json:"-"` // to group hardlinks; not compared
}

func (n Node) String() string {
	return fmt.Sprintf("%s %04o %d:%d size=%d sha=%.12s target=%q rdev=%v nlink=%d xattrs=%v",
		n.Type, n.Mode, n.UID, n.GID, n.Size, n.SHA256, n.Target, n.Rdev, n.Nlink, n.Xattrs)
}

// Tree reads every path below root (lost+found excluded) as a slash path
// relative to root.
func Tree(t testing.TB, root string) map[string]Node {
	t.Helper()
	tree := map[string]Node{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "lost+found" {
			return filepath.SkipDir
		}
		if rel == "." {
			return nil
		}
		n, err := readNode(p)
		if err != nil {
			return err
		}
		tree[filepath.ToSlash(rel)] = n
		return nil
	})
	if err != nil {
		t.Fatalf("reading tree %s: %v", root, err)
	}
	return tree
}

func readNode(p string) (Node, error) {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return Node{}, err
	}
	n := Node{Mode: st.Mode & 0o7777, UID: st.Uid, GID: st.Gid, Ino: st.Ino}
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		n.Type, n.Size, n.Nlink = "file", st.Size, uint64(st.Nlink)
		sum, err := FileDigest(p)
		if err != nil {
			return Node{}, err
		}
		n.SHA256 = sum
	case syscall.S_IFDIR:
		n.Type = "dir"
	case syscall.S_IFLNK:
		n.Type = "symlink"
		target, err := os.Readlink(p)
		if err != nil {
			return Node{}, err
		}
		n.Target, n.Mode = target, 0
	case syscall.S_IFCHR, syscall.S_IFBLK:
		n.Type = map[bool]string{true: "char", false: "block"}[st.Mode&syscall.S_IFMT == syscall.S_IFCHR]
		n.Rdev = [2]uint32{unix.Major(st.Rdev), unix.Minor(st.Rdev)}
	case syscall.S_IFIFO:
		n.Type = "fifo"
	case syscall.S_IFSOCK:
		n.Type = "socket"
	}
	xattrs, err := readXattrs(p)
	if err != nil {
		return Node{}, err
	}
	n.Xattrs = xattrs
	return n, nil
}

// FileDigest is the hex sha256 of the file at p (FileSHA256 without a
// test to fail).
func FileDigest(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func readXattrs(p string) (map[string]string, error) {
	buf := make([]byte, 64<<10)
	n, err := unix.Llistxattr(p, buf)
	if err != nil || n == 0 {
		return nil, nil // symlinks and files without xattrs
	}
	out := map[string]string{}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
		val := make([]byte, 64<<10)
		m, err := unix.Lgetxattr(p, name, val)
		if err != nil {
			return nil, fmt.Errorf("reading xattr %s of %s: %w", name, p, err)
		}
		out[name] = string(val[:m])
	}
	return out, nil
}

// SHA256 is the hex sha256 of data, for building expectations.
func SHA256(data string) string {
	sum := sha256.Sum256([]byte(data))
	return hex.EncodeToString(sum[:])
}

// Compare fails t for every path whose node differs from want, is missing,
// or is present without being wanted. Ino is ignored.
func Compare(t testing.TB, got, want map[string]Node) {
	t.Helper()
	var names []string
	for name := range want {
		names = append(names, name)
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		g, gok := got[name]
		w, wok := want[name]
		g.Ino = 0
		switch {
		case !gok:
			t.Errorf("%s: missing, want %v", name, w)
		case !wok:
			t.Errorf("%s: unexpected %v", name, g)
		case g.String() != w.String():
			t.Errorf("%s:\n got  %v\n want %v", name, g, w)
		}
	}
}

// FileSHA256 is the hex sha256 of the file at p; it fails t if p cannot
// be read.
func FileSHA256(t testing.TB, p string) string {
	t.Helper()
	sum, err := FileDigest(p)
	if err != nil {
		t.Fatalf("hashing %s: %v", p, err)
	}
	return sum
}
