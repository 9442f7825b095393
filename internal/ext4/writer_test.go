package ext4

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var testTime = time.Unix(1700000000, 0)

// vfsACL encodes a POSIX ACL in the getxattr (version 2) format.
func vfsACL(entries ...[3]uint32) string {
	b := binary.LittleEndian.AppendUint32(nil, 2)
	for _, e := range entries {
		b = binary.LittleEndian.AppendUint16(b, uint16(e[0]))
		b = binary.LittleEndian.AppendUint16(b, uint16(e[1]))
		b = binary.LittleEndian.AppendUint32(b, e[2])
	}
	return string(b)
}

// randBytes returns n deterministic pseudo-random bytes.
func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestEmptyImage(t *testing.T) {
	img := filepath.Join(t.TempDir(), "empty.img")
	w := buildImage(t, img, Options{Time: testTime}, nil)
	fsckGate(t, img)
	if st := w.Stats(); st.ImageSize != 1<<30 || st.Dirs != 2 || st.Files != 0 {
		t.Errorf("stats %+v, want a 1 GiB image with 2 dirs", st)
	}
	dir := mountImage(t, img, false)
	compareTree(t, dir, map[string]want{})
}

// allTypes feeds one of every kind of entry.
func allTypes(s *spec) {
	mt := time.Unix(1234567890, 123456789)
	cap := "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	s.put(&tar.Header{Name: "bin", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mt}, nil)
	s.put(&tar.Header{Name: "bin/su", Typeflag: tar.TypeReg, Mode: 0o4755, ModTime: mt}, randBytes(1, 70000))
	s.put(&tar.Header{Name: "bin/wall", Typeflag: tar.TypeReg, Mode: 0o2755, Gid: 5, ModTime: mt}, []byte("#!/bin/sh\n"))
	s.put(&tar.Header{Name: "bin/ping", Typeflag: tar.TypeReg, Mode: 0o755, ModTime: mt,
		PAXRecords: map[string]string{"SCHILY.xattr.security.capability": cap}}, []byte("ping"))
	s.put(&tar.Header{Name: "tmp", Typeflag: tar.TypeDir, Mode: 0o1777, ModTime: mt}, nil)
	s.put(&tar.Header{Name: "empty", Typeflag: tar.TypeReg, Mode: 0o600, Uid: 70000, Gid: 4000000000, ModTime: mt}, nil)
	holes := make([]byte, 10*blockSize+100)
	copy(holes[3*blockSize:], "middle")
	copy(holes[10*blockSize:], "tail")
	s.put(&tar.Header{Name: "holes", Typeflag: tar.TypeReg, Mode: 0o644, ModTime: mt}, holes)
	s.put(&tar.Header{Name: "zeros", Typeflag: tar.TypeReg, Mode: 0o644, ModTime: mt}, make([]byte, 3*blockSize+1))
	s.put(&tar.Header{Name: "fast", Typeflag: tar.TypeSymlink, Linkname: strings.Repeat("f", 59), ModTime: mt}, nil)
	s.put(&tar.Header{Name: "slow60", Typeflag: tar.TypeSymlink, Linkname: strings.Repeat("s", 60), ModTime: mt}, nil)
	s.put(&tar.Header{Name: "slowmax", Typeflag: tar.TypeSymlink, Linkname: strings.Repeat("a/", 2047) + "z", ModTime: mt}, nil)
	s.put(&tar.Header{Name: "dev/null", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3, ModTime: mt}, nil)
	s.put(&tar.Header{Name: "dev/big", Typeflag: tar.TypeChar, Mode: 0o600, Devmajor: 300, Devminor: 70000, ModTime: mt}, nil)
	s.put(&tar.Header{Name: "dev/sda", Typeflag: tar.TypeBlock, Mode: 0o660, Gid: 6, Devmajor: 8, Devminor: 0, ModTime: mt}, nil)
	s.put(&tar.Header{Name: "dev/fifo", Typeflag: tar.TypeFifo, Mode: 0o644, ModTime: mt}, nil)
	s.put(&tar.Header{Name: "dev/sock", Typeflag: tar.TypeReg, Mode: 0o140755, ModTime: mt}, nil)
	s.exp["dev"] = want{mode: 0o40755, mtime: testTime, xattrs: map[string]string{}} // created implicitly
	small := map[string]string{"SCHILY.xattr.user.a": "1", "SCHILY.xattr.trusted.t": "tv"}
	s.put(&tar.Header{Name: "xsmall", Typeflag: tar.TypeReg, Mode: 0o644, ModTime: mt, PAXRecords: small}, []byte("x"))
	s.put(&tar.Header{Name: "xmac", Typeflag: tar.TypeReg, Mode: 0o644, ModTime: mt, PAXRecords: map[string]string{
		"SCHILY.xattr.com.apple.provenance": "mac", "SCHILY.xattr.user.kept": "k"}}, []byte("m"))
	delete(s.exp["xmac"].xattrs, "com.apple.provenance") // Linux has no such namespace: dropped
	s.put(&tar.Header{Name: "xold", Typeflag: tar.TypeReg, Mode: 0o644, ModTime: mt,
		Xattrs: map[string]string{"user.deprecated-field": "still honoured"}}, []byte("o")) //nolint:staticcheck // the deprecated field is part of the contract
	s.exp["xold"].xattrs["user.deprecated-field"] = "still honoured"
	big := map[string]string{"SCHILY.xattr.user.big": strings.Repeat("B", 3000), "SCHILY.xattr.user.zz": "z",
		"SCHILY.xattr.user.empty": ""}
	s.put(&tar.Header{Name: "xbig", Typeflag: tar.TypeReg, Mode: 0o644, ModTime: mt, PAXRecords: big}, []byte("y"))
	const u = 0xFFFFFFFF // ACL_UNDEFINED_ID, as getxattr reports it
	acl := vfsACL([3]uint32{1, 7, u}, [3]uint32{2, 5, 1000}, [3]uint32{4, 5, u}, [3]uint32{8, 1, 50}, [3]uint32{0x10, 5, u}, [3]uint32{0x20, 0, u})
	s.put(&tar.Header{Name: "acl", Typeflag: tar.TypeDir, Mode: 0o750, ModTime: mt, PAXRecords: map[string]string{
		"SCHILY.xattr.system.posix_acl_access": acl, "SCHILY.xattr.system.posix_acl_default": acl}}, nil)
	s.put(&tar.Header{Name: "old", Typeflag: tar.TypeReg, Mode: 0o644, ModTime: time.Unix(-1000000000, 42)}, []byte("1938"))
	s.put(&tar.Header{Name: "new2100", Typeflag: tar.TypeReg, Mode: 0o644, ModTime: time.Date(2100, 1, 1, 0, 0, 0, 999999999, time.UTC)}, []byte("2100"))
	s.put(&tar.Header{Name: "new2300", Typeflag: tar.TypeReg, Mode: 0o644, ModTime: time.Date(2300, 6, 1, 0, 0, 0, 1, time.UTC)}, []byte("2300"))
	long := strings.Repeat("n", 255)
	s.put(&tar.Header{Name: "names/" + long, Typeflag: tar.TypeReg, Mode: 0o644, ModTime: mt}, []byte("long"))
	s.exp["names"] = want{mode: 0o40755, mtime: testTime, xattrs: map[string]string{}}
	s.put(&tar.Header{Name: "names/" + strings.Repeat("\xe9", 255), Typeflag: tar.TypeDir, Mode: 0o700, ModTime: mt}, nil)
	s.put(&tar.Header{Name: "link-target", Typeflag: tar.TypeReg, Mode: 0o644, ModTime: mt}, []byte("shared"))
	s.put(&tar.Header{Name: "bin/hard", Typeflag: tar.TypeLink, Linkname: "link-target"}, nil)
	wt := s.exp["link-target"]
	wt.nlink = 2
	s.exp["link-target"], s.exp["bin/hard"] = wt, wt
	s.put(&tar.Header{Name: "clamped", Typeflag: tar.TypeReg, Mode: 0o644, ModTime: time.Date(2400, 6, 1, 0, 0, 0, 1, time.UTC)}, []byte("2400"))
	wt = s.exp["clamped"]
	wt.mtime = time.Unix(maxTimeSec, 999999999)
	s.exp["clamped"] = wt
	s.put(&tar.Header{Name: ".", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mt}, nil)
}

