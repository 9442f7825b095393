package agent

import (
	"sync"
	"syscall"
)

// ForkSpawner is a Spawner for a PID 1 that owns the only wait4(-1) loop. It
// starts processes with syscall.ForkExec; the init's reaper hands every status
// it collects to Reaped, which routes it to the right exit callback. Its zero
// value is ready to use.
//
//	for {
//		var ws syscall.WaitStatus
//		pid, err := syscall.Wait4(-1, &ws, 0, nil)
//		if err == nil && !spawner.Reaped(pid, ws) {
//			// the main process, or an orphan
//		}
//	}
type ForkSpawner struct {
	mu      sync.Mutex
	waiting map[int]func(ExitStatus)
}

// Spawn implements Spawner.
func (s *ForkSpawner) Spawn(p *Process, exited func(ExitStatus)) (int, error) {
	attr := p.ProcAttr()
	// The lock is held across the fork: a reaper that collects the child at
	// once blocks in Reaped until the callback is recorded.
	s.mu.Lock()
	defer s.mu.Unlock()
	pid, err := syscall.ForkExec(p.Path, p.Argv, attr)
	if err != nil {
		return 0, err
	}
	if s.waiting == nil {
		s.waiting = make(map[int]func(ExitStatus))
	}
	s.waiting[pid] = exited
	return pid, nil
}

// Reaped routes the status of a reaped pid to its callback (in a new
// goroutine, so the reaper never blocks) and reports whether the pid was one
// this spawner started. Statuses of stopped or continued processes are
// ignored.
func (s *ForkSpawner) Reaped(pid int, ws syscall.WaitStatus) bool {
	if !ws.Exited() && !ws.Signaled() {
		return false
	}
	s.mu.Lock()
	fn, ok := s.waiting[pid]
	delete(s.waiting, pid)
	s.mu.Unlock()
	if ok {
		go fn(StatusFromWait(ws))
	}
	return ok
}
