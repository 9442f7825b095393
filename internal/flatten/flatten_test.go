package flatten

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
)

// ent describes one tar entry for a test layer. typ 0 means a regular file.
type ent struct {
	name string
	typ  byte
	body string
	link string
	mode int64
	pax  map[string]string
}

func file(name, body string) ent { return ent{name: name, body: body} }
func dir(name string) ent        { return ent{name: name, typ: tar.TypeDir} }
func wh(name string) ent         { return ent{name: name} } // whiteouts are empty files
func hardlink(name, target string) ent {
	return ent{name: name, typ: tar.TypeLink, link: target}
}
func symlink(name, target string) ent {
	return ent{name: name, typ: tar.TypeSymlink, link: target}
}

func tarBytes(t testing.TB, ents ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: e.mode, PAXRecords: e.pax}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.body))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if len(e.pax) > 0 {
			h.Format = tar.FormatPAX
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("writing header %q: %v", e.name, err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func bytesLayer(digest string, b []byte) Layer {
	return Layer{Digest: digest, Open: func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}}
}

// apply flattens the layers (each a list of entries) into a fresh memSink.
func apply(t testing.TB, layers ...[]ent) (*memSink, error) {
	t.Helper()
	var ls []Layer
	for _, l := range layers {
		ls = append(ls, bytesLayer("", tarBytes(t, l...)))
	}
	m := newMemSink()
	_, err := Apply(context.Background(), m, ls, Options{})
	return m, err
}

func mustApply(t *testing.T, layers ...[]ent) *memSink {
	t.Helper()
	m, err := apply(t, layers...)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return m
}

func wantTree(t *testing.T, m *memSink, want ...string) {
	t.Helper()
	got := m.dump()
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("tree mismatch\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(want, "\n      "))
	}
}

func L(e ...ent) []ent { return e }

func TestPlainEntries(t *testing.T) {
	m := mustApply(t, L(
		dir("etc"), file("etc/hostname", "box\n"), symlink("bin", "usr/bin"),
		ent{name: "dev/null", typ: tar.TypeChar, mode: 0o666}, ent{name: "run/fifo", typ: tar.TypeFifo, mode: 0o600},
	))
	wantTree(t, m,
		`bin: symlink → usr/bin`, `dev: dir 755`, `dev/null: type 3`, `etc: dir 755`,
		`etc/hostname: file 644 "box\n"`, `run: dir 755`, `run/fifo: type 6`)
}

func TestWhiteoutHidesOnlyLowerLayers(t *testing.T) {
	lower := L(dir("a"), file("a/x", "x"), file("a/y", "y"), file("b", "old"), file("keep", "k"))
	for _, tc := range []struct {
		name  string
		upper []ent
		want  []string
	}{
		{"whiteout a file", L(wh("a/.wh.x")),
			[]string{`a: dir 755`, `a/y: file 644 "y"`, `b: file 644 "old"`, `keep: file 644 "k"`}},
		{"whiteout before same-layer entry", L(wh(".wh.b"), file("b", "new")),
			[]string{`a: dir 755`, `a/x: file 644 "x"`, `a/y: file 644 "y"`, `b: file 644 "new"`, `keep: file 644 "k"`}},
		{"whiteout after same-layer entry", L(file("b", "new"), wh(".wh.b")),
			[]string{`a: dir 755`, `a/x: file 644 "x"`, `a/y: file 644 "y"`, `b: file 644 "new"`, `keep: file 644 "k"`}},
		{"whiteout dir then recreate it", L(wh(".wh.a"), dir("a"), file("a/z", "z")),
			[]string{`a: dir 755`, `a/z: file 644 "z"`, `b: file 644 "old"`, `keep: file 644 "k"`}},
		{"recreate dir then whiteout it", L(dir("a"), file("a/z", "z"), wh(".wh.a")),
			[]string{`a: dir 755`, `a/z: file 644 "z"`, `b: file 644 "old"`, `keep: file 644 "k"`}},
		{"whiteout dir, children only implied", L(wh(".wh.a"), file("a/z", "z")),
			[]string{`a: dir 755`, `a/z: file 644 "z"`, `b: file 644 "old"`, `keep: file 644 "k"`}},
		{"whiteout of a missing name", L(wh(".wh.nothing"), wh("a/.wh.nothing")),
			[]string{`a: dir 755`, `a/x: file 644 "x"`, `a/y: file 644 "y"`, `b: file 644 "old"`, `keep: file 644 "k"`}},
		{"aufs metadata ignored", L(wh(".wh..wh.plnk"), wh("a/.wh..wh.aufs")),
			[]string{`a: dir 755`, `a/x: file 644 "x"`, `a/y: file 644 "y"`, `b: file 644 "old"`, `keep: file 644 "k"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantTree(t, mustApply(t, lower, tc.upper), tc.want...)
		})
	}
}

func TestOpaqueDirectory(t *testing.T) {
	lower := L(dir("d"), file("d/x", "x"), dir("d/s"), file("d/s/old", "o"), file("other", "o"))
	for _, tc := range []struct {
		name  string
		upper []ent
		want  []string
	}{
		{"marker first", L(dir("d"), wh("d/.wh..wh..opq"), file("d/new", "n")),
			[]string{`d: dir 755`, `d/new: file 644 "n"`, `other: file 644 "o"`}},
		{"marker last", L(dir("d"), file("d/new", "n"), wh("d/.wh..wh..opq")),
			[]string{`d: dir 755`, `d/new: file 644 "n"`, `other: file 644 "o"`}},
		{"same-layer subdir keeps only its new children", L(dir("d"), dir("d/s"), file("d/s/new", "n"), wh("d/.wh..wh..opq")),
			[]string{`d: dir 755`, `d/s: dir 755`, `d/s/new: file 644 "n"`, `other: file 644 "o"`}},
		{"opaque root", L(wh(".wh..wh..opq"), file("fresh", "f")),
			[]string{`fresh: file 644 "f"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantTree(t, mustApply(t, lower, tc.upper), tc.want...)
		})
	}
}

func TestOpaqueHidesLowerFileBeforeSameLayerSubtree(t *testing.T) {
	// Lower d/s is a file; the upper layer makes d opaque and writes d/s/x
	// without declaring d/s: the lower file must go before d/s/x lands.
	m := mustApply(t, L(dir("d"), file("d/s", "file")), L(dir("d"), wh("d/.wh..wh..opq"), file("d/s/x", "x")))
	wantTree(t, m, `d: dir 755`, `d/s: dir 755`, `d/s/x: file 644 "x"`)
}

func TestTypeSwaps(t *testing.T) {
	t.Run("file hides older subtree", func(t *testing.T) {
		m := mustApply(t, L(dir("a"), dir("a/b"), file("a/b/c", "c")), L(file("a", "now a file")))
		wantTree(t, m, `a: file 644 "now a file"`)
	})
	t.Run("symlink hides older subtree", func(t *testing.T) {
		m := mustApply(t, L(dir("lib"), file("lib/x", "x")), L(symlink("lib", "usr/lib")))
		wantTree(t, m, `lib: symlink → usr/lib`)
	})
	t.Run("dir replaces file", func(t *testing.T) {
		m := mustApply(t, L(file("a", "f")), L(dir("a"), file("a/x", "x")))
		wantTree(t, m, `a: dir 755`, `a/x: file 644 "x"`)
	})
	t.Run("swaps within one layer", func(t *testing.T) {
		m := mustApply(t, L(file("a", "f"), dir("a"), file("a/x", "x"), file("b/c", "c"), file("b", "now file")))
		wantTree(t, m, `a: dir 755`, `a/x: file 644 "x"`, `b: file 644 "now file"`)
	})
	t.Run("dir over dir keeps children, takes new mode", func(t *testing.T) {
		m := mustApply(t, L(dir("a"), file("a/x", "x")), L(ent{name: "a", typ: tar.TypeDir, mode: 0o700}))
		wantTree(t, m, `a: dir 700`, `a/x: file 644 "x"`)
	})
}

func TestHardlinks(t *testing.T) {
	t.Run("target in lower layer, later whited out", func(t *testing.T) {
		m := mustApply(t, L(file("f", "hello")), L(hardlink("g", "f")), L(wh(".wh.f")))
		wantTree(t, m, `g: file 644 "hello"`)
	})
	t.Run("target whited out in the same layer", func(t *testing.T) {
		m := mustApply(t, L(file("f", "hello")), L(wh(".wh.f"), hardlink("g", "f")))
		wantTree(t, m, `g: file 644 "hello"`)
	})
	t.Run("same-layer target shares the inode", func(t *testing.T) {
		m := mustApply(t, L(file("usr/bin/a", "bin"), hardlink("usr/bin/b", "./usr/bin/a")))
		a, _ := m.lookup("usr/bin/a")
		b, _ := m.lookup("usr/bin/b")
		if a == nil || a != b {
			t.Fatalf("usr/bin/a and usr/bin/b are not one inode: %v %v", a, b)
		}
	})
	t.Run("missing target names both", func(t *testing.T) {
		_, err := apply(t, L(hardlink("g", "nowhere")))
		if err == nil || !strings.Contains(err.Error(), `"g"`) || !strings.Contains(err.Error(), `"nowhere"`) {
			t.Fatalf("want an error naming g and nowhere, got %v", err)
		}
	})
}

func TestDuplicateNamesLastWins(t *testing.T) {
	m := mustApply(t, L(file("x", "one"), file("x", "two"), ent{name: "d", typ: tar.TypeDir, mode: 0o700}, dir("d")))
	wantTree(t, m, `d: dir 755`, `x: file 644 "two"`)
}

func TestNames(t *testing.T) {
	m := mustApply(t, L(file("./a", "a"), file("/b", "b"), file("c/../d", "d"), dir("./"), dir("/"), symlink("s", "../../etc/shadow")))
	wantTree(t, m, `a: file 644 "a"`, `b: file 644 "b"`, `d: file 644 "d"`, `s: symlink → ../../etc/shadow`)

	for _, bad := range [][]ent{
		L(file("../escape", "x")),
		L(file("a/../../escape", "x")),
		L(file("/../escape", "x")),
		L(file("ok", "x"), hardlink("l", "../../etc/shadow")),
		L(wh("a/.wh..."))} {
		m := newMemSink()
		_, err := Apply(context.Background(), m, []Layer{bytesLayer("", nil), bytesLayer("sha256:feed", tarBytes(t, bad...))}, Options{})
		if !errors.Is(err, ErrUnsafePath) {
			t.Errorf("%v: want ErrUnsafePath, got %v", bad, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "layer 2 of 2") || !strings.Contains(msg, "sha256:feed") {
			t.Errorf("error lacks the layer index and digest: %v", err)
		}
	}
}

func TestParentsDeclaredLateOrNever(t *testing.T) {
	m := mustApply(t, L(file("a/b/c", "c"), ent{name: "a", typ: tar.TypeDir, mode: 0o700}, file("x/y/z", "z")))
	wantTree(t, m, `a: dir 700`, `a/b: dir 755`, `a/b/c: file 644 "c"`, `x: dir 755`, `x/y: dir 755`, `x/y/z: file 644 "z"`)
}

func TestXattrsPassThrough(t *testing.T) {
	m := mustApply(t, L(ent{name: "ping", body: "elf", pax: map[string]string{"SCHILY.xattr.security.capability": "\x01\x02"}}))
	n, err := m.lookup("ping")
	if err != nil {
		t.Fatal(err)
	}
	if got := n.hdr.PAXRecords["SCHILY.xattr.security.capability"]; got != "\x01\x02" {
		t.Fatalf("xattr lost: %q", got)
	}
}

func TestEntryTypes(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "global", PAXRecords: map[string]string{"comment": "x"}})
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "f", Mode: 0o644})
	tw.Close()
	m := newMemSink()
	if _, err := Apply(context.Background(), m, []Layer{bytesLayer("", buf.Bytes())}, Options{}); err != nil {
		t.Fatalf("global header not skipped: %v", err)
	}
	wantTree(t, m, `f: file 644 ""`)

	raw := tarBytes(t, file("v", ""))
	raw[156] = 'V' // volume header: not part of a root filesystem
	fixChecksum(raw[:512])
	_, err := Apply(context.Background(), newMemSink(), []Layer{bytesLayer("", raw)}, Options{})
	if !errors.Is(err, ErrUnsupportedEntry) {
		t.Fatalf("want ErrUnsupportedEntry, got %v", err)
	}
}

