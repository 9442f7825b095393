package kernelcat

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"
)

// Options tune downloads and unpacking. The zero value works.
type Options struct {
	// Client does the HTTP requests. Nil: a client with connect, TLS and
	// response-header timeouts that refuses redirects to plain http.
	Client *http.Client
	// Retries is the number of extra attempts after a 5xx answer, a broken
	// connection or a truncated body. 0 means 3; negative means none.
	Retries int
	// Backoff is the first wait between attempts, doubled each time. 0 means 500ms.
	Backoff time.Duration
	// StallTimeout aborts an attempt that receives no byte for this long.
	// 0 means 60s.
	StallTimeout time.Duration
	// Progress, when set, is called as bytes arrive with the bytes done and
	// the total of all downloads of the operation. It may go back when an
	// attempt is retried. It is called from the calling goroutine.
	Progress func(done, total int64)
	// MaxUnpacked caps the bytes one archive may unpack to. 0 means 4 GiB.
	MaxUnpacked int64
	// MaxEntries caps the entries one archive may hold. 0 means 200000.
	MaxEntries int
}

func (o Options) retries() int {
	switch {
	case o.Retries < 0:
		return 0
	case o.Retries == 0:
		return 3
	}
	return o.Retries
}

func (o Options) backoff() time.Duration    { return orDuration(o.Backoff, 500*time.Millisecond) }
func (o Options) stallAfter() time.Duration { return orDuration(o.StallTimeout, 60*time.Second) }

func (o Options) maxUnpacked() int64 {
	if o.MaxUnpacked > 0 {
		return o.MaxUnpacked
	}
	return 4 << 30
}

func (o Options) maxEntries() int {
	if o.MaxEntries > 0 {
		return o.MaxEntries
	}
	return 200000
}

func orDuration(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// httpClient returns opts.Client, or a new default client; done closes the
// default client's idle connections.
func (o Options) httpClient() (c *http.Client, done func()) {
	if o.Client != nil {
		return o.Client, func() {}
	}
	c = defaultClient()
	return c, c.CloseIdleConnections
}

func defaultClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   15 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
			IdleConnTimeout:       90 * time.Second,
			ForceAttemptHTTP2:     true,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			if req.URL.Scheme != "https" && !isLoopbackHost(req.URL.Hostname()) {
				return fmt.Errorf("refusing redirect to %s", req.URL.Redacted())
			}
			return nil
		},
	}
}

// progress adds up the bytes of all downloads of one operation.
type progress struct {
	fn          func(done, total int64)
	done, total int64
}

// fetcher carries what the downloads of one operation share.
type fetcher struct {
	opts   Options
	client *http.Client
	p      *progress
}

func (p *progress) add(n int64) {
	p.done += n
	if p.fn != nil {
		p.fn(p.done, p.total)
	}
}

// download fetches d into f (truncating it first on every attempt) and checks
// size and sha256 while the bytes stream in. On success f holds exactly the
// verified bytes; on failure its content is meaningless.
func (fe *fetcher) download(ctx context.Context, d Download, f *os.File) error {
	opts, p := fe.opts, fe.p
	wait := opts.backoff()
	var err error
	for attempt := 0; ; attempt++ {
		var n int64
		n, err = fe.fetchOnce(ctx, d, f)
		if err == nil || !retryable(err) || attempt >= opts.retries() || ctx.Err() != nil {
			break
		}
		p.add(-n)
		if err := sleepCtx(ctx, wait); err != nil {
			return fmt.Errorf("downloading %s: %w", d.URL, err)
		}
		wait *= 2
	}
	if err != nil {
		return fmt.Errorf("downloading %s: %w", d.URL, err)
	}
	return nil
}

// retryableError marks a failure worth another attempt.
type retryableError struct{ err error }

func (e retryableError) Error() string { return e.err.Error() }
func (e retryableError) Unwrap() error { return e.err }

func retryable(err error) bool {
	var r retryableError
	return errors.As(err, &r)
}

// fetchOnce runs one attempt and returns how many bytes it counted as progress.
func (fe *fetcher) fetchOnce(ctx context.Context, d Download, f *os.File) (int64, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	if err := f.Truncate(0); err != nil {
		return 0, err
	}
	u, err := url.Parse(d.URL)
	if err != nil {
		return 0, err
	}
	if u.Scheme == "file" {
		src, err := os.Open(u.Path)
		if errors.Is(err, os.ErrNotExist) {
			return 0, fmt.Errorf("%w: %v", ErrNotFound, err)
		}
		if err != nil {
			return 0, err
		}
		defer src.Close()
		return copyVerified(ctx, d, f, src, fe.p, nil)
	}
	return fe.fetchHTTP(ctx, d, f)
}

var errStalled = errors.New("no data received within the stall timeout")

func (fe *fetcher) fetchHTTP(ctx context.Context, d Download, f *os.File) (int64, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stall := fe.opts.stallAfter()
	timer := time.AfterFunc(stall, func() { cancel(errStalled) })
	defer timer.Stop()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.URL, nil)
	if err != nil {
		return 0, err
	}
	resp, err := fe.client.Do(req)
	if err != nil {
		return 0, classifyTransport(ctx, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return 0, fmt.Errorf("%w: server answered %s", ErrNotFound, resp.Status)
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return 0, retryableError{fmt.Errorf("server answered %s", resp.Status)}
	case resp.StatusCode != http.StatusOK:
		return 0, fmt.Errorf("server answered %s", resp.Status)
	}
	if resp.ContentLength >= 0 && resp.ContentLength != d.Size {
		return 0, fmt.Errorf("%w: server announces %d bytes, catalog says %d", ErrSize, resp.ContentLength, d.Size)
	}
	n, err := copyVerified(ctx, d, f, resp.Body, fe.p, func() { timer.Reset(stall) })
	if err != nil && !errors.Is(err, ErrChecksum) && !errors.Is(err, ErrSize) && !errors.Is(err, ErrTruncated) {
		err = classifyTransport(ctx, err)
	}
	return n, err
}

// classifyTransport turns a transport failure into a retryable one, unless the
// caller's context ended.
func classifyTransport(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); errors.Is(cause, errStalled) {
		return retryableError{errStalled}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return retryableError{fmt.Errorf("%w: %v", ErrTruncated, err)}
	}
	return retryableError{err}
}

// copyVerified streams src into dst, hashing as it goes, reading at most one
// byte past d.Size so an oversized body is caught without reading it all.
func copyVerified(ctx context.Context, d Download, dst io.Writer, src io.Reader, p *progress, tick func()) (int64, error) {
	h := sha256.New()
	buf := make([]byte, 256<<10)
	lr := io.LimitReader(src, d.Size+1)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		m, rerr := lr.Read(buf)
		if m > 0 {
			if tick != nil {
				tick()
			}
			if n+int64(m) > d.Size {
				return n, fmt.Errorf("%w: more than the %d bytes the catalog says", ErrSize, d.Size)
			}
			h.Write(buf[:m])
			if _, err := dst.Write(buf[:m]); err != nil {
				return n, err
			}
			n += int64(m)
			p.add(int64(m))
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return n, rerr
		}
	}
	if n < d.Size {
		return n, retryableError{fmt.Errorf("%w: got %d of %d bytes", ErrTruncated, n, d.Size)}
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != d.SHA256 {
		return n, fmt.Errorf("%w: got %s, want %s", ErrChecksum, got, d.SHA256)
	}
	return n, nil
}
