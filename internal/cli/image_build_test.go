package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/model"
	"github.com/banger-dev/banger/internal/testutil/ext4check"
)

// TestImageBuild builds an image from the pulled busybox image (a file
// written, chowned and made setuid, plus a copied host file), checks the
// result on a read-only mount and by booting it, and checks that a failing
// step leaves nothing behind. Three boots in all.
func TestImageBuild(t *testing.T) {
	te, base := vmSetup(t)
	te.ok(t, "image", "set-kernel", base, "cloud")
	baseImg := inspectImage(t, te, base)
	before := ext4check.FileSHA256(t, baseImg.RootfsPath)

	host := filepath.Join(t.TempDir(), "tool.sh")
	if err := os.WriteFile(host, []byte("#!/bin/sh\necho tool\n"), 0o750); err != nil {
		t.Fatal(err)
	}
	// The second step also writes 20 MiB (synced, so it reaches the disk)
	// and deletes it again: the plain build keeps those blocks, the
	// --compact one below must not.
	buildArgs := []string{"image", "build", "--from-image", base,
		"--copy", host + ":/opt/tools/tool.sh",
		"--run", "echo hi > /srv/built.txt; chown 1000:1000 /srv/built.txt; chmod 4755 /srv/built.txt; " +
			"echo kept > /srv/.wh.kept; chmod 711 /; " +
			"head -c 20971520 /dev/urandom > /srv/big; sync; rm /srv/big",
		"-e", "GREETING=hello", "--run", `echo "greeting=$GREETING"; cat /opt/tools/tool.sh >&2`}
	stdout, stderr, code := te.run(t, append(buildArgs, "--name", "built", "--format", "json")...)
	if code != 0 {
		t.Fatalf("image build: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "==> step 2/3: run echo hi") || !strings.Contains(stderr, "greeting=hello") ||
		!strings.Contains(stderr, "echo tool") {
		t.Errorf("build output: %q", stderr)
	}
	var res api.BuildResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	img := res.Image
	if img.Parent != base || img.Ref != "build:"+base || !img.Managed || img.Kernel != "cloud" ||
		len(res.Record.Steps) != 3 || !strings.HasPrefix(res.Record.Steps[0].Digest, "sha256:") {
		t.Errorf("result: %+v", res)
	}
	if ext4check.FileSHA256(t, baseImg.RootfsPath) != before {
		t.Error("the build changed the base image's rootfs")
	}
	checkBuiltImage(t, img, host)

	// A failing build and a good one (the same steps, --compact) from the
	// same base, at the same time: the base is locked only while its rootfs
	// is copied.
	t.Run("FailingStepBesideACompactBuild", func(t *testing.T) {
		other := make(chan string, 1)
		go func() {
			_, stderr, code := te.run(t, append(buildArgs, "--name", "second", "--compact")...)
			other <- fmt.Sprintf("exit %d: %s", code, stderr)
		}()
		stderr := te.fails(t, "image", "build", "--from-image", base, "--name", "broken",
			"--run", "echo before-failing", "--run", "echo last words >&2; exit 3")
		if res := <-other; !strings.HasPrefix(res, "exit 0") {
			t.Fatalf("concurrent build from the same base: %s", res)
		}
		checkCompactImage(t, inspectImage(t, te, "second"), img, baseImg, host)
		te.ok(t, "image", "rm", "second")
		if !strings.Contains(stderr, "step 2/2 (run echo last words >&2; exit 3) failed with exit status 3") ||
			!strings.Contains(stderr, "last words") {
			t.Errorf("failing step: %q", stderr)
		}
		if _, _, code := te.run(t, "image", "inspect", "broken"); code == 0 {
			t.Error("a failed build left an image row")
		}
		entries, _ := os.ReadDir(filepath.Join(te.stateDir(), "images"))
		if len(entries) != 2 {
			t.Errorf("images dir after a failed build: %v", entries)
		}
		tmp, _ := os.ReadDir(filepath.Join(te.stateDir(), "tmp"))
		if len(tmp) != 0 {
			t.Errorf("tmp dir after a failed build: %v", tmp)
		}
		if ext4check.FileSHA256(t, baseImg.RootfsPath) != before {
			t.Error("the failed build changed the base image's rootfs")
		}
	})

	t.Run("Errors", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"--from-image", "nope", "--name", "x", "--run", "true"}, `base image "nope" not found`},
			{[]string{"--from-image", base, "--name", "built", "--run", "true"}, `image "built" already exists`},
			{[]string{"--from-image", base, "--name", "x"}, "nothing to build"},
			{[]string{"--from-image", base, "--name", "x", "--profile", "fancy"}, `unknown profile "fancy"`},
			{[]string{"--from-image", base, "--name", "x", "--copy", "relative"}, "invalid copy"},
		} {
			if stderr := te.fails(t, append([]string{"image", "build"}, tc.args...)...); !strings.Contains(stderr, tc.want) {
				t.Errorf("%v: %q, want %q", tc.args, stderr, tc.want)
			}
		}
	})

	t.Run("RunBuilt", func(t *testing.T) {
		stdout, stderr, code := te.run(t, "vm", "run", "--rm", "built", "--", "cat", "/srv/built.txt")
		if code != 0 || stdout != "hi\n" {
			t.Errorf("vm run built: exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
	})
}

// checkCompactImage checks a --compact build of the same steps as plain:
// the same tree, build.json saying compact, and none of the 20 MiB the
// steps wrote and deleted.
func checkCompactImage(t *testing.T, compact, plain, base model.Image, host string) {
	t.Helper()
	checkBuiltImage(t, compact, host)
	tree := ext4check.Tree(t, ext4check.MountRO(t, compact.RootfsPath))
	if n := tree["bin/suid-busybox"]; n.Mode != 0o4755 || n.UID != 0 {
		t.Errorf("bin/suid-busybox = %v, want setuid root", n)
	}
	if n, ok := tree["srv/big"]; ok {
		t.Errorf("srv/big survived: %v", n)
	}
	var rec api.BuildRecord
	if b, err := os.ReadFile(filepath.Join(filepath.Dir(compact.RootfsPath), "build.json")); err != nil || json.Unmarshal(b, &rec) != nil || !rec.Compact {
		t.Errorf("build.json of the compact build: %v %+v", err, rec)
	}
	got, plainSize, baseSize := allocated(t, compact.RootfsPath), allocated(t, plain.RootfsPath), allocated(t, base.RootfsPath)
	t.Logf("allocated: compact %d, plain %d, base %d bytes", got, plainSize, baseSize)
	if got > plainSize-16<<20 || got >= baseSize+16<<20 {
		t.Errorf("compact image allocates %d bytes; plain build %d, base %d: the deleted 20 MiB was kept", got, plainSize, baseSize)
	}
}

// allocated is the space p takes on disk.
func allocated(t *testing.T, p string) int64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}

