package guestinit

import (
	"context"
	"time"

	"github.com/banger-dev/banger/internal/agent"
	"golang.org/x/sys/unix"
)

// powerOff ends the VM leaving its disk clean: every process gets TERM, then
// KILL after killGrace; then sync, the root remounted read-only (without it
// ext4 keeps needs_recovery set), sync again, and power off. It never
// returns.
func (r *run) powerOff() {
	killAll(killGrace)
	r.mark("killed")
	unix.Sync()
	if r.root != "" {
		if err := unix.Mount("", r.root, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			logf("remounting %s read-only: %v", r.root, err)
		}
		unix.Sync()
	}
	r.mark("synced")
	for {
		if err := unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF); err != nil {
			logf("powering off: %v", err)
		}
		time.Sleep(time.Second)
	}
}

// fatalExitCode is reported to the host when the guest fails before its
// main process could run (Docker uses 125 for its own errors likewise).
const fatalExitCode = 125

// fatal prints err on the console, tells the host (when the agent port can
// be reached) that the run failed, and powers off; PID 1 must not return.
func (r *run) fatal(err error) {
	if err != nil {
		logf("fatal: %v", err)
	}
	if r.link == nil && r.sup != nil {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		if link, lerr := startAgent(ctx, agent.ServerConfig{Spawner: r.sup.spawner, Hello: r.hello()}); lerr == nil {
			link.attach(&mainProc{})
			link.reportExit(agent.ExitStatus{Code: fatalExitCode}, exitReportTimeout)
		}
	}
	r.powerOff()
}
