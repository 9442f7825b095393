package imagepull

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// TestOpenLayerFileTruncated: a layer cut short must read as an error, not
// as a clean (and silently short) end.
func TestOpenLayerFileTruncated(t *testing.T) {
	data := bytes.Repeat([]byte("banger layer bytes\n"), 200000) // ~3.8 MB, several read-ahead chunks
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(data)
	zw.Close()
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		blob    []byte
		wantErr bool
	}{
		{"whole", gz.Bytes(), false},
		{"truncated", gz.Bytes()[:gz.Len()/2], true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			if err := os.WriteFile(p, tc.blob, 0o644); err != nil {
				t.Fatal(err)
			}
			rc, err := OpenLayerFile(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			switch {
			case tc.wantErr && !errors.Is(err, io.ErrUnexpectedEOF):
				t.Fatalf("read %d bytes of a truncated layer, err = %v; want io.ErrUnexpectedEOF", len(got), err)
			case !tc.wantErr && (err != nil || !bytes.Equal(got, data)):
				t.Fatalf("read %d of %d bytes, err = %v", len(got), len(data), err)
			}
		})
	}
}

// TestReadAheadCloseEarly: closing before the end stops the producer.
func TestReadAheadCloseEarly(t *testing.T) {
	ra := newReadAhead(io.LimitReader(zeroReader{}, 64<<20))
	buf := make([]byte, 1000)
	if _, err := ra.Read(buf); err != nil {
		t.Fatal(err)
	}
	ra.Close()
	ra.Close() // twice is fine
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }
