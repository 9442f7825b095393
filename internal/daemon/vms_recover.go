package daemon

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/banger-dev/banger/internal/model"
)

// reconcile runs once the daemon is ready: VMs recorded as running belong
// to a previous daemon. Their monitor, if still alive, is killed (this
// daemon cannot reach its agent), and they are marked stopped.
func (v *vmSet) reconcile(ctx context.Context) {
	vms, err := v.d.store.ListVMs(ctx)
	if err != nil {
		v.d.log.Error("listing vms", "err", err)
		return
	}
	for _, vm := range vms {
		if vm.State != model.VMRunning || v.get(vm.Name) != nil {
			continue
		}
		if vm.PID > 0 && monitorAlive(vm) {
			v.d.log.Warn("killing the monitor of a vm left by a previous daemon", "vm", vm.Name, "pid", vm.PID)
			syscall.Kill(-vm.PID, syscall.SIGKILL)
			syscall.Kill(vm.PID, syscall.SIGKILL)
		}
		if vm.AutoRemove {
			v.remove(ctx, vm)
			continue
		}
		if err := v.d.store.SetVMState(ctx, vm.Name, model.VMStopped, 0, vm.ExitCode); err != nil {
			v.d.log.Error("recording vm stop", "vm", vm.Name, "err", err)
		}
	}
}

// monitorAlive reports whether vm.PID is still the VM's monitor: alive and
// with the VM's directory on its command line (so a reused pid is left alone).
func monitorAlive(vm model.VM) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(vm.PID) + "/cmdline")
	return err == nil && strings.Contains(string(b), vm.Dir+"/")
}
