package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestStaticAndSafe builds banger-init as `make build` does and checks it is
// static (the initramfs has no libc) and refuses to run outside PID 1.
func TestStaticAndSafe(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "banger-init")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("banger-init has an ELF interpreter: it is not static")
		}
	}
	st, _ := os.Stat(bin)
	t.Logf("banger-init is %d bytes", st.Size())
	out, err := exec.Command(bin).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "only as PID 1") {
		t.Errorf("running outside PID 1: %v, %q; want exit 2 and a refusal", err, out)
	}
}
