package guestinit

import (
	"errors"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/banger-dev/banger/internal/agent"
	"golang.org/x/sys/unix"
)

// forwardable reports whether PID 1 passes sig on to the main process. It
// keeps child bookkeeping, the Go runtime's own signals, and those that only
// make sense for the process that caused them.
func forwardable(sig os.Signal) bool {
	switch sig {
	case unix.SIGCHLD, unix.SIGURG, unix.SIGPIPE, unix.SIGPROF, unix.SIGFPE, unix.SIGILL,
		unix.SIGSEGV, unix.SIGBUS, unix.SIGTRAP, unix.SIGSYS, unix.SIGTTIN, unix.SIGTTOU:
		return false
	}
	return true
}

// supervisor owns all waiting in the guest: one wait4(-1) loop hands every
// status to the spawner, which routes it to whoever started that process;
// orphans are reaped and dropped. It also relays signals sent to PID 1.
type supervisor struct {
	spawner *agent.ForkSpawner
	sigs    chan os.Signal
	chld    chan struct{}
	target  chan int // pid signals are forwarded to, once known
}

// startSupervisor must run before any child is started. Every signal is
// caught: one the Go runtime is not told about (SIGTERM, say) would end PID 1
// and panic the kernel.
func startSupervisor() *supervisor {
	s := &supervisor{
		spawner: &agent.ForkSpawner{},
		sigs:    make(chan os.Signal, 64),
		chld:    make(chan struct{}, 1),
		target:  make(chan int, 1),
	}
	signal.Notify(s.sigs)
	go s.relay()
	go s.reap()
	return s
}

// forwardTo sets the process that receives forwarded signals.
func (s *supervisor) forwardTo(pid int) { s.target <- pid }

func (s *supervisor) relay() {
	pid := 0
	for {
		select {
		case pid = <-s.target:
		case sig := <-s.sigs:
			if sig == unix.SIGCHLD {
				select {
				case s.chld <- struct{}{}:
				default:
				}
				continue
			}
			if pid > 0 && forwardable(sig) {
				unix.Kill(pid, sig.(syscall.Signal))
			}
		}
	}
}

func (s *supervisor) reap() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, unix.WNOHANG, nil)
		if pid > 0 {
			s.spawner.Reaped(pid, ws)
			continue
		}
		if err != nil && !errors.Is(err, syscall.ECHILD) && !errors.Is(err, syscall.EINTR) {
			time.Sleep(10 * time.Millisecond)
		}
		<-s.chld
	}
}

// anyProcessLeft reports whether PID 1 still has children, zombies included
// until the reaper collects them. Every process in the guest is a child of
// PID 1 or is inherited by it once its parent dies. (kill(-1, 0) cannot tell:
// it succeeds on kernel threads.)
func anyProcessLeft() bool {
	var info unix.Siginfo
	err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
	return !errors.Is(err, unix.ECHILD)
}

// killAll sends TERM to every process, waits up to grace for them to go,
// then KILLs what remains and waits for the reaper to collect it.
func killAll(grace time.Duration) {
	unix.Kill(-1, unix.SIGTERM)
	if waitNoProcesses(grace) {
		return
	}
	unix.Kill(-1, unix.SIGKILL)
	waitNoProcesses(2 * time.Second)
}

func waitNoProcesses(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for anyProcessLeft() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}
