package api

import "testing"

func TestAttachPayloads(t *testing.T) {
	if r, c, err := DecodeResize(EncodeResize(40, 132)); r != 40 || c != 132 || err != nil {
		t.Errorf("resize: %d %d %v", r, c, err)
	}
	if s, err := DecodeSignal(EncodeSignal(2)); s != 2 || err != nil {
		t.Errorf("signal: %d %v", s, err)
	}
	for _, code := range []int{0, 5, 130, -1} {
		if got, err := DecodeExit(EncodeExit(code)); got != code || err != nil {
			t.Errorf("exit %d: %d %v", code, got, err)
		}
	}
	for _, p := range [][]byte{nil, {1, 2, 3}} {
		if _, _, err := DecodeResize(p); err == nil {
			t.Errorf("resize %v accepted", p)
		}
		if _, err := DecodeExit(p); err == nil {
			t.Errorf("exit %v accepted", p)
		}
	}
	if got := VMExecAttachPath("a b"); got != "/v1/vms/a%20b/exec/attach" {
		t.Errorf("path %q", got)
	}
}
