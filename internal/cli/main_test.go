package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// mainEnv makes the test binary behave as the banger binary, so the
// daemon auto-start can launch it ("banger daemon run") as a subprocess.
const mainEnv = "BANGER_CLI_TEST_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := Run(ctx, Env{Args: os.Args[1:], Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// bangerBinary is the binary auto-start launches: the real one when the
// Makefile built it ($BANGER_BIN_DIR/banger), else this test binary, which
// TestMain turns into banger.
func bangerBinary() string {
	if dir := os.Getenv("BANGER_BIN_DIR"); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "banger")); err == nil {
			return filepath.Join(dir, "banger")
		}
	}
	return os.Args[0]
}

// testEnv is an isolated banger environment: fresh HOME and XDG
// directories, with this test binary standing in for banger.
type testEnv struct {
	root    string
	environ []string
}

func newTestEnv(t *testing.T, extra ...string) *testEnv {
	t.Helper()
	root, err := os.MkdirTemp("", "bgc") // short: socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	var environ []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "XDG_") && !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "BANGER_") {
			environ = append(environ, kv)
		}
	}
	environ = append(environ, "HOME="+root, "XDG_RUNTIME_DIR="+filepath.Join(root, "run"), mainEnv+"=1")
	te := &testEnv{root: root, environ: append(environ, extra...)}
	t.Cleanup(func() {
		te.run(t, "daemon", "stop")
		os.RemoveAll(root)
	})
	return te
}

// run runs banger in-process and returns stdout, stderr and the exit status.
func (te *testEnv) run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), Env{
		Args: args, Stdout: &stdout, Stderr: &stderr, Environ: te.environ, Executable: bangerBinary(),
	})
	return stdout.String(), stderr.String(), code
}

// ok runs banger and fails the test unless it exits 0.
func (te *testEnv) ok(t *testing.T, args ...string) string {
	t.Helper()
	stdout, stderr, code := te.run(t, args...)
	if code != 0 {
		t.Fatalf("banger %s: exit %d\n%s", strings.Join(args, " "), code, stderr)
	}
	return stdout
}

// fails runs banger, expects exit 1 and returns stderr.
func (te *testEnv) fails(t *testing.T, args ...string) string {
	t.Helper()
	stdout, stderr, code := te.run(t, args...)
	if code != 1 {
		t.Fatalf("banger %s: exit %d, want 1\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, stdout, stderr)
	}
	return stderr
}

func (te *testEnv) stateDir() string { return filepath.Join(te.root, ".local", "state", "banger") }

func (te *testEnv) socket() string { return filepath.Join(te.root, "run", "banger", "bangerd.sock") }

// mkExt4 creates an ext4 image file of the given size (e.g. "64M").
func mkExt4(t *testing.T, path, size string) {
	t.Helper()
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		t.Skip("mkfs.ext4 not found: install the Debian package e2fsprogs")
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", path, size).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
}
