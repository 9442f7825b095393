package debianimage

import (
	"archive/tar"
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

// fileLayer is a gzip layer already written to disk, with its digests
// computed while writing, so pushing it never recompresses.
type fileLayer struct {
	path   string
	digest v1.Hash
	diffID v1.Hash
	size   int64
}

func (l *fileLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *fileLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *fileLayer) Size() (int64, error)                { return l.size, nil }
func (l *fileLayer) MediaType() (types.MediaType, error) { return types.DockerLayer, nil }
func (l *fileLayer) Compressed() (io.ReadCloser, error)  { return os.Open(l.path) }

// countingHash hashes and counts what passes through it.
type countingHash struct {
	h hash.Hash
	n int64
}

func (c *countingHash) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.h.Write(p)
}

func (c *countingHash) sum() v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(c.h.Sum(nil))}
}

// writeLayer runs fill over a tar writer whose stream is gzip-compressed at
// level into a new file in dir, and returns that file as a layer. The
// output depends only on what fill writes and on level.
func writeLayer(dir, pattern string, level int, fill func(tw *tar.Writer) error) (v1.Layer, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, fmt.Errorf("creating layer file: %w", err)
	}
	defer f.Close()
	compressed := &countingHash{h: sha256.New()}
	bw := bufio.NewWriterSize(io.MultiWriter(f, compressed), 1<<20)
	zw, err := gzip.NewWriterLevel(bw, level)
	if err != nil {
		return nil, fmt.Errorf("starting gzip: %w", err)
	}
	diff := &countingHash{h: sha256.New()}
	tw := tar.NewWriter(io.MultiWriter(zw, diff))
	if err := fill(tw); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("closing tar stream: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("closing gzip stream: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("writing layer file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("closing layer file: %w", err)
	}
	fl := &fileLayer{path: f.Name(), digest: compressed.sum(), diffID: diff.sum(), size: compressed.n}
	return partial.CompressedToLayer(fl)
}

// writeEntry writes hdr and, for regular files, exactly hdr.Size bytes of data.
func writeEntry(tw *tar.Writer, hdr *tar.Header, data io.Reader) error {
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("writing header %s: %w", hdr.Name, err)
	}
	if hdr.Typeflag != tar.TypeReg || hdr.Size == 0 {
		return nil
	}
	n, err := io.CopyN(tw, data, hdr.Size)
	if err != nil {
		return fmt.Errorf("writing %s (%d of %d bytes): %w", hdr.Name, n, hdr.Size, err)
	}
	return nil
}
