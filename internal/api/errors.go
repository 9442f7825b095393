package api

import (
	"errors"
	"net/http"

	"github.com/banger-dev/banger/internal/errdefs"
)

// Error is the body of a failed response and the payload of an error event.
type Error struct {
	// Message is the full error text, shown to the user as is.
	Message string `json:"message"`
	// Kind is the error category ("not_found", …); empty for internal errors.
	Kind string `json:"kind,omitempty"`
}

// kindOf returns the wire name and HTTP status of an error category.
func kindOf(c errdefs.Category) (string, int) {
	switch c {
	case errdefs.ErrNotFound:
		return "not_found", http.StatusNotFound
	case errdefs.ErrExists:
		return "exists", http.StatusConflict
	case errdefs.ErrConflict:
		return "conflict", http.StatusConflict
	case errdefs.ErrInvalid:
		return "invalid", http.StatusBadRequest
	case errdefs.ErrUnavailable:
		return "unavailable", http.StatusServiceUnavailable
	case errdefs.ErrCanceled:
		return "canceled", 499 // client closed request (nginx's convention)
	}
	return "", http.StatusInternalServerError
}

// ErrorBody converts err to its wire form and HTTP status.
func ErrorBody(err error) (Error, int) {
	kind, status := kindOf(errdefs.CategoryOf(err))
	return Error{Message: err.Error(), Kind: kind}, status
}

// Err turns a wire error back into a Go error matching its category (by
// Kind, or by the HTTP status when Kind is absent) with the same message.
func (e Error) Err(status int) error {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(status)
	}
	for _, c := range errdefs.Categories() {
		kind, st := kindOf(c)
		if e.Kind == kind || (e.Kind == "" && st == status && c != errdefs.ErrConflict) {
			return errdefs.Newf(c, "%s", msg)
		}
	}
	return errors.New(msg)
}
