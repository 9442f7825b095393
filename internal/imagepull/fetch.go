package imagepull

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"golang.org/x/sync/errgroup"
)

// progressEvery is how many bytes pass between progress calls.
const progressEvery = 1 << 20

// copyBufSize is the chunk a download copies (and followers are woken) by.
const copyBufSize = 256 << 10

// LayerProgress reports one layer's download.
type LayerProgress struct {
	Index  int // position in Resolved.Layers
	Digest v1.Hash
	Done   int64 // bytes downloaded so far (restarts at 0 on a retry)
	Total  int64
	Cached bool // it was in the cache already
}

// FetchAll downloads the layers of res into the cache, Options.Jobs at a
// time. progress, if set, must be safe for concurrent use.
func (c *Cache) FetchAll(ctx context.Context, cl *Client, res *Resolved, progress func(LayerProgress)) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cl.opts.jobs())
	for i, b := range res.Layers {
		g.Go(func() error {
			report := func(done int64) {
				if progress != nil {
					progress(LayerProgress{Index: i, Digest: b.Digest, Done: done, Total: b.Size})
				}
			}
			if c.Has(b.Digest, b.Size) && progress != nil {
				progress(LayerProgress{Index: i, Digest: b.Digest, Done: b.Size, Total: b.Size, Cached: true})
				return nil
			}
			return c.Fetch(gctx, cl, res.Repo, b, report)
		})
	}
	return g.Wait()
}

// Fetch makes sure blob b of repo is in the cache, downloading and
// verifying it if not. progress, if set, gets the bytes done so far.
func (c *Cache) Fetch(ctx context.Context, cl *Client, repo name.Repository, b Blob, progress func(done int64)) error {
	if err := checkDigest(b.Digest); err != nil {
		return err
	}
	if progress == nil {
		progress = func(int64) {}
	}
	for {
		if c.Has(b.Digest, b.Size) {
			progress(b.Size)
			return nil
		}
		// Shared per repository: a caller pulling the same blob from another
		// repository (other credentials) waits on the digest's file lock in
		// fetchLocked instead, and never inherits this caller's auth error.
		ch := c.flight.DoChan(repo.String()+"@"+b.Digest.Hex, func() (any, error) {
			return nil, c.fetchLocked(ctx, cl, repo, b, progress)
		})
		select {
		case <-ctx.Done():
			return ctx.Err()
		case r := <-ch:
			if r.Err == nil || ctx.Err() != nil || !isCanceled(r.Err) {
				return r.Err
			}
			// The download we waited on was canceled by its own caller; try again.
		}
	}
}

func isCanceled(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// fetchLocked downloads b under the cross-process lock, with retries.
func (c *Cache) fetchLocked(ctx context.Context, cl *Client, repo name.Repository, b Blob, progress func(int64)) error {
	unlock, err := c.lock(ctx, b.Digest.Hex)
	if err != nil {
		return err
	}
	defer unlock()
	policy := cl.opts.Retry.withDefaults()
	t := target{registry: repo.RegistryStr(), repo: repo.RepositoryStr(), ident: b.Digest.String()}
	for attempt := 1; ; attempt++ {
		if c.Has(b.Digest, b.Size) {
			return nil // another process finished it
		}
		err := c.download(ctx, cl, repo, b, progress)
		if err == nil {
			return nil
		}
		// The transport already retried HTTP statuses; here only broken
		// or stalled streams are worth a fresh download.
		var status *transport.Error
		if attempt >= policy.Attempts || !retryableErr(err) || errors.As(err, &status) {
			t.hadCreds = cl.hasCredentials(repo)
			return classify(err, t)
		}
		if err := sleep(ctx, policy.backoff(attempt)); err != nil {
			return err
		}
	}
}

// download streams b into a temp file, hashing as it goes, and renames it
// into place only once digest and size check out.
func (c *Cache) download(ctx context.Context, cl *Client, repo name.Repository, b Blob, progress func(int64)) (err error) {
	f, err := os.CreateTemp(c.tmpDir(), b.Digest.Hex+".*.part")
	if err != nil {
		return fmt.Errorf("creating temp file: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	// Followers see the bytes as they land, and EOF once they are verified.
	live, endLive := c.startLive(b.Digest, f.Name())
	defer func() { endLive(err) }() // runs before the temp file goes
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	rc, err := cl.openBlob(ctx, repo, b.Digest)
	if err != nil {
		return fmt.Errorf("fetching blob %s: %w", b.Digest, err)
	}
	defer rc.Close()
	h := sha256.New()
	pw := &progressWriter{report: progress}
	var src io.Reader = newIdleReader(rc, stallTimeout, cancel)
	if b.Size > 0 {
		src = io.LimitReader(src, b.Size+1)
	}
	n, err := io.CopyBuffer(io.MultiWriter(f, h, pw, live), src, make([]byte, copyBufSize))
	pw.flush()
	if cause := context.Cause(ctx); errors.Is(cause, errStalled) {
		err = cause
	}
	if err != nil {
		return downloadError(b, err)
	}
	if err := checkDownload(b, n, h.Sum(nil)); err != nil {
		return err
	}
	live.finish(nil) // verified: followers may reach EOF while it is stored
	if err := commitFile(f, c.Path(b.Digest), 0o444); err != nil {
		return fmt.Errorf("storing blob %s: %w", b.Digest, err)
	}
	committed = true
	return nil
}

// downloadError tells ggcr's digest check apart from a broken stream.
func downloadError(b Blob, err error) error {
	if strings.Contains(err.Error(), "error verifying sha256 checksum") {
		return newError(ErrDigestMismatch, err, "blob %s from the registry does not match its digest: the registry or a proxy served wrong bytes", b.Digest)
	}
	if strings.Contains(err.Error(), "error verifying size") {
		err = fmt.Errorf("%w (%v)", io.ErrUnexpectedEOF, err)
	}
	return fmt.Errorf("downloading blob %s: %w", b.Digest, err)
}

func checkDownload(b Blob, n int64, sum []byte) error {
	switch {
	case b.Size > 0 && n < b.Size:
		return fmt.Errorf("downloading blob %s: got %d of %d bytes: %w", b.Digest, n, b.Size, io.ErrUnexpectedEOF)
	case b.Size > 0 && n > b.Size:
		return newError(ErrDigestMismatch, nil, "blob %s is longer than the %d bytes its manifest says: the registry served wrong bytes", b.Digest, b.Size)
	case hex.EncodeToString(sum) != b.Digest.Hex:
		return newError(ErrDigestMismatch, nil, "blob %s from the registry hashes to sha256:%x: the registry or a proxy served wrong bytes", b.Digest, sum)
	}
	return nil
}

// progressWriter counts bytes and reports every progressEvery of them.
type progressWriter struct {
	report   func(int64)
	n, since int64
}

func (p *progressWriter) Write(b []byte) (int, error) {
	p.n += int64(len(b))
	p.since += int64(len(b))
	if p.since >= progressEvery {
		p.flush()
	}
	return len(b), nil
}

func (p *progressWriter) flush() {
	p.since = 0
	p.report(p.n)
}

// openBlob streams a blob of repo by digest; ggcr checks the digest at EOF.
func (c *Client) openBlob(ctx context.Context, repo name.Repository, d v1.Hash) (io.ReadCloser, error) {
	l, err := c.puller.Layer(ctx, repo.Digest(d.String()))
	if err != nil {
		return nil, err
	}
	return l.Compressed()
}
