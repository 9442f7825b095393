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
	r, closeFn, err := decompress(bufio.NewReaderSize(f, 256<<10))
	if err != nil {
		f.Close()
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { f.Close() }) // a canceled pull stops reading
	ra := newReadAhead(r)
	return &layerReader{r: ra, close: func() error {
		stop()
		f.Close() // unblocks a producer stuck in a read
		ra.Close()
		closeFn()
		return nil
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

// layerReader closes everything Open opened.
type layerReader struct {
	r     io.Reader
	close func() error
}

func (l *layerReader) Read(p []byte) (int, error) { return l.r.Read(p) }

func (l *layerReader) Close() error { return l.close() }
