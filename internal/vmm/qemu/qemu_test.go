package qemu

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/banger-dev/banger/internal/vmm"
	"github.com/banger-dev/banger/internal/vmm/vmmtest"
)

func TestConformance(t *testing.T) {
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 not found: install the Debian package qemu-system-x86")
	}
	vmmtest.Run(t, Backend{Notef: t.Logf})
}

// TestBootTiming measures boots when $BANGER_BOOT_TIMING gives a count.
func TestBootTiming(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("BANGER_BOOT_TIMING"))
	if n <= 0 {
		t.Skip("set BANGER_BOOT_TIMING=N to time N boots")
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 not found: install the Debian package qemu-system-x86")
	}
	vmmtest.Timing(t, Backend{}, n)
}

func TestArgv(t *testing.T) {
	spec, err := withDefaults(vmm.Spec{Kernel: "/k", Initrd: "/i", Disk: "/d.ext4", StateDir: "/s",
		Ports: []vmm.PortForward{{HostPort: 2222, GuestPort: 22}}})
	if err != nil {
		t.Fatal(err)
	}
	argv := Argv(spec, AccelTCG)
	t.Logf("qemu-system-x86_64 %s", strings.Join(argv, " "))
	for _, want := range []string{
		"microvm,acpi=on", "tcg", "max", "256", "1",
		"virtio-blk-device,drive=vda", "file=/d.ext4,if=none,id=vda,format=raw,discard=unmap",
		"user,id=n0,hostfwd=tcp:127.0.0.1:2222-:22", "socket,id=agent,reconnect=1,path=/s/agent.sock",
		"virtserialport,chardev=agent,name=org.banger.agent", "file,id=con0,path=/s/console.log",
		"unix:/s/qmp.sock,server=on,wait=off", "/i",
	} {
		if !slices.Contains(argv, want) {
			t.Errorf("argv lacks %q", want)
		}
	}
	cmdline := argv[slices.Index(argv, "-append")+1]
	if !strings.HasPrefix(cmdline, "console=ttyS0 panic=-1") || !strings.HasSuffix(cmdline, vmm.DefaultCmdline) {
		t.Errorf("cmdline %q", cmdline)
	}
	if hostTSCkHz() > 0 && !strings.Contains(cmdline, "tsc_early_khz=") {
		t.Errorf("TCG cmdline lacks tsc_early_khz: %q", cmdline)
	}
	if kvm := strings.Join(Argv(spec, AccelKVM), " "); strings.Contains(kvm, "tsc_early_khz") || !strings.Contains(kvm, "-cpu host") {
		t.Errorf("KVM argv: %s", kvm)
	}
}

func TestMissingBinary(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := Backend{}.binary()
	if err == nil || err.Error() != "qemu-system-x86_64 not found; install the qemu-system-x86 package" {
		t.Errorf("err = %v", err)
	}
}

func TestProbeKVM(t *testing.T) {
	ok, why := probeKVM()
	t.Logf("kvm usable: %v (%s)", ok, why)
	if !ok && why == "" {
		t.Error("no reason given for unusable KVM")
	}
}

// TestStartFailure: QEMU refusing the spec surfaces its own message from
// Wait, and Agent reports the machine gone instead of waiting forever.
func TestStartFailure(t *testing.T) {
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 not found: install the Debian package qemu-system-x86")
	}
	dir := t.TempDir()
	disk := dir + "/disk.img"
	if err := os.WriteFile(disk, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Backend{Accel: AccelTCG}.Start(context.Background(), vmm.Spec{
		Kernel: dir + "/no-kernel", Disk: disk, StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = m.Wait(ctx)
	if err == nil || !strings.Contains(err.Error(), "no-kernel") {
		t.Errorf("Wait = %v, want QEMU's complaint about the kernel", err)
	}
	if _, err := m.Agent(ctx); !errors.Is(err, vmm.ErrNotRunning) {
		t.Errorf("Agent after exit = %v, want ErrNotRunning", err)
	}
	if err := m.Kill(); err != nil {
		t.Errorf("Kill after exit = %v", err)
	}
}
