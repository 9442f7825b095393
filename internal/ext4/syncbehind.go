package ext4

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// syncBehindEvery is how many bytes the writer writes between background
// fdatasync calls.
const syncBehindEvery = 16 << 20

// syncBehind flushes the image file to disk in the background while the
// writer goes on, one fdatasync at a time. On a disk with a write cache
// the cost of a flush grows with what was written since the previous one,
// so without this the caller's final fsync pays for the whole image at
// once (0.3 s for 200 MB here) after all the work is done; with it, it
// pays for the last few megabytes. Durability is still the caller's fsync:
// this only moves most of its work earlier. Close waits for a sync in
// flight and reports its error, which the kernel reports only once per
// open file and so would not reach the caller's own fsync.
type syncBehind struct {
	sync    func() error // fdatasync of the image file
	since   uint64       // bytes written since the last sync started
	running chan error   // the sync in flight, or nil
	started int          // syncs started so far
	err     error        // the first background sync error
}

// wrote counts n bytes written and starts a background sync once enough
// have piled up and none is running.
func (w *Writer) wrote(n int) {
	sb := &w.behind
	sb.since += uint64(n)
	if sb.since < syncBehindEvery || sb.err != nil {
		return
	}
	if sb.running != nil {
		select {
		case err := <-sb.running:
			sb.running, sb.err = nil, err
		default:
			return // still flushing; try again on a later write
		}
	}
	sb.since = 0
	sb.started++
	done := make(chan error, 1)
	sb.running = done
	go func() { done <- sb.sync() }()
}

// waitBehind waits for a sync in flight and returns the first background
// sync error.
func (w *Writer) waitBehind() error {
	sb := &w.behind
	if sb.running != nil {
		err := <-sb.running
		sb.running = nil
		if sb.err == nil {
			sb.err = err
		}
	}
	return sb.err
}

// fdatasync flushes f's data (not its size: the caller's fsync does that).
func fdatasync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("syncing image: %w", err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Fdatasync(int(fd)) }); err != nil {
		return fmt.Errorf("syncing image: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("syncing image: %w", serr)
	}
	return nil
}
