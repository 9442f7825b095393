// Package errdefs defines the few error categories banger's API carries
// across the daemon socket: every error a caller may act on is wrapped, where
// it starts, with one of these sentinels, so that errors.Is works on both
// sides of the socket.
package errdefs

import (
	"context"
	"errors"
	"fmt"
)

// Category is an error class. Its values are constants, so no caller can
// replace a sentinel.
type Category string

// Error returns the category's short description.
func (c Category) Error() string { return string(c) }

// The categories. Anything else is an internal error.
const (
	// ErrNotFound: the named object (image, kernel, file) does not exist.
	ErrNotFound Category = "not found"
	// ErrExists: an object with that name already exists.
	ErrExists Category = "already exists"
	// ErrInvalid: the request or its input is malformed or unacceptable.
	ErrInvalid Category = "invalid argument"
	// ErrUnavailable: the daemon (or a resource it needs) cannot be reached.
	ErrUnavailable Category = "unavailable"
	// ErrConflict: the object is busy or in a state that forbids the request.
	ErrConflict Category = "conflict"
	// ErrCanceled: the operation was canceled before it finished.
	ErrCanceled Category = "canceled"
)

// Categories lists every category, for mapping tables.
func Categories() []Category {
	return []Category{ErrNotFound, ErrExists, ErrInvalid, ErrUnavailable, ErrConflict, ErrCanceled}
}

// categorized is an error whose message is its own but which matches a category.
type categorized struct {
	cat   Category
	msg   string
	cause error
}

func (e *categorized) Error() string        { return e.msg }
func (e *categorized) Unwrap() error        { return e.cause }
func (e *categorized) Is(target error) bool { return target == e.cat }

// Newf formats a message (with %w support) and tags it with cat:
// Newf(ErrNotFound, "image %q not found", name) prints `image "x" not found`
// and matches errors.Is(err, ErrNotFound).
func Newf(cat Category, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &categorized{cat: cat, msg: err.Error(), cause: errors.Unwrap(err)}
}

// Wrap tags err with cat, keeping err's message and chain. Wrap(cat, nil) is nil.
func Wrap(cat Category, err error) error {
	if err == nil {
		return nil
	}
	return &categorized{cat: cat, msg: err.Error(), cause: err}
}

// CategoryOf returns the category err matches, or "" for an uncategorized
// error. Context cancellation and deadlines count as ErrCanceled.
func CategoryOf(err error) Category {
	if err == nil {
		return ""
	}
	for _, c := range Categories() {
		if errors.Is(err, c) {
			return c
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return ErrCanceled
	}
	return ""
}
