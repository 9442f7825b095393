package debianimage

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"
)

// SmallFiles describes the many-small-files image: one layer holding Files
// files of Size bytes of text, 1000 to a directory. The zero value gives
// 100,000 files of 1 KiB, gzip level 1, layer files in os.TempDir().
type SmallFiles struct {
	Files int
	Size  int
	Dir   string
	Level int
}

// Build writes the layer and returns the image.
func (s SmallFiles) Build() (v1.Image, error) {
	if s.Files == 0 {
		s.Files = 100_000
	}
	if s.Size == 0 {
		s.Size = 1024
	}
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l, err := writeLayer(dirOrTemp(s.Dir), "small-*.tar.gz", levelOr(s.Level, gzip.BestSpeed), func(tw *tar.Writer) error {
		for i := range s.Files {
			if i%1000 == 0 {
				d := dir(fmt.Sprintf("data/d%04d", i/1000), 0o755, t)
				if err := writeEntry(tw, &d.hdr, nil); err != nil {
					return err
				}
			}
			name := fmt.Sprintf("data/d%04d/f%06d.txt", i/1000, i)
			f := reg(name, 0o644, textData(name, s.Size), t)
			if err := writeEntry(tw, &f.hdr, bytes.NewReader(f.data)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("writing the small-files layer: %w", err)
	}
	return image([]v1.Layer{l}, []string{"/bin/sh"}, t)
}

// BigFiles describes the few-big-files image: one layer holding Files files
// of Size bytes. All but the last hold pseudo-random data of 4 bits of
// entropy per byte, gzipped Huffman-only (about half the size, cheap to make, every byte a literal for inflate); the last is mostly zeros, with
// 1 MiB of data at its start, middle and end, i.e. sparse on disk. The zero
// value gives 3 files of 1 GiB, layer files in os.TempDir().
type BigFiles struct {
	Files int
	Size  int64
	Dir   string
	Level int
}

// Build writes the layer and returns the image.
func (b BigFiles) Build() (v1.Image, error) {
	if b.Files == 0 {
		b.Files = 3
	}
	if b.Size == 0 {
		b.Size = 1 << 30
	}
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l, err := writeLayer(dirOrTemp(b.Dir), "big-*.tar.gz", levelOr(b.Level, gzip.HuffmanOnly), func(tw *tar.Writer) error {
		d := dir("data", 0o755, t)
		if err := writeEntry(tw, &d.hdr, nil); err != nil {
			return err
		}
		for i := range b.Files {
			sparse := i == b.Files-1
			f := reg(fmt.Sprintf("data/big%d.bin", i), 0o644, nil, t)
			f.hdr.Size = b.Size
			if err := writeEntry(tw, &f.hdr, &bigReader{size: b.Size, sparse: sparse, rng: rand.NewPCG(uint64(i), 7)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("writing the big-files layer: %w", err)
	}
	return image([]v1.Layer{l}, []string{"/bin/sh"}, t)
}

// bigReader yields a big file's content without holding it in memory.
type bigReader struct {
	size, off int64
	sparse    bool
	rng       *rand.PCG
}

const dataRun = 1 << 20

func (r *bigReader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.size-r.off)]
	if r.sparse && !r.inData(r.off) {
		next := r.nextData(r.off)
		p = p[:min(int64(len(p)), next-r.off)]
		clear(p)
	} else {
		if r.sparse {
			p = p[:min(int64(len(p)), r.dataEnd(r.off)-r.off)]
		}
		for i := 0; i < len(p); i += 16 {
			v := r.rng.Uint64()
			for j := i; j < min(i+16, len(p)); j++ {
				p[j] = 'a' + byte(v&15)
				v >>= 4
			}
		}
	}
	r.off += int64(len(p))
	return len(p), nil
}

// dataStarts are the offsets of the sparse file's data runs.
func (r *bigReader) dataStarts() [3]int64 {
	mid := (r.size / 2) &^ (dataRun - 1)
	return [3]int64{0, mid, max(r.size-dataRun, 0)}
}

func (r *bigReader) inData(off int64) bool { return r.dataEnd(off) > off }

// dataEnd is the end of the data run holding off, or off if none does.
func (r *bigReader) dataEnd(off int64) int64 {
	for _, s := range r.dataStarts() {
		if off >= s && off < s+dataRun {
			return min(s+dataRun, r.size)
		}
	}
	return off
}

// nextData is the start of the first data run after off, or the file size.
func (r *bigReader) nextData(off int64) int64 {
	for _, s := range r.dataStarts() {
		if s > off {
			return s
		}
	}
	return r.size
}

func dirOrTemp(d string) string {
	if d == "" {
		return os.TempDir()
	}
	return d
}

func levelOr(level, def int) int {
	if level == 0 {
		return def
	}
	return level
}
