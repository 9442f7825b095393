package paths

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestFromEnvDefaults(t *testing.T) {
	l, err := FromEnv(env(map[string]string{"HOME": "/home/u"}))
	if err != nil {
		t.Fatal(err)
	}
	want := Layout{
		StateDir:   "/home/u/.local/state/banger",
		CacheDir:   "/home/u/.cache/banger",
		RuntimeDir: filepath.Join(os.TempDir(), fmt.Sprintf("banger-%d", os.Getuid())),
	}
	if l != want {
		t.Fatalf("got %+v, want %+v", l, want)
	}
	if got := l.ImageDir("abc"); got != "/home/u/.local/state/banger/images/abc" {
		t.Errorf("ImageDir = %s", got)
	}
	if got := l.BlobPath("ff"); got != "/home/u/.cache/banger/oci/blobs/sha256/ff" {
		t.Errorf("BlobPath = %s", got)
	}
	if got := l.DBPath(); got != "/home/u/.local/state/banger/banger.db" {
		t.Errorf("DBPath = %s", got)
	}
}

func TestFromEnvXDG(t *testing.T) {
	l, err := FromEnv(env(map[string]string{
		"HOME": "/home/u", "XDG_STATE_HOME": "/s", "XDG_CACHE_HOME": "/c", "XDG_RUNTIME_DIR": "/run/user/7",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if l.StateDir != "/s/banger" || l.CacheDir != "/c/banger" || l.SocketPath() != "/run/user/7/banger/bangerd.sock" {
		t.Fatalf("got %+v", l)
	}
}

func TestFromEnvIgnoresRelativeXDG(t *testing.T) {
	l, err := FromEnv(env(map[string]string{"HOME": "/h", "XDG_STATE_HOME": "rel", "XDG_RUNTIME_DIR": "run"}))
	if err != nil {
		t.Fatal(err)
	}
	if l.StateDir != "/h/.local/state/banger" {
		t.Errorf("StateDir = %s", l.StateDir)
	}
	if filepath.Base(l.RuntimeDir) != fmt.Sprintf("banger-%d", os.Getuid()) {
		t.Errorf("RuntimeDir = %s", l.RuntimeDir)
	}
}

func TestFromEnvNoHome(t *testing.T) {
	if _, err := FromEnv(env(nil)); err == nil {
		t.Fatal("want an error without HOME")
	}
}

func TestEnsureRuntimeDirTightensMode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	l := Layout{RuntimeDir: dir}
	if err := l.EnsureRuntimeDir(); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o700 {
		t.Fatalf("mode = %v, want 0700", info.Mode().Perm())
	}
}

func TestEnsureRuntimeDirRejectsForeignOwner(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rt")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 4242, 4242); err != nil {
		t.Skipf("cannot chown (not root?): %v", err)
	}
	if err := (Layout{RuntimeDir: dir}).EnsureRuntimeDir(); err == nil {
		t.Fatal("want an error for a directory owned by another user")
	}
}

func TestEnsureRuntimeDirRejectsSymlink(t *testing.T) {
	base := t.TempDir()
	if err := os.Symlink(base, filepath.Join(base, "rt")); err != nil {
		t.Fatal(err)
	}
	if err := (Layout{RuntimeDir: filepath.Join(base, "rt")}).EnsureRuntimeDir(); err == nil {
		t.Fatal("want an error for a symlinked runtime dir")
	}
}

func TestEnsureState(t *testing.T) {
	l := Layout{StateDir: filepath.Join(t.TempDir(), "state")}
	if err := l.EnsureState(); err != nil {
		t.Fatal(err)
	}
	for _, d := range append(l.ArtifactDirs(), l.TmpDir()) {
		if info, err := os.Stat(d); err != nil || !info.IsDir() {
			t.Errorf("%s missing: %v", d, err)
		}
	}
}