func inspectImage(t *testing.T, te *testEnv, name string) model.Image {
	t.Helper()
	var img model.Image
	if err := json.Unmarshal([]byte(te.ok(t, "image", "inspect", name, "--format", "json")), &img); err != nil {
		t.Fatal(err)
	}
	return img
}

// checkBuiltImage checks the new image's filesystem is clean and holds what
// the steps made, and that build.json records them.
func checkBuiltImage(t *testing.T, img model.Image, host string) {
	t.Helper()
	if out, err := exec.Command("dumpe2fs", "-h", img.RootfsPath).CombinedOutput(); err == nil {
		if !strings.Contains(string(out), "Filesystem state:         clean") || strings.Contains(string(out), "needs_recovery") {
			t.Errorf("built filesystem not clean:\n%s", out)
		}
	}
	ext4check.Gate(t, img.RootfsPath)
	mnt := ext4check.MountRO(t, img.RootfsPath)
	tree := ext4check.Tree(t, mnt)
	if n := tree["srv/built.txt"]; n.Type != "file" || n.UID != 1000 || n.GID != 1000 || n.Mode != 0o4755 || n.Size != 3 {
		t.Errorf("srv/built.txt: %v", n)
	}
	// A guest file named like a whiteout is a file, and the root keeps
	// the mode the step gave it (both once lost by --compact).
	if n := tree["srv/.wh.kept"]; n.Type != "file" || n.SHA256 != ext4check.SHA256("kept\n") {
		t.Errorf("srv/.wh.kept: %v", n)
	}
	if fi, err := os.Stat(mnt); err != nil || fi.Mode().Perm() != 0o711 {
		t.Errorf("root directory: %v %v, want mode 711", fi.Mode(), err)
	}
	if n := tree["opt/tools/tool.sh"]; n.Type != "file" || n.UID != 0 || n.GID != 0 || n.Mode != 0o750 || n.SHA256 != ext4check.FileSHA256(t, host) {
		t.Errorf("opt/tools/tool.sh: %v", n)
	}
	var rec api.BuildRecord
	b, err := os.ReadFile(filepath.Join(filepath.Dir(img.RootfsPath), "build.json"))
	if err == nil {
		err = json.Unmarshal(b, &rec)
	}
	if err != nil || rec.Base != img.Parent || len(rec.Steps) != 3 || rec.Steps[0].Source != host {
		t.Errorf("build.json: %v %+v", err, rec)
	}
}
