// Package qemu runs banger's microVMs with qemu-system-x86_64's microvm
// machine: kernel and initramfs booted directly, virtio-mmio disk, network
// (user mode) and a virtio-serial port for the guest agent.
package qemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/banger-dev/banger/internal/vmm"
)

// AgentPortName is the virtio-serial port name banger-init looks for.
const AgentPortName = "org.banger.agent"

// Backend starts QEMU microvm machines. Its zero value finds
// qemu-system-x86_64 in $PATH and picks KVM only where it really works.
type Backend struct {
	// Binary overrides the qemu-system-x86_64 path.
	Binary string
	// Accel is AccelAuto (or empty), AccelKVM or AccelTCG.
	Accel string
	// Notef receives one-line notes, such as falling back to TCG; nil drops
	// them.
	Notef func(format string, args ...any)
}

var _ vmm.Backend = Backend{}

func (b Backend) binary() (string, error) {
	if b.Binary != "" {
		return b.Binary, nil
	}
	p, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		return "", errors.New("qemu-system-x86_64 not found; install the qemu-system-x86 package")
	}
	return p, nil
}

// accel resolves AccelAuto into KVM or TCG.
func (b Backend) accel() (string, error) {
	switch b.Accel {
	case AccelKVM, AccelTCG:
		return b.Accel, nil
	case "", AccelAuto:
		ok, why := probeKVM()
		if ok {
			return AccelKVM, nil
		}
		if b.Notef != nil {
			b.Notef("%s; using TCG emulation (slower)", why)
		}
		return AccelTCG, nil
	}
	return "", fmt.Errorf("unknown accelerator %q (want auto, kvm or tcg)", b.Accel)
}

// withDefaults fills the optional fields of spec.
func withDefaults(spec vmm.Spec) (vmm.Spec, error) {
	if spec.Kernel == "" || spec.Disk == "" || spec.StateDir == "" {
		return spec, errors.New("machine spec needs a kernel, a disk and a state directory")
	}
	if spec.CPUs <= 0 {
		spec.CPUs = 1
	}
	if spec.MemoryMiB <= 0 {
		spec.MemoryMiB = 256
	}
	if spec.Cmdline == "" {
		spec.Cmdline = vmm.DefaultCmdline
	}
	if spec.AgentSocket == "" {
		spec.AgentSocket = filepath.Join(spec.StateDir, "agent.sock")
	}
	if spec.ConsoleLog == "" {
		spec.ConsoleLog = filepath.Join(spec.StateDir, "console.log")
	}
	return spec, nil
}

// Cmdline returns the kernel command line for spec under accel: the serial
// console, no reboot loops on panic, under TCG the host TSC frequency and a
// TSC trusted as clocksource, then spec.Cmdline.
func Cmdline(spec vmm.Spec, accel string) string {
	parts := []string{"console=ttyS0", "panic=-1"}
	if accel == AccelTCG {
		if khz := hostTSCkHz(); khz > 0 {
			parts = append(parts, "tsc_early_khz="+strconv.Itoa(khz))
		}
		// An emulated TSC follows the host clock, but vCPU scheduling
		// jitter makes the watchdog declare it unstable and fall back to
		// jiffies.
		parts = append(parts, "tsc=reliable")
	}
	if spec.Cmdline != "" {
		parts = append(parts, spec.Cmdline)
	}
	return strings.Join(parts, " ")
}

// Argv returns QEMU's arguments (without the binary) for a spec whose
// defaults are filled in.
func Argv(spec vmm.Spec, accel string) []string {
	cpu := "max"
	if accel == AccelKVM {
		cpu = "host"
	}
	netdev := "user,id=n0"
	for _, p := range spec.Ports {
		netdev += fmt.Sprintf(",hostfwd=tcp:127.0.0.1:%d-:%d", p.HostPort, p.GuestPort)
	}
	argv := []string{
		"-M", "microvm,acpi=on", "-accel", accel, "-cpu", cpu,
		"-m", strconv.Itoa(spec.MemoryMiB), "-smp", strconv.Itoa(spec.CPUs),
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-kernel", spec.Kernel, "-append", Cmdline(spec, accel),
		"-chardev", "file,id=con0,path=" + spec.ConsoleLog, "-serial", "chardev:con0",
		"-drive", "file=" + spec.Disk + ",if=none,id=vda,format=raw,discard=unmap",
		"-device", "virtio-blk-device,drive=vda",
		"-netdev", netdev, "-device", "virtio-net-device,netdev=n0",
		"-device", "virtio-serial-device",
		"-chardev", "socket,id=agent,reconnect=1,path=" + spec.AgentSocket,
		"-device", "virtserialport,chardev=agent,name=" + AgentPortName,
		"-qmp", "unix:" + qmpPath(spec) + ",server=on,wait=off",
	}
	if spec.Initrd != "" {
		argv = append(argv, "-initrd", spec.Initrd)
	}
	return argv
}

func qmpPath(spec vmm.Spec) string { return filepath.Join(spec.StateDir, "qmp.sock") }

func logPath(spec vmm.Spec) string { return filepath.Join(spec.StateDir, "qemu.log") }

// Start boots spec. It listens on the agent socket first, so QEMU connects
// to a host that is already there, then starts QEMU in its own process group.
func (b Backend) Start(ctx context.Context, spec vmm.Spec) (vmm.Machine, error) {
	bin, err := b.binary()
	if err != nil {
		return nil, err
	}
	if spec, err = withDefaults(spec); err != nil {
		return nil, err
	}
	accel, err := b.accel()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(spec.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating machine state dir: %w", err)
	}
	ln, err := listenAgent(spec.AgentSocket)
	if err != nil {
		return nil, err
	}
	m, err := startProcess(ctx, bin, Argv(spec, accel), spec, ln)
	if err != nil {
		ln.Close()
		return nil, err
	}
	return m, nil
}
