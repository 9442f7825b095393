package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// helperEnv makes the test binary run a helper (see runHelper) instead of
// the tests: a child re-executed under another user id.
const helperEnv = "BANGER_E2E_HELPER"

// suite holds what TestMain prepares once for every test; it is written
// only before m.Run.
var suite struct {
	bin string // the banger binary under test
	dir string // a 0755 scratch directory for shared files
}

func TestMain(m *testing.M) {
	if h := os.Getenv(helperEnv); h != "" {
		os.Exit(runHelper(h))
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "bge2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil { // the uid-65534 helper runs from here
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	suite.dir = dir
	if suite.bin, err = bangerBinary(dir); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	return m.Run()
}

// bangerBinary returns $BANGER_BIN_DIR/banger when it exists, else builds
// ./cmd/banger into dir.
func bangerBinary(dir string) (string, error) {
	if d := os.Getenv("BANGER_BIN_DIR"); d != "" {
		p, err := filepath.Abs(filepath.Join(d, "banger"))
		if err != nil {
			return "", err
		}
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	out := filepath.Join(dir, "banger")
	cmd := exec.Command(goBin, "build", "-o", out, "./cmd/banger")
	cmd.Dir = ".." // the module root, from e2e/
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building banger: %v\n%s", err, msg)
	}
	return out, nil
}
