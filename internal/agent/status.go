package agent

import (
	"fmt"
	"os"
	"syscall"
)

// ExitStatus is how a process ended.
type ExitStatus struct {
	// Code is the exit code; for a process killed by a signal it is
	// 128+signal, as a shell reports it.
	Code int
	// Signal is the signal that killed the process, or 0 if it exited.
	Signal syscall.Signal
	// CoreDumped reports that the killed process dumped core.
	CoreDumped bool
}

// Signaled reports whether the process was killed by a signal.
func (s ExitStatus) Signaled() bool { return s.Signal != 0 }

// String describes the status like a shell would.
func (s ExitStatus) String() string {
	if s.Signaled() {
		return fmt.Sprintf("killed by signal %d (%v)", int(s.Signal), s.Signal)
	}
	return fmt.Sprintf("exit status %d", s.Code)
}

// StatusFromWait converts a status from wait4, as a PID 1 reaper gets it.
func StatusFromWait(ws syscall.WaitStatus) ExitStatus {
	if ws.Signaled() {
		return ExitStatus{Code: 128 + int(ws.Signal()), Signal: ws.Signal(), CoreDumped: ws.CoreDump()}
	}
	return ExitStatus{Code: ws.ExitStatus()}
}

// StatusFromProcessState converts the state os/exec reports.
func StatusFromProcessState(ps *os.ProcessState) ExitStatus {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
		return StatusFromWait(ws)
	}
	return ExitStatus{Code: ps.ExitCode()}
}

func (s ExitStatus) encode() []byte {
	var w wireWriter
	w.u32(uint32(int32(s.Code)))
	w.u32(uint32(s.Signal))
	var flags uint8
	if s.CoreDumped {
		flags |= 1
	}
	w.u8(flags)
	return w.b
}

func decodeExitStatus(p []byte) (ExitStatus, error) {
	r := wireReader{b: p}
	s := ExitStatus{Code: int(int32(r.u32())), Signal: syscall.Signal(r.u32())}
	s.CoreDumped = r.u8()&1 != 0
	if s.Signal < 0 || s.Signal > 128 {
		return ExitStatus{}, fmt.Errorf("%w: exit signal %d out of range", ErrProtocol, uint32(s.Signal))
	}
	return s, r.done("exit status")
}
