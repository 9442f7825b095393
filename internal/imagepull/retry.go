package imagepull

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// RetryPolicy bounds retries. The zero value means: 5 attempts, backoff
// from 500ms doubling up to 8s, and a 429 Retry-After honoured up to 60s.
type RetryPolicy struct {
	Attempts      int           // total attempts per request or download
	Initial       time.Duration // first backoff
	Max           time.Duration // backoff cap
	MaxRetryAfter time.Duration // longest Retry-After worth waiting for
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Attempts <= 0 {
		p.Attempts = 5
	}
	if p.Initial <= 0 {
		p.Initial = 500 * time.Millisecond
	}
	if p.Max <= 0 {
		p.Max = 8 * time.Second
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = 60 * time.Second
	}
	return p
}

// backoff is the wait before attempt n+1 (n counts from 1).
func (p RetryPolicy) backoff(n int) time.Duration {
	d := p.Initial
	for i := 1; i < n && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retryTransport retries idempotent requests on 5xx, 408, 429 (honouring
// Retry-After) and broken connections. It sits below ggcr's auth, so token
// requests are retried too. After the last 429 it returns a RateLimitError.
type retryTransport struct {
	inner  http.RoundTripper
	policy RetryPolicy
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if (req.Method != http.MethodGet && req.Method != http.MethodHead) || (req.Body != nil && req.Body != http.NoBody) {
		return t.inner.RoundTrip(req)
	}
	for attempt := 1; ; attempt++ {
		resp, err := t.inner.RoundTrip(req)
		wait, retry := t.decide(attempt, resp, err)
		if !retry {
			if resp != nil && resp.StatusCode == http.StatusTooManyRequests {
				discard(resp)
				return nil, &RateLimitError{Host: req.URL.Host, RetryAfter: retryAfter(resp)}
			}
			return resp, err
		}
		if resp != nil {
			discard(resp)
		}
		if err := sleep(req.Context(), wait); err != nil {
			return nil, err
		}
	}
}

func discard(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// decide says whether to retry after attempt, and how long to wait first.
func (t *retryTransport) decide(attempt int, resp *http.Response, err error) (time.Duration, bool) {
	last := attempt >= t.policy.Attempts
	switch {
	case err != nil:
		return t.policy.backoff(attempt), !last && retryableErr(err)
	case resp.StatusCode == http.StatusTooManyRequests:
		ra := retryAfter(resp)
		if ra > t.policy.MaxRetryAfter {
			return 0, false
		}
		return max(ra, t.policy.backoff(attempt)), !last
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
		return t.policy.backoff(attempt), !last
	}
	return 0, false
}

// retryAfter parses a Retry-After header given in seconds or as a date.
func retryAfter(resp *http.Response) time.Duration {
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(time.Until(at), 0)
	}
	return 0
}

// retryableErr reports whether a transport or stream error is worth another
// attempt: broken connections and temporary registry errors, not TLS, DNS,
// refused connections or cancellation.
func retryableErr(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var te *transport.Error
	if errors.As(err, &te) {
		return te.Temporary() && te.StatusCode != http.StatusTooManyRequests
	}
	var netErr net.Error
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) ||
		(errors.As(err, &netErr) && netErr.Timeout())
}
