package ext4

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/banger-dev/banger/internal/testutil/ext4check"
	"golang.org/x/sys/unix"
)

// want is what the mounted filesystem must show for one path.
type want struct {
	mode         uint32 // full st_mode
	uid, gid     uint32
	size         int64
	sha          string // regular files
	target       string // symlinks
	xattrs       map[string]string
	major, minor uint32
	nlink        uint64 // 0: not checked
	mtime        time.Time
}

// spec records entries as they are put, so the expected tree follows the
// same replacement rules as the writer.
type spec struct {
	t   testing.TB
	w   *Writer
	exp map[string]want
}

func newSpec(t testing.TB, w *Writer) *spec { return &spec{t: t, w: w, exp: map[string]want{}} }

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// put sends hdr (and data for regular files) and records the expectation.
func (s *spec) put(hdr *tar.Header, data []byte) {
	s.t.Helper()
	var r io.Reader
	if hdr.Typeflag == tar.TypeReg {
		hdr.Size = int64(len(data))
		r = strings.NewReader(string(data))
	}
	if err := s.w.Put(hdr, r); err != nil {
		s.t.Fatalf("Put %s: %v", hdr.Name, err)
	}
	if hdr.Typeflag == tar.TypeLink {
		return
	}
	wt := want{uid: uint32(hdr.Uid), gid: uint32(hdr.Gid), mtime: hdr.ModTime, xattrs: map[string]string{}}
	perm := uint32(hdr.Mode & 0o7777)
	switch hdr.Typeflag {
	case tar.TypeReg:
		wt.mode = unix.S_IFREG | perm
		if hdr.Mode&unix.S_IFMT == unix.S_IFSOCK {
			wt.mode = unix.S_IFSOCK | perm
		}
		wt.size, wt.sha = hdr.Size, sha(data)
	case tar.TypeDir:
		wt.mode = unix.S_IFDIR | perm
	case tar.TypeSymlink:
		wt.mode, wt.target, wt.size = unix.S_IFLNK|0o777, hdr.Linkname, int64(len(hdr.Linkname))
	case tar.TypeChar:
		wt.mode, wt.major, wt.minor = unix.S_IFCHR|perm, uint32(hdr.Devmajor), uint32(hdr.Devminor)
	case tar.TypeBlock:
		wt.mode, wt.major, wt.minor = unix.S_IFBLK|perm, uint32(hdr.Devmajor), uint32(hdr.Devminor)
	case tar.TypeFifo:
		wt.mode = unix.S_IFIFO | perm
	}
	for k, v := range hdr.PAXRecords {
		if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			wt.xattrs[name] = v
		}
	}
	s.exp[filepath.Clean(hdr.Name)] = wt
}

// mountImage mounts img (read-only unless rw) and returns the mount point.
func mountImage(t testing.TB, img string, rw bool) string {
	t.Helper()
	requireRoot(t)
	dir := t.TempDir()
	opt := "loop,ro"
	if rw {
		opt = "loop"
	}
	if out, err := exec.Command("mount", "-o", opt, img, dir).CombinedOutput(); err != nil {
		t.Fatalf("mount %s: %v\n%s", img, err, out)
	}
	t.Cleanup(func() { unmount(t, dir) })
	return dir
}

func unmount(t testing.TB, dir string) {
	if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil && !strings.Contains(string(out), "not mounted") {
		t.Errorf("umount %s: %v\n%s", dir, err, out)
	}
}

// readXattrs lists a path's extended attributes.
func readXattrs(t testing.TB, p string) map[string]string {
	t.Helper()
	out := map[string]string{}
	buf := make([]byte, 1<<16)
	n, err := unix.Llistxattr(p, buf)
	if err != nil {
		t.Fatalf("listxattr %s: %v", p, err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		vb := make([]byte, 1<<16)
		vn, err := unix.Lgetxattr(p, name, vb)
		if err != nil {
			t.Fatalf("getxattr %s %s: %v", p, name, err)
		}
		out[name] = string(vb[:vn])
	}
	return out
}

// compareTree checks that the mounted tree at root holds exactly exp
// (lost+found aside) with matching metadata and content.
func compareTree(t testing.TB, root string, exp map[string]want) {
	t.Helper()
	seen := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." || rel == "lost+found" {
			return nil
		}
		seen[rel] = true
		wt, ok := exp[rel]
		if !ok {
			t.Errorf("unexpected %s", rel)
			return nil
		}
		checkEntry(t, p, rel, wt)
		return nil
	})
	if err != nil {
		t.Fatalf("walking mount: %v", err)
	}
	var missing []string
	for k := range exp {
		if !seen[k] && k != "." {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("missing %d entries, first: %q", len(missing), missing[0])
	}
}

func checkEntry(t testing.TB, p, rel string, wt want) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatalf("lstat %s: %v", rel, err)
	}
	if st.Mode != wt.mode || st.Uid != wt.uid || st.Gid != wt.gid {
		t.Errorf("%s: mode/uid/gid %o/%d/%d, want %o/%d/%d", rel, st.Mode, st.Uid, st.Gid, wt.mode, wt.uid, wt.gid)
	}
	if got := time.Unix(st.Mtim.Sec, st.Mtim.Nsec); !got.Equal(wt.mtime) {
		t.Errorf("%s: mtime %v, want %v", rel, got, wt.mtime)
	}
	if wt.nlink != 0 && st.Nlink != wt.nlink {
		t.Errorf("%s: nlink %d, want %d", rel, st.Nlink, wt.nlink)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR && st.Size != wt.size {
		t.Errorf("%s: size %d, want %d", rel, st.Size, wt.size)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		if got := ext4check.FileSHA256(t, p); got != wt.sha {
			t.Errorf("%s: content differs", rel)
		}
	case unix.S_IFLNK:
		if got, _ := os.Readlink(p); got != wt.target {
			t.Errorf("%s: target %q, want %q", rel, got, wt.target)
		}
	case unix.S_IFCHR, unix.S_IFBLK:
		if unix.Major(st.Rdev) != wt.major || unix.Minor(st.Rdev) != wt.minor {
			t.Errorf("%s: device %d:%d, want %d:%d", rel, unix.Major(st.Rdev), unix.Minor(st.Rdev), wt.major, wt.minor)
		}
	}
	if got := readXattrs(t, p); !equalMaps(got, wt.xattrs) {
		t.Errorf("%s: xattrs %q, want %q", rel, got, wt.xattrs)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

// rwMountWrite mounts read-write, writes and removes a few files, unmounts
// and reruns the fsck gate: the kernel must accept the image for writing.
func rwMountWrite(t testing.TB, img string) {
	t.Helper()
	dir := mountImage(t, img, true)
	if err := os.MkdirAll(filepath.Join(dir, "rwtest/sub"), 0o755); err != nil {
		t.Fatalf("writing to rw mount: %v", err)
	}
	for i := range 50 {
		p := filepath.Join(dir, "rwtest/sub", strings.Repeat("f", i+1))
		if err := os.WriteFile(p, []byte(strings.Repeat("data", 1000*i)), 0o644); err != nil {
			t.Fatalf("writing to rw mount: %v", err)
		}
	}
	if err := os.RemoveAll(filepath.Join(dir, "rwtest")); err != nil {
		t.Fatalf("removing on rw mount: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rw-marker"), []byte("x"), 0o600); err != nil {
		t.Fatalf("writing to rw mount: %v", err)
	}
	unmount(t, dir)
	ext4check.Gate(t, img)
}
