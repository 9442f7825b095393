// Command guestinit is a minimal PID 1 for the agent's QEMU test: it loads
// the virtio modules the initramfs carries, finds the agent's virtio-serial
// port and serves the agent protocol on it, with a main process.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/banger-dev/banger/internal/agent"
	"golang.org/x/sys/unix"
)

func main() {
	if err := run(); err != nil {
		fmt.Println("GUESTINIT: error:", err)
	}
	powerOff()
}

func powerOff() {
	syscall.Sync()
	syscall.Reboot(syscall.LINUX_REBOOT_CMD_POWER_OFF)
	select {}
}

func run() error {
	signal.Notify(make(chan os.Signal, 16)) // PID 1: no signal may end the runtime
	if err := mountAll(); err != nil {
		return err
	}
	for _, m := range []string{"virtio_ring", "virtio", "virtio_mmio", "virtio_console"} {
		if err := insmod("/modules/" + m + ".ko"); err != nil {
			return err
		}
	}
	port, err := findPort("org.banger.agent")
	if err != nil {
		return err
	}
	sp := &agent.ForkSpawner{}
	go reap(sp)
	var uts unix.Utsname
	unix.Uname(&uts)
	srv := agent.NewServer(agent.ServerConfig{
		Spawner:    sp,
		Env:        []string{"PATH=/bin", "HOME=/"},
		Hello:      agent.Hello{Kernel: unix.ByteSliceToString(uts.Release[:]), Init: "guestinit"},
		OnShutdown: powerOff,
	})
	if _, err := srv.StartMain(agent.ExecRequest{Argv: []string{"sh", "-c", "echo main-out; echo main-err >&2; exit 3"}}); err != nil {
		return err
	}
	fmt.Println("GUESTINIT: serving on", port)
	return srv.ServeLoop(context.Background(), func(context.Context) (io.ReadWriteCloser, error) {
		return os.OpenFile(port, os.O_RDWR, 0)
	})
}

func mountAll() error {
	for _, m := range []struct{ src, dir, typ string }{
		{"devtmpfs", "/dev", "devtmpfs"}, {"proc", "/proc", "proc"}, {"sysfs", "/sys", "sysfs"},
		{"devpts", "/dev/pts", "devpts"},
	} {
		os.MkdirAll(m.dir, 0o755)
		if err := syscall.Mount(m.src, m.dir, m.typ, 0, ""); err != nil {
			return fmt.Errorf("mounting %s: %w", m.dir, err)
		}
	}
	return nil
}

func insmod(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.FinitModule(int(f.Fd()), "", 0); err != nil && err != unix.EEXIST {
		return fmt.Errorf("loading %s: %w", path, err)
	}
	return nil
}

// findPort polls sysfs for the port's name (it is empty for a moment).
func findPort(name string) (string, error) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		files, _ := filepath.Glob("/sys/class/virtio-ports/*/name")
		for _, f := range files {
			if b, _ := os.ReadFile(f); strings.TrimSpace(string(b)) == name {
				return "/dev/" + filepath.Base(filepath.Dir(f)), nil
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return "", fmt.Errorf("no virtio port named %s", name)
}

// reap is the single wait4 loop of PID 1.
func reap(sp *agent.ForkSpawner) {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		if err != nil {
			time.Sleep(10 * time.Millisecond) // ECHILD: nothing to wait for yet
			continue
		}
		sp.Reaped(pid, ws)
	}
}
