package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/banger-dev/banger/internal/model"
	"github.com/banger-dev/banger/internal/testutil/busyboximage"
	"github.com/banger-dev/banger/internal/testutil/ext4check"
	"github.com/banger-dev/banger/internal/testutil/registrytest"
	"github.com/banger-dev/banger/internal/vmm/boottest"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// vmSetup pulls the busybox test image into a fresh banger and imports
// Debian's cloud kernel, skipping when QEMU or the kernel package is absent.
func vmSetup(t *testing.T) (te *testEnv, image string) {
	t.Helper()
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 not found: install the Debian package qemu-system-x86")
	}
	deb := boottest.KernelDeb(t)
	reg := registrytest.Start(t, registrytest.Options{})
	ref := reg.Host + "/test/busybox:1"
	img, err := busyboximage.Build(busyboximage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, remote.WithTransport(reg.Transport(t))); err != nil {
		t.Fatalf("pushing: %v", err)
	}
	te = newTestEnv(t, "BANGER_INIT="+bangerInit(t), "DOCKER_CONFIG="+t.TempDir())
	te.ok(t, "image", "pull", ref)
	te.ok(t, "kernel", "import", "cloud", "--deb", deb)
	return te, "busybox-1"
}

// bangerInit is the banger-init the daemon boots with: the Makefile's, else
// one built for the test.
func bangerInit(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("BANGER_BIN_DIR"); dir != "" {
		if p := filepath.Join(dir, "banger-init"); fileExists(p) {
			return p
		}
	}
	out := filepath.Join(t.TempDir(), "banger-init")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "github.com/banger-dev/banger/cmd/banger-init")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building banger-init: %v\n%s", err, b)
	}
	return out
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func listVMs(t *testing.T, te *testEnv) []model.VM {
	t.Helper()
	var vms []model.VM
	if err := json.Unmarshal([]byte(te.ok(t, "vm", "list", "--format", "json")), &vms); err != nil {
		t.Fatal(err)
	}
	return vms
}

// TestVMRun boots the pulled image twice: a foreground run whose output
// and exit code reach the CLI, leaving the image untouched and nothing
// behind (--rm); then a detached VM driven with exec, stop and rm.
func TestVMRun(t *testing.T) {
	te, image := vmSetup(t)
	if stderr := te.fails(t, "vm", "run", image, "--", "true"); !strings.Contains(stderr,
		`image "busybox-1" has no kernel; try: banger image set-kernel busybox-1 KERNEL or --kernel K`) {
		t.Errorf("run without a kernel: %q", stderr)
	}
	var img model.Image
	if err := json.Unmarshal([]byte(te.ok(t, "image", "inspect", image, "--format", "json")), &img); err != nil {
		t.Fatal(err)
	}
	before := ext4check.FileSHA256(t, img.RootfsPath)

	stdout, stderr, code := te.run(t, "vm", "run", "--rm", "--kernel", "cloud", "-e", "FOO=bar", image,
		"--", "sh", "-c", "echo hi; id -u; echo foo=$FOO; echo oops >&2; exit 7")
	if code != 7 {
		t.Fatalf("vm run: exit %d, want 7\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if stdout != "hi\n0\nfoo=bar\n" || !strings.Contains(stderr, "oops") {
		t.Errorf("vm run: stdout %q, stderr %q", stdout, stderr)
	}
	if ext4check.FileSHA256(t, img.RootfsPath) != before {
		t.Error("running a VM changed the image's rootfs")
	}
	for deadline := time.Now().Add(15 * time.Second); len(listVMs(t, te)) != 0; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("--rm left %+v", listVMs(t, te))
		}
	}

	t.Run("DetachExecStopRm", func(t *testing.T) {
		te.ok(t, "image", "set-kernel", image, "cloud")
		if out := te.ok(t, "vm", "run", "-d", "--name", "svc", image, "--", "sleep", "600"); out != "svc\n" {
			t.Errorf("vm run -d printed %q", out)
		}
		vms := listVMs(t, te)
		if len(vms) != 1 || vms[0].Name != "svc" || vms[0].State != model.VMRunning || vms[0].PID == 0 {
			t.Fatalf("vm list = %+v", vms)
		}
		stdout, _, code := te.run(t, "vm", "exec", "svc", "--", "sh", "-c", "hostname; exit 3")
		if code != 3 || stdout != "svc\n" {
			t.Errorf("vm exec: exit %d, stdout %q", code, stdout)
		}
		// Two execs at once over the one agent stream, each with its own output and code.
		var wg sync.WaitGroup
		codes, outs := make([]int, 2), make([]string, 2)
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				outs[i], _, codes[i] = te.run(t, "vm", "exec", "svc", "--", "sh", "-c", fmt.Sprintf("sleep 1; echo exec%d; exit %d", i, 10+i))
			}()
		}
		wg.Wait()
		for i := range 2 {
			if codes[i] != 10+i || outs[i] != fmt.Sprintf("exec%d\n", i) {
				t.Errorf("concurrent exec %d: exit %d, stdout %q", i, codes[i], outs[i])
			}
		}
		if stderr := te.fails(t, "vm", "rm", "svc"); !strings.Contains(stderr, "is running") {
			t.Errorf("rm of a running vm: %q", stderr)
		}
		te.ok(t, "vm", "stop", "svc")
		var vm model.VM
		if err := json.Unmarshal([]byte(te.ok(t, "vm", "inspect", "svc")), &vm); err != nil {
			t.Fatal(err)
		}
		if vm.State != model.VMStopped || vm.PID != 0 {
			t.Errorf("after stop: %+v", vm)
		}
		if fileExists("/proc/" + strconv.Itoa(vms[0].PID)) {
			if b, _ := os.ReadFile("/proc/" + strconv.Itoa(vms[0].PID) + "/cmdline"); strings.Contains(string(b), vm.Dir) {
				t.Errorf("qemu pid %d still running after stop", vms[0].PID)
			}
		}
		te.ok(t, "vm", "logs", "svc")
		te.ok(t, "vm", "rm", "svc")
		if fileExists(vm.Dir) {
			t.Errorf("vm dir %s left after rm", vm.Dir)
		}
		if vms := listVMs(t, te); len(vms) != 0 {
			t.Errorf("vm list after rm = %+v", vms)
		}
	})

	t.Run("DaemonCrash", func(t *testing.T) {
		te.ok(t, "vm", "run", "-d", "--name", "orphan", "--kernel", "cloud", image, "--", "sleep", "600")
		vm := listVMs(t, te)[0]
		pidText, err := os.ReadFile(filepath.Join(te.stateDir(), "daemon.lock"))
		if err != nil {
			t.Fatal(err)
		}
		daemonPID, err := strconv.Atoi(strings.TrimSpace(string(pidText)))
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Kill(daemonPID, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			// starts a new daemon; the first calls may meet the dead one's socket
			out, stderr, code := te.run(t, "vm", "list", "--format", "json")
			var vms []model.VM
			if code == 0 && json.Unmarshal([]byte(out), &vms) == nil && len(vms) == 1 && vms[0].State == model.VMStopped {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after a daemon crash: exit %d, %s %s", code, out, stderr)
			}
		}
		for deadline := time.Now().Add(5 * time.Second); fileExists("/proc/" + strconv.Itoa(vm.PID)); time.Sleep(100 * time.Millisecond) {
			if b, _ := os.ReadFile("/proc/" + strconv.Itoa(vm.PID) + "/cmdline"); !strings.Contains(string(b), vm.Dir) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("qemu %d left running after the daemon restarted", vm.PID)
			}
		}
		te.ok(t, "vm", "rm", "orphan")
	})
}
