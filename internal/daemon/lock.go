package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/banger-dev/banger/internal/errdefs"
	"golang.org/x/sys/unix"
)

// lockState takes an exclusive flock on path so that only one daemon owns
// the state directory, and writes our pid into it. The kernel drops the
// lock when the process dies, however it dies.
func lockState(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening lock file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			pid, _ := os.ReadFile(path)
			return nil, errdefs.Newf(errdefs.ErrConflict, "another banger daemon (pid %s) holds %s",
				strings.TrimSpace(string(pid)), path)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { f.Close() }, nil
}

// nameLocks serializes operations on one name (an image, a kernel, a VM)
// while letting different names proceed in parallel. Its zero value works.
type nameLocks struct {
	mu   sync.Mutex
	held map[string]chan struct{}
}

// lock waits until key is free (or ctx is done) and takes it.
func (l *nameLocks) lock(ctx context.Context, key string) (unlock func(), err error) {
	for {
		l.mu.Lock()
		if l.held == nil {
			l.held = make(map[string]chan struct{})
		}
		busy, taken := l.held[key]
		if !taken {
			done := make(chan struct{})
			l.held[key] = done
			l.mu.Unlock()
			return func() {
				l.mu.Lock()
				delete(l.held, key)
				l.mu.Unlock()
				close(done)
			}, nil
		}
		l.mu.Unlock()
		select {
		case <-busy:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// lockName serializes operations on the object kind/name ("image", "web").
func (d *Daemon) lockName(ctx context.Context, kind, name string) (unlock func(), err error) {
	return d.locks.lock(ctx, kind+"/"+name)
}
