package imagepull

import (
	"errors"
	"io"
	"sync"
)

// Read-ahead geometry: decompression runs up to readAheadDepth chunks of
// readAheadChunk bytes ahead of the consumer.
const (
	readAheadChunk = 1 << 20
	readAheadDepth = 4
)

// errReadAheadClosed is what the producer sees once the consumer closed.
var errReadAheadClosed = errors.New("read-ahead closed")

// readAhead runs r (a decompressor) in its own goroutine, so that inflating
// a layer and writing it into the image overlap on two cores instead of
// taking turns. Memory stays bounded by depth × chunk.
type readAhead struct {
	full   chan []byte
	free   chan []byte
	done   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
	err    error // the producer's final error, readable once full is closed
	cur    []byte
	curBuf []byte
}

func newReadAhead(r io.Reader) *readAhead {
	ra := &readAhead{full: make(chan []byte, readAheadDepth), free: make(chan []byte, readAheadDepth), done: make(chan struct{})}
	for range readAheadDepth {
		ra.free <- make([]byte, readAheadChunk)
	}
	ra.wg.Add(1)
	go ra.produce(r)
	return ra
}

// produce fills free buffers from r and queues them, until r ends, fails,
// or the consumer closes.
func (ra *readAhead) produce(r io.Reader) {
	defer ra.wg.Done()
	defer close(ra.full)
	for {
		var buf []byte
		select {
		case buf = <-ra.free:
		case <-ra.done:
			ra.err = errReadAheadClosed
			return
		}
		n, err := fill(r, buf)
		if n > 0 {
			select {
			case ra.full <- buf[:n]:
			case <-ra.done:
				ra.err = errReadAheadClosed
				return
			}
		}
		if err != nil {
			ra.err = err // io.EOF only at a clean end: a truncated stream's own error passes through
			return
		}
	}
}

// fill reads into buf until it is full or r fails. Unlike io.ReadFull it
// passes r's errors through untouched, so a decompressor's
// io.ErrUnexpectedEOF (a truncated stream) is never mistaken for the end.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (ra *readAhead) Read(p []byte) (int, error) {
	if len(ra.cur) == 0 {
		if ra.curBuf != nil {
			ra.free <- ra.curBuf[:cap(ra.curBuf)]
			ra.curBuf = nil
		}
		buf, ok := <-ra.full
		if !ok {
			return 0, ra.err
		}
		ra.cur, ra.curBuf = buf, buf
	}
	n := copy(p, ra.cur)
	ra.cur = ra.cur[n:]
	return n, nil
}

// Close stops the producer and waits for it, so the underlying reader can
// be closed safely afterwards.
func (ra *readAhead) Close() error {
	ra.once.Do(func() { close(ra.done) })
	for range ra.full { // unblock a producer waiting to queue
	}
	ra.wg.Wait()
	return nil
}
