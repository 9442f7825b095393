package kernelcat

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// zstdMaxWindow bounds the memory one zstd stream may ask for.
const zstdMaxWindow = 256 << 20

// openTar returns a tar reader over the archive in r, of format "tar",
// "xbps" (a compressed tar) or "deb" (the data.tar.* member of an ar
// archive). The close func releases decompressor resources.
func openTar(r io.Reader, format string) (*tar.Reader, func(), error) {
	if format == "deb" {
		member, name, err := debData(r)
		if err != nil {
			return nil, nil, err
		}
		dr, closeFn, err := decompress(member)
		if err != nil {
			return nil, nil, fmt.Errorf("reading %s: %w", name, err)
		}
		return tar.NewReader(dr), closeFn, nil
	}
	dr, closeFn, err := decompress(r)
	if err != nil {
		return nil, nil, err
	}
	return tar.NewReader(dr), closeFn, nil
}

// decompress sniffs the compression of r by its magic bytes: gzip, xz,
// zstd, bzip2, or none (a plain tar, recognised by "ustar" at offset 257).
func decompress(r io.Reader) (io.Reader, func(), error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(262)
	noop := func() {}
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("opening gzip stream: %w", err)
		}
		return zr, func() { zr.Close() }, nil
	case bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}):
		xr, err := xz.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("opening xz stream: %w", err)
		}
		return xr, noop, nil
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderMaxWindow(zstdMaxWindow), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, nil, fmt.Errorf("opening zstd stream: %w", err)
		}
		return zr, zr.Close, nil
	case bytes.HasPrefix(head, []byte("BZh")):
		return bzip2.NewReader(br), noop, nil
	case len(head) >= 262 && string(head[257:262]) == "ustar":
		return br, noop, nil
	}
	return nil, nil, fmt.Errorf("%w: not a tar archive (plain, gzip, xz, zstd or bzip2)", ErrUnsupported)
}

// debData walks the ar archive of a Debian package and returns a reader
// positioned at its data.tar.* member, with the member's name.
func debData(r io.Reader) (io.Reader, string, error) {
	ar, err := newArReader(r)
	if err != nil {
		return nil, "", err
	}
	for {
		name, err := ar.Next()
		if errors.Is(err, io.EOF) {
			return nil, "", fmt.Errorf("%w: Debian package has no data.tar member", ErrUnsupported)
		}
		if err != nil {
			return nil, "", err
		}
		if strings.HasPrefix(name, "data.tar") {
			return ar, name, nil
		}
	}
}

// arReader reads the common ("!<arch>\n") ar format that dpkg writes: 60-byte
// member headers, data padded to an even length. It does not resolve GNU
// long-name tables, which Debian packages never use.
type arReader struct {
	r         *bufio.Reader
	remaining int64 // bytes left in the current member
	pad       bool  // a padding byte follows the current member
}

const arMagic = "!<arch>\n"

func newArReader(r io.Reader) (*arReader, error) {
	br := bufio.NewReader(r)
	magic := make([]byte, len(arMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != arMagic {
		return nil, fmt.Errorf("%w: not an ar archive (Debian package)", ErrUnsupported)
	}
	return &arReader{r: br}, nil
}

// Next skips what is left of the current member and reads the next header.
func (a *arReader) Next() (string, error) {
	skip := a.remaining
	if a.pad {
		skip++
	}
	if _, err := io.CopyN(io.Discard, a.r, skip); err != nil {
		return "", fmt.Errorf("skipping ar member: %w", unexpected(err))
	}
	a.remaining, a.pad = 0, false
	var hdr [60]byte
	n, err := io.ReadFull(a.r, hdr[:])
	if n == 0 && errors.Is(err, io.EOF) {
		return "", io.EOF
	}
	if err != nil {
		return "", fmt.Errorf("reading ar header: %w", unexpected(err))
	}
	if string(hdr[58:60]) != "`\n" {
		return "", fmt.Errorf("%w: bad ar member header", ErrUnsupported)
	}
	size, err := strconv.ParseInt(strings.TrimSpace(string(hdr[48:58])), 10, 64)
	if err != nil || size < 0 {
		return "", fmt.Errorf("%w: bad ar member size %q", ErrUnsupported, hdr[48:58])
	}
	a.remaining, a.pad = size, size%2 == 1
	name := strings.TrimSpace(string(hdr[0:16]))
	return strings.TrimSuffix(name, "/"), nil
}

// Read reads from the current member.
func (a *arReader) Read(p []byte) (int, error) {
	if a.remaining == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > a.remaining {
		p = p[:a.remaining]
	}
	n, err := a.r.Read(p)
	a.remaining -= int64(n)
	if errors.Is(err, io.EOF) && a.remaining > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
