package flatten

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"path"
	"strings"
	"testing"
)

// fuzzParts are the name components the fuzzer combines: plain names, dot
// segments and whiteout forms.
var fuzzParts = []string{"a", "b", "c", "..", ".", ".wh.a", ".wh.b", ".wh..wh..opq", ".wh..wh.x", ".wh.", ".wh...", "d"}

var fuzzTypes = []byte{tar.TypeReg, tar.TypeDir, tar.TypeSymlink, tar.TypeLink, tar.TypeFifo, tar.TypeChar, tar.TypeXGlobalHeader, 'V', tar.TypeReg, tar.TypeDir}

// fuzzLayers turns fuzz bytes into up to 4 tar layers: each entry takes
// three bytes (type and flags, name, link target); 0xff starts a new layer.
func fuzzLayers(data []byte) [][]byte {
	var layers [][]byte
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	flush := func() {
		tw.Close()
		layers = append(layers, append([]byte(nil), buf.Bytes()...))
		buf.Reset()
		tw = tar.NewWriter(&buf)
	}
	for i := 0; i+2 < len(data) && len(layers) < 4; i += 3 {
		if data[i] == 0xff {
			flush()
			i -= 2
			continue
		}
		h := &tar.Header{Typeflag: fuzzTypes[int(data[i]%16)%len(fuzzTypes)], Name: fuzzName(data[i+1], data[i]>>4), Mode: 0o644}
		if h.Typeflag == tar.TypeLink || h.Typeflag == tar.TypeSymlink {
			h.Linkname = fuzzName(data[i+2], data[i+2]>>5)
		}
		var body []byte
		if h.Typeflag == tar.TypeReg {
			body = bytes.Repeat([]byte{data[i+2]}, int(data[i+2]%5))
			h.Size = int64(len(body))
		}
		if h.Typeflag == tar.TypeXGlobalHeader {
			h.PAXRecords = map[string]string{"comment": "g"}
		}
		if tw.WriteHeader(h) != nil {
			continue
		}
		tw.Write(body)
	}
	flush()
	return layers
}

// fuzzName builds a 1–3 component name, maybe with a "/" or "./" prefix.
func fuzzName(b, prefix byte) string {
	n := 1 + int(b%3)
	parts := make([]string, 0, n)
	for k := range n {
		parts = append(parts, fuzzParts[int(b>>(2+k*2)+byte(k))%len(fuzzParts)])
	}
	name := strings.Join(parts, "/")
	switch prefix % 4 {
	case 1:
		name = "/" + name
	case 2:
		name = "./" + name
	}
	return name
}

// checkingSink asserts that every name reaching the Sink is clean and
// relative, and that no whiteout entry is ever written.
type checkingSink struct {
	*memSink
	t *testing.T
}

func (c checkingSink) checkName(what, n string) {
	if n == "" || n == "." || n != path.Clean(n) || path.IsAbs(n) || n == ".." || strings.HasPrefix(n, "../") {
		c.t.Fatalf("%s %q is not clean and relative", what, n)
	}
}

func (c checkingSink) Put(hdr *tar.Header, r io.Reader) error {
	c.checkName("name", hdr.Name)
	if strings.HasPrefix(path.Base(hdr.Name), ".wh.") {
		c.t.Fatalf("whiteout %q written", hdr.Name)
	}
	if hdr.Typeflag == tar.TypeLink {
		c.checkName("hardlink target", hdr.Linkname)
	}
	return c.memSink.Put(hdr, r)
}

func (c checkingSink) Remove(n string) error {
	c.checkName("removed name", n)
	return c.memSink.Remove(n)
}

func (c checkingSink) ReadDir(n string) ([]string, error) {
	if n != "." {
		c.checkName("listed name", n)
	}
	return c.memSink.ReadDir(n)
}

func FuzzApply(f *testing.F) {
	f.Add([]byte{1, 0, 0, 0, 1, 2, 0xff, 0, 4, 0, 3, 1, 0})
	f.Add([]byte{0, 9, 0, 3, 14, 0, 0xff, 0, 30, 3})
	f.Add([]byte{0x11, 0x55, 0x21, 0x03, 0x02, 0x01, 0xff, 0x07, 0x9a, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		var layers []Layer
		for _, b := range fuzzLayers(data) {
			layers = append(layers, bytesLayer("", b))
		}
		sink := checkingSink{memSink: newMemSink(), t: t}
		Apply(context.Background(), sink, layers, Options{MaxBytes: 1 << 20})
		for _, line := range sink.dump() {
			if strings.HasPrefix(line, "..") || strings.HasPrefix(line, "/") {
				t.Fatalf("escaped name in tree: %s", line)
			}
		}
	})
}
