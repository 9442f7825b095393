package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/errdefs"
)

// jsonFunc handles a plain request; its result is written as JSON (nil
// means an empty object).
type jsonFunc func(r *http.Request) (any, error)

// streamFunc handles a long operation, reporting through progress; its
// result ends the stream.
type streamFunc func(r *http.Request, progress api.ProgressFunc) (any, error)

// jsonHandler adapts fn: it waits for readiness, bounds the body and maps
// errors to statuses.
func (d *Daemon) jsonHandler(fn jsonFunc) http.Handler {
	return d.guard(func(w http.ResponseWriter, r *http.Request) {
		result, err := fn(r)
		if err != nil {
			d.writeError(w, r, err)
			return
		}
		if result == nil {
			result = struct{}{}
		}
		writeJSON(w, http.StatusOK, result)
	})
}

// streamHandler adapts fn to an NDJSON progress stream (see newEventStream).
func (d *Daemon) streamHandler(fn streamFunc) http.Handler {
	return d.guard(func(w http.ResponseWriter, r *http.Request) {
		s := newEventStream(w, r, d.cfg.Hooks.Progress)
		result, err := fn(r, s.progress)
		var raw []byte
		if err == nil {
			raw, err = json.Marshal(result)
		}
		if err != nil {
			d.log.Warn("operation failed", "method", r.Method, "path", r.URL.Path, "err", err)
			if !s.started() {
				d.writeError(w, r, err)
				return
			}
			body, _ := api.ErrorBody(err)
			s.send(api.Event{Type: api.EventError, Error: &body})
			return
		}
		s.send(api.Event{Type: api.EventResult, Result: raw})
	})
}

// guard makes a request wait until the daemon is ready, and bounds its body.
func (d *Daemon) guard(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.log.Debug("request", "method", r.Method, "path", r.URL.Path)
		select {
		case <-d.ready:
		case <-d.failed:
			d.writeError(w, r, errdefs.Newf(errdefs.ErrUnavailable, "the daemon did not start: %v", d.startErr))
			return
		case <-r.Context().Done():
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, api.MaxBodyBytes)
		next(w, r)
	})
}

// decodeBody decodes the JSON request body into v, rejecting unknown
// fields, trailing data and oversized bodies as errdefs.ErrInvalid.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("unexpected data after the JSON object")
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		err = fmt.Errorf("body exceeds %d bytes", tooBig.Limit)
	}
	if err != nil {
		return errdefs.Newf(errdefs.ErrInvalid, "decoding request body: %w", err)
	}
	return nil
}

func (d *Daemon) writeError(w http.ResponseWriter, r *http.Request, err error) {
	body, status := api.ErrorBody(err)
	if status >= 500 {
		d.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", api.ContentTypeJSON)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
