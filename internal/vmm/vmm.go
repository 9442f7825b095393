// Package vmm defines how banger starts and stops a microVM, independent of
// the monitor running it. Implementations live in subpackages (qemu; later
// firecracker), each passing the same conformance tests.
package vmm

import (
	"context"
	"errors"
	"net"
	"time"
)

// ErrNotRunning is returned by operations on a machine that has exited.
var ErrNotRunning = errors.New("machine not running")

// DefaultCmdline keeps kernel messages below KERN_CRIT off the serial
// console, so the console log shows the guest's processes (microvm's
// harmless "PCI: Fatal: No config space access function" is KERN_ERR).
const DefaultCmdline = "quiet loglevel=3"

// PortForward exposes a guest TCP port on the host's loopback interface.
type PortForward struct {
	HostPort  int
	GuestPort int
}

// Spec describes one microVM. Paths must be absolute.
type Spec struct {
	Kernel string // uncompressed vmlinux or bzImage
	Initrd string // per-VM initramfs (see internal/initramfs.ForVM)
	// Cmdline is added to the backend's own kernel parameters (console,
	// clock). Empty means DefaultCmdline.
	Cmdline string
	Disk    string // raw ext4 image, attached as the first virtio disk (/dev/vda)
	// CPUs defaults to 1 and MemoryMiB to 256.
	CPUs      int
	MemoryMiB int
	Ports     []PortForward
	// StateDir holds the backend's runtime files (control socket, logs).
	StateDir string
	// AgentSocket is the Unix socket the machine listens on for the guest
	// agent's port; default StateDir/agent.sock. Keep it under 100 bytes.
	AgentSocket string
	// ConsoleLog receives the guest's serial console; default
	// StateDir/console.log.
	ConsoleLog string
}

// Backend starts machines.
type Backend interface {
	// Start boots spec and returns once the monitor process runs. Canceling
	// ctx after Start returns does not stop the machine.
	Start(ctx context.Context, spec Spec) (Machine, error)
}

// Machine is one running microVM.
type Machine interface {
	// PID is the monitor process's id.
	PID() int
	// ConsoleLog is the path of the serial console log.
	ConsoleLog() string
	// Agent waits for the guest agent port to connect and returns the
	// connection. Each call returns the next connection the monitor makes:
	// after the host closes one, the monitor connects again (within a
	// second for QEMU).
	Agent(ctx context.Context) (net.Conn, error)
	// Wait blocks until the monitor exits and reports how it ended. A clean
	// monitor exit says nothing about the guest's process: that travels over
	// the agent.
	Wait(ctx context.Context) error
	// Stop asks the guest to power off (the ACPI power button for QEMU) and
	// kills the machine if it has not exited after grace.
	Stop(ctx context.Context, grace time.Duration) error
	// Kill ends the monitor at once.
	Kill() error
}