func TestReadBackAllTypes(t *testing.T) {
	img := filepath.Join(t.TempDir(), "all.img")
	var s *spec
	w := buildImage(t, img, Options{Time: testTime, Label: "banger"}, func(w *Writer) {
		s = newSpec(t, w)
		allTypes(s)
	})
	fsckGate(t, img)
	if st := w.Stats(); st.Files != 24 || st.Dirs != 8 {
		t.Errorf("stats %+v: want 24 files, 8 dirs", st)
	}
	dir := mountImage(t, img, false)
	compareTree(t, dir, s.exp)
	unmount(t, dir)
	debugfsWitness(t, img)
	rwMountWrite(t, img)
}

// debugfsWitness reads a few inodes back with debugfs, independently of the kernel.
func debugfsWitness(t *testing.T, img string) {
	needTool(t, "debugfs", "e2fsprogs")
	out, err := exec.Command("debugfs", "-R", "stat /empty", img).CombinedOutput()
	if err != nil {
		t.Fatalf("debugfs: %v\n%s", err, out)
	}
	for _, wantS := range []string{"User: 70000", "Mode: 0600", "Links: 1", "Size: 0"} {
		if !strings.Contains(strings.Join(strings.Fields(string(out)), " "), wantS) {
			t.Errorf("debugfs stat /empty lacks %q:\n%s", wantS, out)
		}
	}
	out, _ = exec.Command("debugfs", "-R", "stat /new2100", img).CombinedOutput()
	if !strings.Contains(string(out), "mtime: 0xf4865700:ee6b27fd") {
		t.Errorf("debugfs: 2100 mtime not encoded with epoch bits:\n%s", out)
	}
	out, _ = exec.Command("debugfs", "-R", "stat /old", img).CombinedOutput()
	if !strings.Contains(string(out), "1938") {
		t.Errorf("debugfs: pre-1970 mtime wrong:\n%s", out)
	}
	out, _ = exec.Command("debugfs", "-R", "ex /holes", img).CombinedOutput()
	if n := strings.Count(string(out), "\n"); !bytes.Contains(out, []byte("Level Entries")) || n < 3 {
		t.Errorf("debugfs ex /holes:\n%s", out)
	}
}
