package daemon

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/banger-dev/banger/internal/api"
)

// TestCheckCleanExt4 agrees with dumpe2fs: a fresh filesystem is clean;
// one with needs_recovery set, or not marked valid, is refused.
func TestCheckCleanExt4(t *testing.T) {
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		t.Skip("mkfs.ext4 not found: install the Debian package e2fsprogs")
	}
	img := filepath.Join(t.TempDir(), "fs.ext4")
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", img, "16M").CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	if err := checkCleanExt4(img); err != nil {
		t.Fatalf("fresh filesystem: %v", err)
	}
	patch := func(off int64, b byte) {
		f, err := os.OpenFile(img, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var cur [1]byte
		f.ReadAt(cur[:], off)
		if _, err := f.WriteAt([]byte{cur[0] ^ b}, off); err != nil {
			t.Fatal(err)
		}
	}
	patch(ext4IncompatOffset, ext4IncompatRecover)
	if out, _ := exec.Command("dumpe2fs", "-h", img).CombinedOutput(); !strings.Contains(string(out), "needs_recovery") {
		t.Fatalf("patch did not set needs_recovery:\n%s", out)
	}
	if err := checkCleanExt4(img); err == nil || !strings.Contains(err.Error(), "not leave the filesystem clean") {
		t.Errorf("needs_recovery: %v", err)
	}
	patch(ext4IncompatOffset, ext4IncompatRecover)
	patch(ext4StateOffset, 1)
	if out, _ := exec.Command("dumpe2fs", "-h", img).CombinedOutput(); !strings.Contains(string(out), "not clean") {
		t.Fatalf("patch did not clear the clean state:\n%s", out)
	}
	if err := checkCleanExt4(img); err == nil {
		t.Error("a filesystem not marked clean was accepted")
	}
}

func TestCheckBuildRequest(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, []byte("x"), 0o644)
	run := []api.BuildStep{{Kind: api.StepRun, Script: "true"}}
	for _, tc := range []struct {
		req  api.BuildImageRequest
		want string
	}{
		{api.BuildImageRequest{Name: "n", Steps: run}, "no base image"},
		{api.BuildImageRequest{Base: "b", Name: "b", Steps: run}, "other than its base"},
		{api.BuildImageRequest{Base: "b", Name: "bad/name", Steps: run}, "invalid image name"},
		{api.BuildImageRequest{Base: "b", Name: "n"}, "nothing to build"},
		{api.BuildImageRequest{Base: "b", Name: "n", Steps: run, Settings: []string{"ssh=1"}}, "--set needs --profile"},
		{api.BuildImageRequest{Base: "b", Name: "n", Steps: run, Env: []string{"NOEQUALS"}}, "want KEY=VALUE"},
		{api.BuildImageRequest{Base: "b", Name: "n", Steps: []api.BuildStep{{Kind: api.StepRun, Script: " "}}}, "step 1: empty command"},
		{api.BuildImageRequest{Base: "b", Name: "n", Steps: []api.BuildStep{{Kind: api.StepCopy, Source: file, Dest: "rel"}}}, "must be absolute"},
		{api.BuildImageRequest{Base: "b", Name: "n", Steps: []api.BuildStep{{Kind: api.StepCopy, Source: filepath.Dir(file), Dest: "/x"}}}, "only regular files"},
		{api.BuildImageRequest{Base: "b", Name: "n", Steps: []api.BuildStep{{Kind: api.StepCopy, Source: file + "-missing", Dest: "/x"}}}, "no such file"},
	} {
		if err := checkBuildRequest(tc.req); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.req, err, tc.want)
		}
	}
	ok := api.BuildImageRequest{Base: "b", Name: "n", Profile: "dev", Settings: []string{"ssh=1"},
		Steps: []api.BuildStep{{Kind: api.StepCopy, Source: file, Dest: "/etc/"}}}
	if err := checkBuildRequest(ok); err != nil {
		t.Error(err)
	}
}

func TestTailAndLastLines(t *testing.T) {
	tb := &tailBuffer{max: 8}
	tb.Write([]byte("abcdef"))
	tb.Write([]byte("ghij"))
	if tb.String() != "cdefghij" {
		t.Errorf("tail = %q", tb.String())
	}
	if got := lastLines("1\n2\n3\n4\n", 2); got != "3\n4" {
		t.Errorf("lastLines = %q", got)
	}
}
