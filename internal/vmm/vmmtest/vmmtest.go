// Package vmmtest is the conformance suite every vmm.Backend passes: it boots
// Debian's cloud kernel with banger-init and a busybox root filesystem and
// checks what a banger user relies on (process output and exit code through
// the agent, ENV/WORKDIR/USER, network and port forwards, exec, graceful
// stop, a clean disk and an untouched image).
package vmmtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/banger-dev/banger/internal/agent"
	"github.com/banger-dev/banger/internal/guestinit/vmconfig"
	"github.com/banger-dev/banger/internal/initramfs"
	"github.com/banger-dev/banger/internal/vmm"
	"github.com/banger-dev/banger/internal/vmm/boottest"
)

// parts are the inputs every boot shares, built once per Run.
type parts struct {
	backend vmm.Backend
	kernel  boottest.Kernel
	base    string // per-kernel initramfs
	image   string // the pristine rootfs image
}

// Run boots machines with b, one at a time. The caller skips beforehand when
// the backend's binary is missing.
func Run(t *testing.T, b vmm.Backend) {
	p := setup(t, b)
	for _, c := range []struct {
		name string
		fn   func(*testing.T, parts)
	}{
		{"MainProcess", testMainProcess},
		{"ExecForwardShutdown", testExecForwardShutdown},
		{"StopPowerButton", testStopPowerButton},
		{"Signals", testSignals},
		{"MissingCommand", testMissingCommand},
		{"FatalError", testFatalError},
		{"TTY", testTTY},
		{"ImageInit", testImageInit},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, p) })
	}
}

func setup(t *testing.T, b vmm.Backend) parts {
	t.Helper()
	k := boottest.UnpackKernel(t)
	base, err := initramfs.Cached(context.Background(), t.TempDir(), initramfs.Options{
		InitPath: boottest.BuildInit(t), ModulesDir: k.ModulesDir, KernelID: k.Version})
	if err != nil {
		t.Fatal(err)
	}
	return parts{backend: b, kernel: k, base: base, image: boottest.BusyboxRootfs(t).Path}
}

// vm is one booted test machine.
type vm struct {
	m       vmm.Machine
	client  *agent.Client
	disk    string
	started time.Time
}

func boot(t *testing.T, p parts, cfg vmconfig.Config, ports ...vmm.PortForward) *vm {
	t.Helper()
	dir := t.TempDir()
	disk := filepath.Join(dir, "disk.ext4")
	if err := vmm.CopyDisk(context.Background(), p.image, disk, 64<<20); err != nil {
		t.Fatal(err)
	}
	initrd := filepath.Join(dir, "initrd")
	if err := initramfs.ForVM(context.Background(), p.base, cfg, initrd); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	m, err := p.backend.Start(context.Background(), vmm.Spec{Kernel: p.kernel.Image, Initrd: initrd,
		Disk: disk, StateDir: dir, Ports: ports, Cmdline: vmm.DefaultCmdline + " banger.debug"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.Kill()
		if t.Failed() || testing.Verbose() {
			log, _ := os.ReadFile(m.ConsoleLog())
			t.Logf("console log:\n%s", log)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := m.Agent(ctx)
	if err != nil {
		t.Fatalf("waiting for agent connection: %v", err)
	}
	return &vm{m: m, client: agent.NewClient(conn), disk: disk, started: start}
}

// buffer is a bytes.Buffer safe for the agent's writer goroutines that
// remembers when its first byte arrived.
type buffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	first time.Time
}

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.first.IsZero() {
		b.first = time.Now()
	}
	return b.buf.Write(p)
}

func (b *buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *buffer) firstAt() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.first
}

// checkCleanDisk fails unless the disk is consistent and was unmounted
// cleanly: e2fsck -fn exiting 0 is not enough, needs_recovery must be clear.
func checkCleanDisk(t *testing.T, disk string) {
	t.Helper()
	if out, err := exec.Command("e2fsck", "-fn", disk).CombinedOutput(); err != nil {
		t.Errorf("e2fsck -fn: %v\n%s", err, out)
	}
	out, err := exec.Command("dumpe2fs", "-h", disk).CombinedOutput()
	if err != nil {
		t.Fatalf("dumpe2fs: %v\n%s", err, out)
	}
	if bytes.Contains(out, []byte("needs_recovery")) {
		t.Errorf("filesystem left with needs_recovery:\n%s", out)
	}
	if !bytes.Contains(out, []byte("Filesystem state:         clean")) {
		t.Errorf("filesystem state not clean:\n%s", out)
	}
}

func fileSum(t *testing.T, p string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}
