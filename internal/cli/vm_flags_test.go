package cli

import (
	"testing"

	"github.com/banger-dev/banger/internal/api"
)

func TestParsePort(t *testing.T) {
	if p, err := parsePort("8080:80"); err != nil || p != (api.PortForward{Host: 8080, Guest: 80}) {
		t.Errorf("8080:80 = %+v, %v", p, err)
	}
	for _, bad := range []string{"", "80", "a:b", "0:80", "80:70000", "1:2:3"} {
		if _, err := parsePort(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestProcessExit(t *testing.T) {
	if processExit(0) != nil {
		t.Error("exit 0 is an error")
	}
	for in, want := range map[int]int{7: 7, 137: 137, -1: 1} {
		code, ok := exitCodeOf(processExit(in))
		if !ok || code != want {
			t.Errorf("processExit(%d) → %d, %v; want %d", in, code, ok, want)
		}
	}
}
