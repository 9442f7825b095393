package e2e

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/banger-dev/banger/internal/testutil/busyboximage"
	"github.com/banger-dev/banger/internal/testutil/registrytest"
	"golang.org/x/sys/unix"
)

// mountTmpfs mounts a tmpfs of size at dir until the test ends; env's
// daemon is stopped first so the mount is not busy. It skips unless root.
func mountTmpfs(t *testing.T, env *bangerEnv, dir, size string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: mounting a tmpfs needs root")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("skipping: cannot mount a tmpfs here: %v %s", err, out)
	}
	t.Cleanup(func() {
		env.stop(t)
		unmount(t, dir)
	})
}

// unmount unmounts dir, retrying while the stopped daemon's last file
// descriptors close (it drops its state lock just before exiting).
func unmount(t *testing.T, dir string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		out, err := exec.Command("umount", dir).CombinedOutput()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("unmounting %s: %v %s", dir, err, out)
			return
		}
	}
}

// usedBytes is how much of the filesystem at dir is in use.
func usedBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Blocks-st.Bfree) * st.Bsize
}

// repetitiveLayer holds files of size bytes each, made of one random 4 KiB
// block repeated: tiny once compressed, full size once unpacked (no zero
// block for a writer to leave sparse).
func repetitiveLayer(seed uint64, files, size int) []file {
	block := randBytes(rand.New(rand.NewPCG(seed, 3)), 4096)
	data := bytes.Repeat(block, size/len(block))
	layer := []file{busyboximage.Dir("data", 0o755, epoch)}
	for i := range files {
		layer = append(layer, busyboximage.Reg(fmt.Sprintf("data/blob%d", i), 0o644, data, epoch))
	}
	return layer
}

// TestDiskFull fills the disk under a pull: with the state directory on a
// 48 MiB tmpfs, an image unpacking to 72 MiB must fail with a "no space"
// error and roll back completely, and the same daemon must then pull a
// small image. The same holds when the blob cache is the full one.
func TestDiskFull(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.Options{})
	small := pushImage(t, reg.Host+"/full/small:1", smallLayers(21, 2, 64<<10))

	t.Run("state", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t, envOptions{})
		mountTmpfs(t, env, filepath.Join(env.root, "state"), "48m")
		big := pushImage(t, reg.Host+"/full/unpacks-big:1", [][]file{repetitiveLayer(22, 3, 24<<20)})
		testDiskFull(t, env, big, small, filepath.Join(env.root, "state"))
	})

	t.Run("cache", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t, envOptions{})
		mountTmpfs(t, env, filepath.Join(env.root, "cache"), "8m")
		rng := rand.New(rand.NewPCG(23, 4))
		big := pushImage(t, reg.Host+"/full/downloads-big:1", [][]file{{busyboximage.Reg("noise", 0o644, randBytes(rng, 12<<20), epoch)}})
		testDiskFull(t, env, big, small, filepath.Join(env.root, "cache"))
	})
}

func testDiskFull(t *testing.T, env *bangerEnv, big, small pushed, fullDir string) {
	env.ok(t, "image", "list") // starts the daemon
	st, err := env.status()
	if err != nil {
		t.Fatal(err)
	}
	res := env.run(t, "image", "pull", big.ref)
	if res.code == 0 {
		t.Fatalf("a pull bigger than the disk succeeded: %s", res)
	}
	if !strings.Contains(strings.ToLower(res.stderr), "no space left") {
		t.Errorf("the error does not say the disk is full: %s", res.stderr)
	}
	t.Logf("the CLI said: %s", lastLine(res.stderr))
	waitIdle(t, env)
	if images, _ := env.checkState(t, stateCheck{}); len(images) != 0 {
		t.Errorf("a failed pull left images: %+v", images)
	}
	if used := usedBytes(t, fullDir); used > 8<<20 {
		t.Errorf("%d bytes are still used on the full filesystem after the rollback", used)
	}
	env.ok(t, "image", "pull", small.ref)
	images, _ := env.checkState(t, stateCheck{})
	if len(images) != 1 || images[0].Digest != small.digest {
		t.Errorf("images after the small pull = %+v", images)
	}
	if after, err := env.status(); err != nil || after.PID != st.PID {
		t.Errorf("the daemon changed from pid %d to %d (%v): it did not survive the full disk", st.PID, after.PID, err)
	}
}