// fixChecksum recomputes a ustar header block's checksum.
func fixChecksum(b []byte) {
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:156], []byte(strings.Repeat("0", 6-len(itoa8(sum)))+itoa8(sum)+"\x00 "))
}

func itoa8(n int) string {
	s := ""
	for ; n > 0; n /= 8 {
		s = string(rune('0'+n%8)) + s
	}
	return s
}

// A tar of a real tree (Options.Verbatim): .wh. names are plain files and
// the root entry sets the root's metadata; as an image layer, the same
// stream whites out and leaves the root alone.
func TestVerbatim(t *testing.T) {
	stream := tarBytes(t,
		ent{name: "./", typ: tar.TypeDir, mode: 0o711},
		file(".wh.keep", "kept"),
		dir("d"), file("d/.wh..wh..opq", ""), file("d/x", "x"))
	verbatim := newMemSink()
	if _, err := Apply(context.Background(), verbatim, []Layer{bytesLayer("", stream)}, Options{Verbatim: true}); err != nil {
		t.Fatal(err)
	}
	wantTree(t, verbatim, `.wh.keep: file 644 "kept"`, "d: dir 755", `d/.wh..wh..opq: file 644 ""`, `d/x: file 644 "x"`)
	if verbatim.rootPuts != 1 || verbatim.root.hdr.Mode != 0o711 {
		t.Errorf("root: %d puts, mode %o; want one put, 711", verbatim.rootPuts, verbatim.root.hdr.Mode)
	}
	layer := newMemSink()
	if _, err := Apply(context.Background(), layer, []Layer{bytesLayer("", stream)}, Options{}); err != nil {
		t.Fatal(err)
	}
	wantTree(t, layer, "d: dir 755", `d/x: file 644 "x"`)
	if layer.rootPuts != 0 {
		t.Errorf("an image layer's root entry reached the sink %d times", layer.rootPuts)
	}
}
