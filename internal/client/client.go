// Package client talks to the banger daemon over its Unix socket. The zero
// Client works: it finds the socket from the XDG environment.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"

	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/errdefs"
	"github.com/banger-dev/banger/internal/paths"
)

// Client is a daemon API client. Do not copy a Client after first use.
type Client struct {
	// SocketPath is the daemon's socket; empty means paths.FromEnv(os.Getenv).SocketPath().
	SocketPath string

	once    sync.Once
	http    *http.Client
	sock    string
	initErr error
}

// dialError marks a failure to reach the socket at all.
type dialError struct{ err error }

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

func (c *Client) init() error {
	c.once.Do(func() {
		c.sock = c.SocketPath
		if c.sock == "" {
			layout, err := paths.FromEnv(os.Getenv)
			if err != nil {
				c.initErr = err
				return
			}
			c.sock = layout.SocketPath()
		}
		var d net.Dialer
		c.http = &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				conn, err := d.DialContext(ctx, "unix", c.sock)
				if err != nil {
					return nil, &dialError{err}
				}
				return conn, nil
			},
			MaxIdleConnsPerHost: 4,
		}}
	})
	return c.initErr
}

// send issues a request with an optional JSON body and returns the response
// if its status is 2xx; otherwise it decodes the api.Error body.
func (c *Client) send(ctx context.Context, method, path string, in any) (*http.Response, error) {
	if err := c.init(); err != nil {
		return nil, err
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encoding request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://banger"+path, body)
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", api.ContentTypeJSON)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if de := (*dialError)(nil); errors.As(err, &de) {
			return nil, errdefs.Newf(errdefs.ErrUnavailable, "daemon is not running (no answer on %s)", c.sock)
		}
		if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
			// A daemon that was exiting (or was killed) while we connected.
			return nil, errdefs.Newf(errdefs.ErrUnavailable, "daemon went away (%v)", err)
		}
		return nil, fmt.Errorf("calling banger daemon: %w", err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	var e api.Error
	if err := json.NewDecoder(io.LimitReader(resp.Body, api.MaxBodyBytes)).Decode(&e); err != nil {
		e.Message = fmt.Sprintf("daemon answered %s", resp.Status)
	}
	return nil, e.Err(resp.StatusCode)
}

// Do performs a plain JSON request: in (may be nil) is the body, out (may be
// nil) receives the decoded response.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	resp, err := c.send(ctx, method, path, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decoding daemon response: %w", err)
	}
	return nil
}
