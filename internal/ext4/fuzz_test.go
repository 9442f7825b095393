package ext4

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fuzzNames is a small alphabet so that random ops collide on names.
var fuzzNames = []string{"a", "b", "c", "..", ".", "lost+found", strings.Repeat("L", 255), "\xe9"}

// fuzzOps turns bytes into writer operations; errors are allowed, panics
// and fsck-unclean images are not.
func fuzzOps(w *Writer, data []byte) {
	next := func() byte {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return b
	}
	path := func() string {
		n := int(next()%4) + 1
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fuzzNames[int(next())%len(fuzzNames)]
		}
		return strings.Join(parts, "/")
	}
	for len(data) > 0 {
		op := next() % 10
		name := path()
		mt := time.Unix(int64(int8(next()))<<28, int64(next()))
		hdr := &tar.Header{Name: name, Mode: int64(next()) << 4, Uid: int(next()) << 20, ModTime: mt}
		var body []byte
		switch op {
		case 0, 1:
			hdr.Typeflag = tar.TypeReg
			size := int(next()) * int(next()) * 37
			body = bytes.Repeat([]byte{next()}, size)
			if next()%2 == 0 && size > 0 {
				clear(body[:size/2])
			}
			hdr.Size = int64(size)
		case 2:
			hdr.Typeflag = tar.TypeDir
		case 3:
			hdr.Typeflag = tar.TypeSymlink
			hdr.Linkname = path()
			if next()%3 == 0 {
				hdr.Linkname = strings.Repeat(hdr.Linkname+"/", int(next()%64)+1)
			}
		case 4:
			hdr.Typeflag = tar.TypeLink
			hdr.Linkname = path()
		case 5:
			w.Remove(name)
			continue
		case 6:
			hdr.Typeflag = tar.TypeChar
			hdr.Devmajor, hdr.Devminor = int64(next()), int64(next())<<int(next()%13)
		case 7:
			hdr.Typeflag = tar.TypeFifo
			hdr.PAXRecords = map[string]string{"SCHILY.xattr.user.x": strings.Repeat("v", int(next())*int(next()%20))}
		case 8:
			w.ReadDir(name)
			continue
		case 9:
			hdr.Typeflag = tar.TypeDir
			hdr.PAXRecords = map[string]string{"SCHILY.xattr.security.selinux": "system_u:object_r:etc_t:s0"}
		}
		w.Put(hdr, bytes.NewReader(body))
	}
}

func FuzzWriter(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 1, 0, 2, 3, 4, 5, 6, 7, 2, 0, 3, 1, 1, 1, 1, 1, 1, 1, 4, 1, 0, 1, 2, 0})
	f.Add([]byte("\x02\x01\x00\x00\x00\x00\x00\x00\x00\x01\x01\x01\x00\x00\x00\x00\x00\xff\xff\x41\x00\x04\x01\x00\x01\x00"))
	f.Add([]byte("\x05\x00\x00\x09\x02\x03\x04\x07\x03\x02\x01\x01\x40\x20\x03\x03\x00\x01\x00\x00\x00\x20\x20"))
	f.Fuzz(func(t *testing.T, data []byte) {
		img := filepath.Join(t.TempDir(), "fuzz.img")
		f, err := os.Create(img)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		w, err := New(f, Options{Size: 64 << 20})
		if err != nil {
			t.Fatal(err)
		}
		fuzzOps(w, data)
		if err := w.Close(); err != nil {
			t.Logf("Close: %v (a clean error)", err)
			return
		}
		fsckGate(t, img)
	})
}
