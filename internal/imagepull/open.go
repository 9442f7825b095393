package imagepull

import (
	"bufio"
	"compress/bzip2"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

const (
	magicGzip  = "\x1f\x8b"
	magicZstd  = "\x28\xb5\x2f\xfd"
	magicXz    = "\xfd7zXZ\x00"
	magicBzip2 = "BZh"
)

// Open returns the uncompressed tar stream of the cached layer d. The
// blob was verified when fetched; the compression (gzip, zstd, xz, bzip2
// or none) is detected from its first bytes, not from the media type.
// Reads fail once ctx ends.
func (c *Cache) Open(ctx context.Context, d v1.Hash) (io.ReadCloser, error) {
	if err := checkDigest(d); err != nil {
		return nil, err
	}
	rc, err := OpenLayerFile(ctx, c.Path(d))
	if err != nil {
		return nil, fmt.Errorf("opening cached layer %s: %w", d, err)
	}
	return rc, nil
}

// OpenLayerFile returns the uncompressed content of a layer file, the
// compression detected from its first bytes. Decompression runs ahead of
// the reader in its own goroutine (bounded), so it overlaps with whatever
// the reader does with the bytes. Reads fail once ctx ends.
func OpenLayerFile(ctx context.Context, path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return Decompress(ctx, f)
}

// Decompress is OpenLayerFile for a stream of compressed layer bytes (a
// file, or a Follow reader); closing the result closes rc. Once the
// uncompressed stream has been read to its end, Close also reads rc to its
// end and reports its error: a decompressor may stop before trailing
// bytes, and a Follow reader verifies its blob only at its own EOF.
func Decompress(ctx context.Context, rc io.ReadCloser) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(rc, 256<<10)
	r, closeFn, err := decompress(br)
	if err != nil {
		rc.Close()
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { rc.Close() }) // a canceled pull stops reading
	ra := newReadAhead(r)
	return &layerReader{r: ra, close: func(atEOF bool) error {
		var err error
		if atEOF {
			ra.Close() // the producer has stopped: br is ours
			if _, derr := io.Copy(io.Discard, br); derr != nil {
				err = fmt.Errorf("reading the rest of the layer: %w", derr)
			}
		}
		stop()
		rc.Close() // unblocks a producer stuck in a read
		ra.Close()
		closeFn()
		return err
	}}, nil
}

// decompress picks the decompressor by magic number.
func decompress(br *bufio.Reader) (io.Reader, func(), error) {
	peek, _ := br.Peek(6) // short files are plain tar (or empty)
	magic := string(peek)
	switch {
	case strings.HasPrefix(magic, magicGzip):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("reading gzip header: %w", err)
		}
		return zr, func() { zr.Close() }, nil
	case strings.HasPrefix(magic, magicZstd):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, nil, fmt.Errorf("reading zstd header: %w", err)
		}
		return zr, zr.Close, nil
	case strings.HasPrefix(magic, magicXz):
		xr, err := xz.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("reading xz header: %w", err)
		}
		return xr, func() {}, nil
	case strings.HasPrefix(magic, magicBzip2):
		return bzip2.NewReader(br), func() {}, nil
	}
	return br, func() {}, nil
}

// layerReader closes everything Decompress opened.
type layerReader struct {
	r     io.Reader
	atEOF bool
	close func(atEOF bool) error
}

func (l *layerReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if err == io.EOF {
		l.atEOF = true
	}
	return n, err
}

func (l *layerReader) Close() error { return l.close(l.atEOF) }
