package imagepull

import (
	"context"
	"fmt"
	"io"
	"time"
)

// stallTimeout is how long a blob download may go without a byte before it
// is abandoned (and retried as a broken stream).
const stallTimeout = 60 * time.Second

// errStalled marks a download that stopped sending data.
var errStalled = fmt.Errorf("no data for %v: %w", stallTimeout, io.ErrUnexpectedEOF)

// idleReader cancels its request when no Read returns data for idle: a
// stalled body would otherwise block a pull forever, since only response
// headers have a timeout.
type idleReader struct {
	r     io.Reader
	timer *time.Timer
	idle  time.Duration
}

func newIdleReader(r io.Reader, idle time.Duration, cancel context.CancelCauseFunc) *idleReader {
	return &idleReader{r: r, idle: idle, timer: time.AfterFunc(idle, func() { cancel(errStalled) })}
}

func (r *idleReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.timer.Reset(r.idle)
	}
	if err != nil {
		r.timer.Stop()
	}
	return n, err
}
