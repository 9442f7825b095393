package ext4

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"golang.org/x/sys/unix"
)

// zeroBlock is compared against to find blocks that become holes.
var zeroBlock = make([]byte, blockSize)

// writeData streams size bytes from r into freshly allocated blocks of n.
// All-zero blocks are left unmapped. On error every block taken is released.
func (w *Writer) writeData(n *node, r io.Reader, size int64) error {
	if r == nil {
		return fmt.Errorf("reading %d bytes of content: no content reader: %w", size, ErrInvalid)
	}
	var logical uint64
	for remaining := size; remaining > 0; {
		chunk := min(remaining, int64(len(w.buf)))
		if _, err := io.ReadFull(r, w.buf[:chunk]); err != nil {
			w.freeData(n)
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("reading content: %w", err)
		}
		remaining -= chunk
		blocks := divRoundUp(uint64(chunk), blockSize)
		clear(w.buf[chunk : blocks*blockSize])
		if err := w.writeChunk(n, w.buf[:blocks*blockSize], logical); err != nil {
			w.freeData(n)
			return err
		}
		logical += blocks
	}
	return nil
}

// writeChunk writes the non-zero blocks of buf, which starts at logical block lb.
func (w *Writer) writeChunk(n *node, buf []byte, lb uint64) error {
	nblk := uint64(len(buf)) / blockSize
	for i := uint64(0); i < nblk; {
		if bytes.Equal(buf[i*blockSize:(i+1)*blockSize], zeroBlock) {
			i++
			continue
		}
		j := i + 1
		for j < nblk && !bytes.Equal(buf[j*blockSize:(j+1)*blockSize], zeroBlock) {
			j++
		}
		if err := w.writeRun(n, buf[i*blockSize:j*blockSize], lb+i); err != nil {
			return err
		}
		i = j
	}
	return nil
}

// writeRun allocates and writes one run of non-zero blocks.
func (w *Writer) writeRun(n *node, run []byte, lb uint64) error {
	for len(run) > 0 {
		want := uint64(len(run)) / blockSize
		if w.dataBlocks+want > w.maxData {
			return fmt.Errorf("storing more than %d bytes of data: %w", w.maxData*blockSize, ErrTooLarge)
		}
		s := w.alloc.alloc(want)
		if w.sizeLimit > 0 && w.alloc.next > w.sizeLimit {
			w.alloc.release(s)
			return fmt.Errorf("storing data: image size %d bytes is too small (data alone needs more than %d bytes): %w",
				w.sizeLimit*blockSize, w.alloc.next*blockSize, ErrTooSmall)
		}
		w.dataBlocks += s.len
		n.addExtent(uint32(lb), s)
		if err := w.queueWrite(s.start, run[:s.len*blockSize]); err != nil {
			return err
		}
		run = run[s.len*blockSize:]
		lb += s.len
	}
	return nil
}

// addExtent appends a mapping, merging it with the last one when both
// logically and physically contiguous.
func (n *node) addExtent(lb uint32, s span) {
	for s.len > 0 {
		if k := len(n.extents) - 1; k >= 0 {
			e := &n.extents[k]
			if e.logical+e.len == lb && e.phys+uint64(e.len) == s.start && e.len < maxExtentLen {
				add := min(uint32(s.len), maxExtentLen-e.len)
				e.len += add
				lb += add
				s = span{s.start + uint64(add), s.len - uint64(add)}
				continue
			}
		}
		add := min(uint32(s.len), maxExtentLen)
		n.extents = append(n.extents, extent{logical: lb, len: add, phys: s.start})
		lb += add
		s = span{s.start + uint64(add), s.len - uint64(add)}
	}
}

// queueWrite buffers data for block start, coalescing consecutive small
// writes (many small files land next to each other) into one pwrite.
func (w *Writer) queueWrite(start uint64, data []byte) error {
	if len(w.pending) > 0 && (start != w.pendStart+uint64(len(w.pending))/blockSize || len(w.pending)+len(data) > ioBufSize) {
		if err := w.flushWrites(); err != nil {
			return err
		}
	}
	if len(data) >= ioBufSize {
		if _, err := w.f.WriteAt(data, int64(start*blockSize)); err != nil {
			return fmt.Errorf("writing image: %w", err)
		}
		w.wrote(len(data))
		return nil
	}
	if len(w.pending) == 0 {
		w.pendStart = start
	}
	w.pending = append(w.pending, data...)
	return nil
}

// flushWrites writes out queued data.
func (w *Writer) flushWrites() error {
	if len(w.pending) == 0 {
		return nil
	}
	_, err := w.f.WriteAt(w.pending, int64(w.pendStart*blockSize))
	w.wrote(len(w.pending))
	w.pending = w.pending[:0]
	if err != nil {
		return fmt.Errorf("writing image: %w", err)
	}
	return nil
}

// freeData releases n's data blocks and punches them out of the image file.
// Queued writes go out first so that none lands in a freed block later.
func (w *Writer) freeData(n *node) {
	if len(n.extents) > 0 {
		w.ioErr = errors.Join(w.ioErr, w.flushWrites())
	}
	for _, e := range n.extents {
		w.alloc.release(span{e.phys, uint64(e.len)})
		w.dataBlocks -= uint64(e.len)
		w.punch(e.phys, uint64(e.len))
	}
	n.extents = nil
}

// punch deallocates blocks in the host file. When the host filesystem
// cannot, the stale bytes stay: they are free space in the image, and the
// allocator is told not to treat them as zeroed.
func (w *Writer) punch(start, n uint64) {
	if !w.noPunch {
		var perr error
		rc, err := w.f.SyscallConn()
		if err == nil {
			err = rc.Control(func(fd uintptr) {
				perr = unix.Fallocate(int(fd), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE,
					int64(start*blockSize), int64(n*blockSize))
			})
		}
		if err == nil && perr == nil {
			return
		}
		w.noPunch = true
	}
	w.alloc.stale = max(w.alloc.stale, start+n)
}
