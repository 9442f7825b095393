// Package guestinit is banger-init, the guest's PID 1: it loads the modules
// the initramfs carries, mounts the VM's disk and switches to it, configures
// the hostname and network, runs the image's process under one reaper,
// serves the host's agent, and powers the VM off cleanly when the process
// ends. It never returns: a fatal error is printed on the console and the
// VM powers off.
package guestinit

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/banger-dev/banger/internal/agent"
	"github.com/banger-dev/banger/internal/guestinit/vmconfig"
	"golang.org/x/sys/unix"
)

// Version names this init in the agent's hello.
const Version = "banger-init/1"

const (
	exitReportTimeout = 3 * time.Second
	killGrace         = 2 * time.Second
	shutdownGrace     = 10 * time.Second
)

// run is the state of one boot.
type run struct {
	cfg    vmconfig.Config
	root   string // where the VM's disk is mounted, once it is
	phases map[string]string
	debug  bool // "banger.debug" on the kernel command line: log phases
	sup    *supervisor
	link   *hostLink
}

// Main runs PID 1 and never returns. Run as any other process (say, by
// mistake on a host, where it would mount over /dev and power the machine
// off) it refuses and exits with status 2.
func Main() {
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "banger-init: runs only as PID 1 inside a banger VM")
		os.Exit(2)
	}
	r := &run{phases: map[string]string{}}
	defer func() {
		if p := recover(); p != nil {
			r.fatal(fmt.Errorf("panic: %v", p))
		}
	}()
	r.fatal(r.boot())
}

// logf prints a line on the console (PID 1's stderr).
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "banger-init: "+format+"\n", args...)
}

// mark records how long after kernel start a boot phase ended.
func (r *run) mark(phase string) {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts) == nil {
		r.phases[phase+"_ms"] = strconv.FormatInt(ts.Nano()/1e6, 10)
		if r.debug {
			logf("%s done at %.3fs", phase, float64(ts.Nano())/1e9)
		}
	}
}

// boot does everything up to the main process's exit and the power-off. It
// returns only with an error.
func (r *run) boot() error {
	os.Setenv("PATH", agent.DefaultPath)
	// Catch every signal from the start: an uncaught SIGTERM would end PID 1.
	sup := startSupervisor()
	r.sup = sup
	if err := mountEarly(); err != nil {
		return err
	}
	if b, err := os.ReadFile("/proc/cmdline"); err == nil {
		r.debug = slices.Contains(strings.Fields(string(b)), "banger.debug")
	}
	r.mark("init")
	cfg, err := vmconfig.Load("/" + vmconfig.Path)
	if err != nil {
		return err
	}
	r.cfg = cfg
	if err := loadModules("/" + vmconfig.ModulesPath); err != nil {
		return err
	}
	r.mark("modules")
	dev := cfg.RootDevice
	if dev == "" {
		dev = "/dev/vda"
	}
	if err := mountRoot(dev); err != nil {
		return err
	}
	r.root = newRoot
	r.mark("disk")
	if err := r.configureSystem(); err != nil {
		return err
	}
	r.mark("network")
	if err := switchRoot(); err != nil {
		return err
	}
	r.root = "/"
	r.mark("root")
	if err := writeResolver(cfg.Hostname, cfg.Network); err != nil {
		return err
	}
	if cfg.Init == vmconfig.InitImage {
		return execImageInit()
	}
	return r.supervise(sup)
}

func (r *run) configureSystem() error {
	if r.cfg.Hostname != "" {
		if err := unix.Sethostname([]byte(r.cfg.Hostname)); err != nil {
			return fmt.Errorf("setting hostname: %w", err)
		}
	}
	return configureNetwork(r.cfg.Network)
}

// execImageInit hands PID 1 to the image's own init. The agent is not
// available in this mode.
func execImageInit() error {
	const initPath = "/sbin/init"
	logf("handing over to %s; the banger agent is not available", initPath)
	err := unix.Exec(initPath, []string{initPath}, []string{"PATH=" + agent.DefaultPath, "TERM=linux"})
	return fmt.Errorf("executing %s: %w", initPath, err)
}

// supervise starts the reaper, the agent and the main process, then powers
// off once the main process has ended (or the host asked for a shutdown).
func (r *run) supervise(sup *supervisor) error {
	shutdown := make(chan struct{}, 1)
	requestShutdown := func() {
		select {
		case shutdown <- struct{}{}:
		default:
		}
	}
	go watchPowerButton(requestShutdown)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	link, err := startAgent(ctx, agent.ServerConfig{
		Spawner:    sup.spawner,
		Hello:      r.hello(),
		Env:        r.cfg.Process.Env,
		OnShutdown: requestShutdown,
	})
	if err != nil {
		logf("no agent: %v", err)
	}
	r.link = link
	r.mark("agent")
	mp, err := r.startMain(sup)
	if err != nil {
		// Reported like a shell would: 127 not found, 126 cannot run.
		logf("%v", err)
		code := 126
		if errors.Is(err, fs.ErrNotExist) {
			code = 127
		}
		link.attach(&mainProc{})
		link.reportExit(agent.ExitStatus{Code: code}, exitReportTimeout)
		r.powerOff()
	}
	r.mark("main")
	if err := link.attach(mp); err != nil {
		logf("%v", err)
	}
	st := r.waitMain(mp, shutdown)
	r.mark("exit")
	link.reportExit(st, exitReportTimeout)
	r.mark("reported")
	cancel()
	r.powerOff()
	return nil
}

func (r *run) startMain(sup *supervisor) (*mainProc, error) {
	p, err := buildProcess(r.cfg.Process, r.cfg.Hostname)
	if err != nil {
		return nil, err
	}
	return startMain(sup, p, r.cfg.Process, os.Stdout)
}

// waitMain waits for the main process to exit. A shutdown request (from the
// agent or the power button) sends it SIGTERM and waits at most
// shutdownGrace more.
func (r *run) waitMain(mp *mainProc, shutdown <-chan struct{}) agent.ExitStatus {
	select {
	case st := <-mp.exited:
		return st
	case <-shutdown:
	}
	unix.Kill(mp.pid, unix.SIGTERM)
	select {
	case st := <-mp.exited:
		return st
	case <-time.After(shutdownGrace):
		return agent.ExitStatus{Code: 128 + int(unix.SIGKILL), Signal: unix.SIGKILL}
	}
}

func (r *run) hello() agent.Hello {
	h := agent.Hello{Init: Version, Info: maps.Clone(r.phases)}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		h.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	return h
}
