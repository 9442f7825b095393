package errdefs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"testing"
)

func TestNewfKeepsMessageAndCategory(t *testing.T) {
	err := Newf(ErrNotFound, "image %q not found", "x")
	if got, want := err.Error(), `image "x" not found`; got != want {
		t.Fatalf("message = %q, want %q", got, want)
	}
	if !errors.Is(err, ErrNotFound) || errors.Is(err, ErrExists) {
		t.Fatalf("category mismatch for %v", err)
	}
	wrapped := fmt.Errorf("removing image: %w", err)
	if !errors.Is(wrapped, ErrNotFound) {
		t.Fatal("category lost through fmt.Errorf wrapping")
	}
}

func TestNewfKeepsCause(t *testing.T) {
	err := Newf(ErrInvalid, "reading rootfs: %w", fs.ErrNotExist)
	if !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("want both cause and category, got %v", err)
	}
}

func TestWrap(t *testing.T) {
	if Wrap(ErrInvalid, nil) != nil {
		t.Fatal("Wrap(nil) must be nil")
	}
	base := errors.New("bad json")
	err := Wrap(ErrInvalid, base)
	if err.Error() != "bad json" || !errors.Is(err, base) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("Wrap lost something: %v", err)
	}
}

func TestCategoryOf(t *testing.T) {
	cases := map[error]Category{
		nil:                              "",
		errors.New("plain"):              "",
		Newf(ErrExists, "dup"):           ErrExists,
		fmt.Errorf("x: %w", ErrConflict): ErrConflict,
		context.Canceled:                 ErrCanceled,
		fmt.Errorf("y: %w", context.DeadlineExceeded): ErrCanceled,
	}
	for err, want := range cases {
		if got := CategoryOf(err); got != want {
			t.Errorf("CategoryOf(%v) = %q, want %q", err, got, want)
		}
	}
}
