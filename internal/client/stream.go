package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/banger-dev/banger/internal/api"
)

// Stream performs a long operation: it posts in, hands every progress event
// to progress (may be nil), and decodes the final result into out (may be
// nil). Canceling ctx closes the connection, which makes the daemon cancel
// and roll back the operation.
func (c *Client) Stream(ctx context.Context, method, path string, in any, progress api.ProgressFunc, out any) error {
	resp, err := c.send(ctx, method, path, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var ev api.Event
		if err := dec.Decode(&ev); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return errors.New("the daemon closed the stream before the operation finished (see the daemon log)")
			}
			return fmt.Errorf("reading progress stream: %w", err)
		}
		switch ev.Type {
		case api.EventProgress:
			if progress != nil {
				progress(ev)
			}
		case api.EventError:
			if ev.Error == nil {
				return errors.New("the daemon reported an error without a message")
			}
			return ev.Error.Err(0)
		case api.EventResult:
			if out == nil || len(ev.Result) == 0 {
				return nil
			}
			if err := json.Unmarshal(ev.Result, out); err != nil {
				return fmt.Errorf("decoding operation result: %w", err)
			}
			return nil
		}
	}
}
