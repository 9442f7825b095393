package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/banger-dev/banger/internal/errdefs"
	"github.com/banger-dev/banger/internal/model"
)

// recoverMachines runs at start-up, before any request is served: no
// machine belongs to this daemon yet, so every QEMU still running from
// this state directory (VMs and image builds of a previous daemon) is
// killed, VMs recorded as running are marked stopped (or removed with
// --rm), and VM directories no row records (a crash between creating one
// and recording it) are removed.
func (d *Daemon) recoverMachines(ctx context.Context) error {
	d.killOrphanMachines()
	vms, err := d.store.ListVMs(ctx)
	if err != nil {
		return err
	}
	known := make(map[string]bool, len(vms))
	for _, vm := range vms {
		known[filepath.Base(vm.Dir)] = true
		if vm.State != model.VMRunning {
			continue
		}
		if vm.AutoRemove {
			d.removeVMRecord(ctx, vm)
			continue
		}
		if err := d.store.SetVMState(ctx, vm.ID, model.VMStopped, 0, vm.ExitCode); err != nil {
			return fmt.Errorf("recording that vm %s stopped: %w", vm.Name, err)
		}
	}
	entries, err := os.ReadDir(d.layout.VMsDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", d.layout.VMsDir(), err)
	}
	for _, e := range entries {
		if !known[e.Name()] {
			d.log.Warn("removing unrecorded vm directory", "path", filepath.Join(d.layout.VMsDir(), e.Name()))
			d.discard(filepath.Join(d.layout.VMsDir(), e.Name()))
		}
	}
	return nil
}

// removeVMRecord deletes a VM's row and directory.
func (d *Daemon) removeVMRecord(ctx context.Context, vm model.VM) {
	if err := d.store.DeleteVM(ctx, vm.Name); err != nil && errdefs.CategoryOf(err) != errdefs.ErrNotFound {
		d.log.Error("removing vm record", "vm", vm.Name, "err", err)
	}
	d.discard(vm.Dir)
	d.log.Info("vm removed", "vm", vm.Name, "id", vm.ID)
}

// killOrphanMachines kills every QEMU whose command line points into this
// daemon's state directory: at start-up none of them has a supervisor.
func (d *Daemon) killOrphanMachines() {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	marker := []byte(d.layout.StateDir + "/")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err != nil || len(cmdline) == 0 {
			continue
		}
		argv0 := filepath.Base(string(bytes.SplitN(cmdline, []byte{0}, 2)[0]))
		if !bytes.HasPrefix([]byte(argv0), []byte("qemu-system")) || !bytes.Contains(cmdline, marker) {
			continue
		}
		d.log.Warn("killing a machine left by a previous daemon", "pid", pid)
		syscall.Kill(pid, syscall.SIGKILL)
		waitGone(pid)
	}
}

// waitGone waits (up to 5 s) until pid has exited, so its files are
// released before start-up removes them.
func waitGone(pid int) {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
