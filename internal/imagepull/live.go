package imagepull

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ErrFollowLost is what a reader following a download (Cache.Follow) gets
// when that download attempt fails: the bytes it has read so far were
// never verified, and a retry may bring different ones. Whoever consumed
// them must start again from the verified blob.
var ErrFollowLost = errors.New("download being followed did not complete")

// liveBlob is one download attempt in progress, in a temp file of the
// cache, as seen by readers following it.
type liveBlob struct {
	path string

	mu       sync.Mutex
	written  int64         // bytes in the temp file so far
	verified bool          // all bytes are in and match the digest
	err      error         // the attempt failed
	wake     chan struct{} // closed (and replaced) on every change
}

func newLiveBlob(path string) *liveBlob {
	return &liveBlob{path: path, wake: make(chan struct{})}
}

// Write records that len(p) more bytes are in the temp file; the download
// calls it after writing them there.
func (lb *liveBlob) Write(p []byte) (int, error) {
	lb.mu.Lock()
	lb.written += int64(len(p))
	lb.signalLocked()
	lb.mu.Unlock()
	return len(p), nil
}

// finish ends the attempt: verified when err is nil.
func (lb *liveBlob) finish(err error) {
	lb.mu.Lock()
	if err == nil {
		lb.verified = true
	} else if lb.err == nil && !lb.verified {
		lb.err = err
	}
	lb.signalLocked()
	lb.mu.Unlock()
}

func (lb *liveBlob) signalLocked() {
	close(lb.wake)
	lb.wake = make(chan struct{})
}

// state is a snapshot for a reader.
func (lb *liveBlob) state() (written int64, verified bool, err error, wake <-chan struct{}) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.written, lb.verified, lb.err, lb.wake
}

// startLive makes an attempt visible to followers; the returned func ends
// it with the attempt's result.
func (c *Cache) startLive(d v1.Hash, path string) (*liveBlob, func(error)) {
	lb := newLiveBlob(path)
	c.liveMu.Lock()
	c.live[d.Hex] = lb
	c.signalLiveLocked()
	c.liveMu.Unlock()
	return lb, func(err error) {
		lb.finish(err)
		c.liveMu.Lock()
		if c.live[d.Hex] == lb {
			delete(c.live, d.Hex)
		}
		c.signalLiveLocked()
		c.liveMu.Unlock()
	}
}

func (c *Cache) signalLiveLocked() {
	close(c.liveWake)
	c.liveWake = make(chan struct{})
}

// liveFor returns the attempt downloading d now, if any, and a channel
// closed when that changes.
func (c *Cache) liveFor(d v1.Hash) (*liveBlob, <-chan struct{}) {
	c.liveMu.Lock()
	defer c.liveMu.Unlock()
	return c.live[d.Hex], c.liveWake
}

// Follow returns the compressed bytes of blob d while this process
// downloads it into the cache, so that a consumer can start before the
// download ends; or the cached blob, once it is there. A follower's reads
// return the download's bytes as they land, and io.EOF only once the whole
// blob has been verified against d: a consumer must read to EOF, and must
// treat what it made of the bytes as unverified until then. If the
// attempt it follows fails, reads return an error wrapping ErrFollowLost.
//
// fetched is closed when the caller's own fetch of d has ended (either
// way); until then, Follow waits for a download of d to start or for the
// blob to appear. starved, if set, is called (once) when the reader has
// caught up with the download and must wait for the network.
func (c *Cache) Follow(ctx context.Context, d v1.Hash, fetched <-chan struct{}, starved func()) (io.ReadCloser, error) {
	if err := checkDigest(d); err != nil {
		return nil, err
	}
	for {
		lb, changed := c.liveFor(d)
		if lb != nil {
			f, err := os.Open(lb.path)
			if err == nil {
				return &follower{ctx: ctx, lb: lb, f: f, closed: make(chan struct{}), starved: starved}, nil
			}
			if !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("following download of %s: %w", d, err)
			}
			// The attempt is ending and its temp file is gone (renamed or
			// removed): wait for it to be unregistered.
		} else if c.Has(d, 0) {
			f, err := os.Open(c.Path(d))
			if err != nil {
				return nil, fmt.Errorf("opening cached blob %s: %w", d, err)
			}
			return f, nil
		}
		select {
		case <-changed:
		case <-fetched:
			// The fetch has ended, so has its last attempt: a final look.
			if lb, _ := c.liveFor(d); lb == nil && !c.Has(d, 0) {
				return nil, fmt.Errorf("blob %s is not in the cache: %w", d, ErrFollowLost)
			}
			fetched = nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// follower reads a temp file as a download attempt fills it.
type follower struct {
	ctx       context.Context
	lb        *liveBlob
	f         *os.File
	off       int64
	closed    chan struct{}
	closeOnce sync.Once
	starved   func() // called before the first wait after some bytes
}

func (r *follower) Read(p []byte) (int, error) {
	for {
		written, verified, err, wake := r.lb.state()
		if avail := written - r.off; avail > 0 {
			n, rerr := r.f.ReadAt(p[:min(int64(len(p)), avail)], r.off)
			r.off += int64(n)
			if n > 0 || rerr == nil {
				return n, nil
			}
			return 0, fmt.Errorf("reading download in progress: %w", rerr)
		}
		switch {
		case verified:
			return 0, io.EOF
		case err != nil:
			return 0, fmt.Errorf("%w: %w", ErrFollowLost, err)
		}
		if r.off > 0 && r.starved != nil {
			r.starved()
			r.starved = nil
		}
		select {
		case <-wake:
		case <-r.closed:
			return 0, os.ErrClosed
		case <-r.ctx.Done():
			return 0, r.ctx.Err()
		}
	}
}

// Close ends the follower; a Read blocked waiting for bytes returns.
func (r *follower) Close() error {
	r.closeOnce.Do(func() { close(r.closed) })
	return r.f.Close()
}
