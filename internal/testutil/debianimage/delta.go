package debianimage

import (
	"archive/tar"
	"bytes"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// writeDelta writes the "apt-get install bench-<variant>" layer for tree.
// Entries that depend on the tree (overwrites, the whiteout, the opaque
// directory) are written only when their target exists there.
func writeDelta(tw *tar.Writer, tree, variant string, t time.Time) error {
	pkg := "bench-" + variant
	var entries []entryData
	for _, name := range []string{"etc/debian_version", "etc/issue"} {
		if old, err := os.ReadFile(filepath.Join(tree, name)); err == nil {
			entries = append(entries, reg(name, 0o644, append(old, "# "+pkg+"\n"...), t))
		}
	}
	if status, err := os.ReadFile(filepath.Join(tree, "var/lib/dpkg/status")); err == nil {
		stanza := fmt.Sprintf("\nPackage: %s\nStatus: install ok installed\nVersion: 1.0\nArchitecture: amd64\n", pkg)
		entries = append(entries, reg("var/lib/dpkg/status", 0o644, append(status, stanza...), t))
	}
	if doc := firstChild(filepath.Join(tree, "usr/share/doc")); doc != "" {
		entries = append(entries, reg("usr/share/doc/.wh."+doc, 0o644, nil, t))
	}
	if fi, err := os.Stat(filepath.Join(tree, "var/log/apt")); err == nil && fi.IsDir() {
		entries = append(entries, reg("var/log/apt/.wh..wh..opq", 0o644, nil, t),
			reg("var/log/apt/history.log", 0o640, textData("history-"+pkg, 2048), t))
	}
	entries = append(entries, packageEntries(pkg, t)...)
	for _, e := range entries {
		if err := writeEntry(tw, &e.hdr, bytes.NewReader(e.data)); err != nil {
			return err
		}
	}
	return nil
}

// packageEntries are the files the bench package "installs".
func packageEntries(pkg string, t time.Time) []entryData {
	lib := "usr/local/lib/" + pkg
	bin := "usr/local/bin/" + pkg
	out := []entryData{dir("usr/local/lib", 0o755, t), dir(lib, 0o755, t)}
	for i := range 200 {
		name := fmt.Sprintf("%s/module%03d.py", lib, i)
		out = append(out, reg(name, 0o644, textData(name, 1024+(i*37)%6000), t))
	}
	out = append(out, reg(bin, 0o755, textData(bin, 96<<10), t))
	alias := entryData{hdr: tar.Header{Typeflag: tar.TypeLink, Name: bin + "-alias", Linkname: bin, ModTime: t, Format: tar.FormatPAX}}
	link := entryData{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: bin + "-link", Linkname: pkg, Mode: 0o777, ModTime: t, Format: tar.FormatPAX}}
	suid := reg(bin+"-suid", 0o4755, textData(bin+"-suid", 8<<10), t)
	owned := reg("usr/local/lib/"+pkg+"/owned-by-1000", 0o600, []byte("uid 1000\n"), t)
	owned.hdr.Uid, owned.hdr.Gid = 1000, 1000
	owned.hdr.PAXRecords = map[string]string{"SCHILY.xattr.user.bench": pkg}
	return append(out, alias, link, suid, owned)
}

// entryData is one tar entry and its content.
type entryData struct {
	hdr  tar.Header
	data []byte
}

func reg(name string, mode int64, data []byte, t time.Time) entryData {
	return entryData{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: t, Format: tar.FormatPAX}, data: data}
}

func dir(name string, mode int64, t time.Time) entryData {
	return entryData{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: t, Format: tar.FormatPAX}}
}

// firstChild is the first name, sorted, in directory p, or "" if none.
func firstChild(p string) string {
	ents, err := os.ReadDir(p)
	if err != nil || len(ents) == 0 {
		return ""
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	sort.Strings(names)
	return names[0]
}

// textData is n bytes of deterministic, text-like content seeded by seed:
// words of lowercase letters, so it compresses about as well as source code.
func textData(seed string, n int) []byte {
	h := fnv.New64a()
	h.Write([]byte(seed))
	r := rand.New(rand.NewPCG(h.Sum64(), 0x62616e676572))
	out := make([]byte, n)
	for i := range out {
		switch v := r.Uint32() % 32; {
		case v == 0:
			out[i] = '\n'
		case v < 6:
			out[i] = ' '
		default:
			out[i] = 'a' + byte(v-6)
		}
	}
	return out
}
