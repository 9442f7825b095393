package agent

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestResolveUser(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte(`root:x:0:0:root:/root:/bin/sh
# a comment
alice:x:1000:1000::/home/alice:/bin/sh
bob:x:1001:100:Bob:/home/bob:/bin/sh
broken line
nohome:x:1002:1002:::/bin/sh
+nis
`), 0o644)
	os.WriteFile(filepath.Join(root, "etc/group"), []byte(`root:x:0:
alice:x:1000:
users:x:100:alice,bob
wheel:x:10:alice
`), 0o644)
	tests := []struct {
		spec       string
		uid, gid   uint32
		groups     []uint32
		home       string
		unknown    bool
		otherError bool
	}{
		{spec: "", uid: 0, gid: 0, home: "/root"},
		{spec: "root", uid: 0, gid: 0, home: "/root"},
		{spec: "alice", uid: 1000, gid: 1000, groups: []uint32{100, 10}, home: "/home/alice"},
		{spec: "1001", uid: 1001, gid: 100, groups: []uint32{100}, home: "/home/bob"},
		{spec: "alice:wheel", uid: 1000, gid: 10, groups: []uint32{100, 10}, home: "/home/alice"},
		{spec: "bob:5", uid: 1001, gid: 5, groups: []uint32{100}, home: "/home/bob"},
		{spec: "4242", uid: 4242, gid: 0, home: "/"},
		{spec: "4242:4343", uid: 4242, gid: 4343, home: "/"},
		{spec: "nohome", uid: 1002, gid: 1002, home: "/"},
		{spec: "carol", unknown: true},
		{spec: "alice:nogroup", unknown: true},
		{spec: ":wheel", otherError: true},
		{spec: "alice:", otherError: true},
	}
	for _, tt := range tests {
		uid, gid, groups, home, err := ResolveUser(root, tt.spec)
		switch {
		case tt.unknown:
			if !errors.Is(err, ErrUnknownUser) {
				t.Errorf("%q: err = %v, want ErrUnknownUser", tt.spec, err)
			}
		case tt.otherError:
			if err == nil {
				t.Errorf("%q: no error", tt.spec)
			}
		case err != nil:
			t.Errorf("%q: %v", tt.spec, err)
		case uid != tt.uid || gid != tt.gid || !slices.Equal(groups, tt.groups) || home != tt.home:
			t.Errorf("%q = %d, %d, %v, %q; want %d, %d, %v, %q", tt.spec, uid, gid, groups, home, tt.uid, tt.gid, tt.groups, tt.home)
		}
	}
}

func TestResolveUserWithoutFiles(t *testing.T) {
	root := t.TempDir()
	if uid, gid, _, home, err := ResolveUser(root, "123:45"); err != nil || uid != 123 || gid != 45 || home != "/" {
		t.Errorf("numeric ids without passwd: %d, %d, %q, %v", uid, gid, home, err)
	}
	if _, _, _, _, err := ResolveUser(root, "www-data"); !errors.Is(err, ErrUnknownUser) {
		t.Errorf("name without passwd: err = %v, want ErrUnknownUser", err)
	}
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "tool"), []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "data"), []byte("x"), 0o644)
	if p, err := LookPath("tool", []string{"PATH=/nonexistent:" + dir}, "/"); err != nil || p != filepath.Join(dir, "tool") {
		t.Errorf("LookPath(tool) = %q, %v", p, err)
	}
	if _, err := LookPath("data", []string{"PATH=" + dir}, "/"); err == nil {
		t.Error("a file without x bits was found")
	}
	if p, err := LookPath("sh", nil, "/"); err != nil || !filepath.IsAbs(p) {
		t.Errorf("LookPath(sh) with no PATH = %q, %v; want it found in DefaultPath", p, err)
	}
	if p, err := LookPath("./tool", nil, dir); err != nil || p != "./tool" {
		t.Errorf("LookPath(./tool) = %q, %v", p, err)
	}
}
