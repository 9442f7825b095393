package ext4

import (
	"archive/tar"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func dirHdr(name string, mode int64) *tar.Header {
	return &tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: mode, ModTime: testTime}
}

func regHdr(name string) *tar.Header {
	return &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, ModTime: testTime}
}

func TestReplaceAndRemove(t *testing.T) {
	img := filepath.Join(t.TempDir(), "r.img")
	var s *spec
	var blocksBefore uint64
	buildImage(t, img, Options{Time: testTime}, func(w *Writer) {
		s = newSpec(t, w)
		big := randBytes(7, 3<<20)
		// file → file: the old data is freed.
		s.put(regHdr("f2f"), big)
		blocksBefore = w.dataBlocks
		s.put(regHdr("f2f"), []byte("new content"))
		if w.dataBlocks >= blocksBefore {
			t.Errorf("replaced data not freed: %d blocks before, %d after", blocksBefore, w.dataBlocks)
		}
		// file → dir and dir → file.
		s.put(regHdr("f2d"), []byte("was a file"))
		s.put(dirHdr("f2d", 0o711), nil)
		s.put(regHdr("f2d/child"), []byte("child"))
		s.put(dirHdr("d2f", 0o755), nil)
		s.put(regHdr("d2f/gone"), randBytes(8, 100000))
		s.put(regHdr("d2f"), []byte("now a file"))
		delete(s.exp, "d2f/gone")
		// dir → dir keeps children, takes the new metadata.
		s.put(dirHdr("keep", 0o755), nil)
		s.put(regHdr("keep/a"), []byte("a"))
		s.put(&tar.Header{Name: "keep/", Typeflag: tar.TypeDir, Mode: 0o700, Uid: 7, ModTime: time.Unix(5, 0)}, nil)
		// parents created implicitly, then declared.
		s.put(regHdr("late/x/y"), []byte("y"))
		s.put(&tar.Header{Name: "./late/x", Typeflag: tar.TypeDir, Mode: 0o750, Gid: 9, ModTime: testTime}, nil)
		s.exp["late"] = want{mode: 0o40755, mtime: testTime, xattrs: map[string]string{}}
		// remove a subtree.
		s.put(regHdr("rm/a/b/c"), randBytes(9, 50000))
		s.put(regHdr("rm/a/d"), []byte("d"))
		if err := w.Remove("/rm/a"); err != nil {
			t.Fatal(err)
		}
		if err := w.Remove("rm/never/was"); err != nil {
			t.Errorf("Remove of a missing name: %v", err)
		}
		delete(s.exp, "rm/a/b/c")
		delete(s.exp, "rm/a/d")
		s.exp["rm"] = want{mode: 0o40755, mtime: testTime, xattrs: map[string]string{}}
		// hardlink, then the target is replaced: the link keeps the old content.
		s.put(regHdr("orig"), []byte("old content"))
		s.put(&tar.Header{Name: "link", Typeflag: tar.TypeLink, Linkname: "orig"}, nil)
		s.exp["link"] = s.exp["orig"]
		s.put(regHdr("orig"), []byte("replacement"))
		// symlinked parent directories are followed inside the image.
		s.put(&tar.Header{Name: "usr/lib", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: testTime}, nil)
		s.put(&tar.Header{Name: "lib", Typeflag: tar.TypeSymlink, Linkname: "/../usr/lib", ModTime: testTime}, nil)
		s.put(regHdr("lib/libc.so"), []byte("libc"))
		delete(s.exp, "lib/libc.so")
		s.put(regHdr("usr/lib/libc.so"), []byte("libc"))
		s.exp["usr"] = want{mode: 0o40755, mtime: testTime, xattrs: map[string]string{}}
		names, err := w.ReadDir("lib")
		if err != nil || !reflect.DeepEqual(names, []string{"libc.so"}) {
			t.Errorf("ReadDir(lib) = %q, %v", names, err)
		}
		names, err = w.ReadDir("/")
		if err != nil || strings.Join(names, " ") != "d2f f2d f2f keep late lib link lost+found orig rm usr" {
			t.Errorf("ReadDir(/) = %q, %v", names, err)
		}
	})
	fsckGate(t, img)
	dir := mountImage(t, img, false)
	compareTree(t, dir, s.exp)
}

func TestPathErrors(t *testing.T) {
	img := filepath.Join(t.TempDir(), "p.img")
	buildImage(t, img, Options{}, func(w *Writer) {
		for _, name := range []string{"../x", "a/../../x", "/.."} {
			if err := w.Put(regHdr(name), strings.NewReader("")); !errors.Is(err, ErrUnsafePath) || !errors.Is(err, ErrInvalid) {
				t.Errorf("Put %q: %v, want ErrUnsafePath", name, err)
			}
		}
		if err := w.Put(&tar.Header{Name: "l", Typeflag: tar.TypeLink, Linkname: "../../etc/passwd"}, nil); !errors.Is(err, ErrUnsafePath) {
			t.Errorf("hardlink climbing out: %v", err)
		}
		if err := w.Put(regHdr("file"), strings.NewReader("")); err != nil {
			t.Fatal(err)
		}
		if err := w.Put(regHdr("file/under"), strings.NewReader("")); err == nil {
			t.Error("Put under a regular file succeeded")
		}
		if err := w.Put(&tar.Header{Name: "hl", Typeflag: tar.TypeLink, Linkname: "missing"}, nil); err == nil {
			t.Error("hardlink to a missing target succeeded")
		}
		if err := w.Put(&tar.Header{Name: "hd", Typeflag: tar.TypeLink, Linkname: "lost+found"}, nil); err == nil {
			t.Error("hardlink to a directory succeeded")
		}
		short := regHdr("short")
		short.Size = 100
		if err := w.Put(short, strings.NewReader("only a few")); err == nil {
			t.Error("short content accepted")
		}
		if err := w.Put(regHdr(strings.Repeat("n", 256)), strings.NewReader("")); err == nil {
			t.Error("256-byte name accepted")
		}
		// Symlink loops stay bounded and confined.
		w.Put(&tar.Header{Name: "loop", Typeflag: tar.TypeSymlink, Linkname: "loop"}, nil)
		if err := w.Put(regHdr("loop/x"), strings.NewReader("")); err == nil {
			t.Error("Put through a symlink loop succeeded")
		}
		w.Put(&tar.Header{Name: "up", Typeflag: tar.TypeSymlink, Linkname: "../../../.."}, nil)
		if err := w.Put(regHdr("up/confined"), strings.NewReader("")); err != nil {
			t.Errorf("Put through an escaping symlink: %v", err)
		}
		if names, _ := w.ReadDir("."); !contains(names, "confined") {
			t.Errorf("escaping symlink not clamped to the root: %q", names)
		}
	})
	fsckGate(t, img)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
