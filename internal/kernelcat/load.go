package kernelcat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// maxCatalogSize bounds a catalog document.
const maxCatalogSize = 4 << 20

// LoadCatalog reads the catalog named by src, as the daemon's --catalog flag
// gives it: "" is the built-in catalog; an https:// URL (or http:// on a
// loopback host) is fetched with opts' client and retries; a file:// URL or
// anything else is a local file path.
func LoadCatalog(ctx context.Context, src string, opts Options) (*Catalog, error) {
	if src == "" {
		return DefaultCatalog()
	}
	data, err := readCatalogSource(ctx, src, opts)
	if err != nil {
		return nil, fmt.Errorf("reading catalog %s: %w", src, err)
	}
	c, err := ParseCatalog(data)
	if err != nil {
		return nil, fmt.Errorf("parsing catalog %s: %w", src, err)
	}
	return c, nil
}

func readCatalogSource(ctx context.Context, src string, opts Options) ([]byte, error) {
	if !strings.Contains(src, "://") {
		return readCatalogFile(src)
	}
	if err := checkURL(src); err != nil {
		return nil, err
	}
	u, err := url.Parse(src)
	if err != nil {
		return nil, err
	}
	if u.Scheme == "file" {
		return readCatalogFile(u.Path)
	}
	client, done := opts.httpClient()
	defer done()
	var data []byte
	for attempt, wait := 0, opts.backoff(); ; attempt, wait = attempt+1, wait*2 {
		data, err = getSmall(ctx, client, src)
		if err == nil || !retryable(err) || attempt >= opts.retries() {
			return data, err
		}
		if err := sleepCtx(ctx, wait); err != nil {
			return nil, err
		}
	}
}

func readCatalogFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f)
}

func getSmall(ctx context.Context, client *http.Client, src string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, classifyTransport(ctx, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return nil, fmt.Errorf("%w: server answered %s", ErrNotFound, resp.Status)
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return nil, retryableError{fmt.Errorf("server answered %s", resp.Status)}
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("server answered %s", resp.Status)
	}
	data, err := readLimited(resp.Body)
	if err != nil && !errors.Is(err, ErrTooLarge) {
		return nil, classifyTransport(ctx, err)
	}
	return data, err
}

func readLimited(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxCatalogSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxCatalogSize {
		return nil, fmt.Errorf("%w: catalog larger than %d bytes", ErrTooLarge, maxCatalogSize)
	}
	return data, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
