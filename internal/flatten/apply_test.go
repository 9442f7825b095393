package flatten

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

// eofReader records whether its stream was read to the end and closed.
type eofReader struct {
	r      io.Reader
	eof    bool
	closed bool
}

func (e *eofReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		e.eof = true
	}
	return n, err
}

func (e *eofReader) Close() error { e.closed = true; return nil }

func TestEveryLayerReadToEOFAndClosed(t *testing.T) {
	// Trailing zero blocks past the tar end marker stand in for the padding
	// a digest-verifying reader needs to see.
	data := append(tarBytes(t, file("a", "a")), make([]byte, 10240)...)
	var readers []*eofReader
	var layers []Layer
	for range 2 {
		er := &eofReader{r: bytes.NewReader(data)}
		readers = append(readers, er)
		layers = append(layers, Layer{Open: func(context.Context) (io.ReadCloser, error) { return er, nil }})
	}
	st, err := Apply(context.Background(), newMemSink(), layers, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, er := range readers {
		if !er.eof || !er.closed {
			t.Errorf("layer %d: eof=%v closed=%v", i, er.eof, er.closed)
		}
	}
	if st.Bytes != int64(2*len(data)) || st.Entries != 2 {
		t.Errorf("stats = %+v, want %d bytes, 2 entries", st, 2*len(data))
	}
}

func TestMaxBytes(t *testing.T) {
	big := tarBytes(t, file("big", strings.Repeat("x", 64<<10)))
	_, err := Apply(context.Background(), newMemSink(), []Layer{bytesLayer("", big)}, Options{MaxBytes: 16 << 10})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("want ErrTooLarge, got %v", err)
	}
	if !strings.Contains(err.Error(), "--max-size 16KiB") {
		t.Errorf("message does not name the limit: %v", err)
	}
	if _, err := Apply(context.Background(), newMemSink(), []Layer{bytesLayer("", big)}, Options{MaxBytes: 1 << 20}); err != nil {
		t.Fatalf("under the limit: %v", err)
	}
}

func TestContextCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Apply(ctx, newMemSink(), []Layer{bytesLayer("", tarBytes(t, file("a", "")))}, Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
}

func TestProgress(t *testing.T) {
	var ents []ent
	for i := range 600 {
		ents = append(ents, file("f"+itoa8(i+1), "x"))
	}
	var calls []Progress
	layers := []Layer{bytesLayer("", tarBytes(t, ents...)), bytesLayer("", tarBytes(t, file("z", "")))}
	st, err := Apply(context.Background(), newMemSink(), layers, Options{Progress: func(p Progress) { calls = append(calls, p) }})
	if err != nil {
		t.Fatal(err)
	}
	last := calls[len(calls)-1]
	if len(calls) < 3 || last.Layer != 1 || last.Entries != 601 || last.Bytes != st.Bytes {
		t.Fatalf("progress calls %v, stats %+v", calls, st)
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{64 << 30: "64GiB", 1536 << 20: "1.5GiB", 100: "100B"} {
		if got := HumanBytes(n); got != want {
			t.Errorf("HumanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
