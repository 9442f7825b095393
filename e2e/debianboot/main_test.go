package debianboot

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// suite holds the binaries TestMain prepares; written only before m.Run.
var suite struct {
	bin  string // the banger binary under test
	init string // the banger-init the daemon boots with
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "bgdeb")
	if err != nil {
		fmt.Fprintln(os.Stderr, "debianboot:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if suite.bin, suite.init, err = binaries(dir); err != nil {
		fmt.Fprintln(os.Stderr, "debianboot:", err)
		return 1
	}
	return m.Run()
}

// binaries returns banger and banger-init from $BANGER_BIN_DIR when both
// are there (what `make unit` builds), else builds them into dir.
func binaries(dir string) (bin, init string, err error) {
	if d := os.Getenv("BANGER_BIN_DIR"); d != "" {
		bin, init = filepath.Join(d, "banger"), filepath.Join(d, "banger-init")
		if exists(bin) && exists(init) {
			bin, err = filepath.Abs(bin)
			if err != nil {
				return "", "", err
			}
			init, err = filepath.Abs(init)
			return bin, init, err
		}
	}
	bin, init = filepath.Join(dir, "banger"), filepath.Join(dir, "banger-init")
	if err := goBuild(bin, "./cmd/banger"); err != nil {
		return "", "", err
	}
	if err := goBuild(init, "./cmd/banger-init", "-trimpath", "-ldflags=-s -w"); err != nil {
		return "", "", err
	}
	return bin, init, nil
}

func goBuild(out, pkg string, flags ...string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	args := append(append([]string{"build"}, flags...), "-o", out, pkg)
	cmd := exec.Command(goBin, args...)
	cmd.Dir = "../.." // the module root, from e2e/debianboot/
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s: %v\n%s", pkg, err, msg)
	}
	return nil
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }
