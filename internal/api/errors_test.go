package api

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/banger-dev/banger/internal/errdefs"
)

func TestErrorRoundTrip(t *testing.T) {
	for _, c := range errdefs.Categories() {
		orig := fmt.Errorf("doing x: %w", errdefs.Newf(c, "thing %q is %s", "a", c))
		body, status := ErrorBody(orig)
		back := body.Err(status)
		if !errors.Is(back, c) || back.Error() != orig.Error() {
			t.Errorf("%s: got %v (%d, %+v)", c, back, status, body)
		}
	}
}

func TestErrorStatuses(t *testing.T) {
	cases := map[error]int{
		errdefs.Newf(errdefs.ErrNotFound, "x"): http.StatusNotFound,
		errdefs.Newf(errdefs.ErrExists, "x"):   http.StatusConflict,
		errdefs.Newf(errdefs.ErrInvalid, "x"):  http.StatusBadRequest,
		errors.New("boom"):                     http.StatusInternalServerError,
	}
	for err, want := range cases {
		if _, got := ErrorBody(err); got != want {
			t.Errorf("%v: status %d, want %d", err, got, want)
		}
	}
}

func TestErrorFromStatusOnly(t *testing.T) {
	err := Error{}.Err(http.StatusNotFound)
	if !errors.Is(err, errdefs.ErrNotFound) || err.Error() != "Not Found" {
		t.Fatalf("got %v", err)
	}
	if err := (Error{Message: "boom"}).Err(500); errdefs.CategoryOf(err) != "" || err.Error() != "boom" {
		t.Fatalf("internal error got category: %v", err)
	}
}
