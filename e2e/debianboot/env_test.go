package debianboot

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// cliTimeout bounds one CLI run; a TCG boot on a loaded machine can take
// tens of seconds, a hang must still fail the test.
const cliTimeout = 4 * time.Minute

// bangerEnv is one isolated banger installation: its own HOME and XDG
// directories under a short temp root (socket paths hold 108 bytes).
type bangerEnv struct {
	root    string
	environ []string
	timeout time.Duration // per command; cliTimeout when zero
}

func newEnv(t *testing.T) *bangerEnv {
	t.Helper()
	root, err := os.MkdirTemp("", "bgd")
	if err != nil {
		t.Fatal(err)
	}
	var environ []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k != "HOME" && k != "DOCKER_CONFIG" && !strings.HasPrefix(k, "XDG_") && !strings.HasPrefix(k, "BANGER_") {
			environ = append(environ, kv)
		}
	}
	for _, d := range []string{"home", "docker", "run"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	environ = append(environ,
		"HOME="+filepath.Join(root, "home"),
		"DOCKER_CONFIG="+filepath.Join(root, "docker"),
		"XDG_STATE_HOME="+filepath.Join(root, "state"),
		"XDG_CACHE_HOME="+filepath.Join(root, "cache"),
		"XDG_RUNTIME_DIR="+filepath.Join(root, "run"),
		"BANGER_INIT="+suite.init)
	e := &bangerEnv{root: root, environ: environ}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, suite.bin, "daemon", "stop")
		cmd.Env = e.environ
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("daemon stop: %v: %s", err, out)
		}
		if err := os.RemoveAll(root); err != nil {
			t.Logf("removing %s: %v", root, err)
		}
	})
	return e
}

// run runs banger and returns its stdout, stderr and exit code.
func (e *bangerEnv) run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	limit := cliTimeout
	if e.timeout > 0 {
		limit = e.timeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, suite.bin, args...)
	cmd.Env = e.environ
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("banger %s did not finish within %s\nstdout: %s\nstderr: %s", strings.Join(args, " "), limit, out.String(), errb.String())
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("running banger %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errb.String(), code
}

// ok runs banger, fails the test unless it exits 0, and returns its stdout.
func (e *bangerEnv) ok(t *testing.T, args ...string) string {
	t.Helper()
	stdout, stderr, code := e.run(t, args...)
	if code != 0 {
		t.Fatalf("banger %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, stdout, stderr)
	}
	return stdout
}

// kernelDeb is Debian's cloud kernel package: $BANGER_TEST_KERNEL_DEB, else
// the newest in /var/cache/banger-ci; "" when there is none.
func kernelDeb() string {
	if deb := os.Getenv("BANGER_TEST_KERNEL_DEB"); deb != "" {
		return deb
	}
	m, _ := filepath.Glob("/var/cache/banger-ci/linux-image-*-cloud-amd64_*.deb")
	if len(m) == 0 {
		return ""
	}
	sort.Strings(m)
	return m[len(m)-1]
}
