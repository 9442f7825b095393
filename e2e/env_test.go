package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/model"
	"github.com/banger-dev/banger/internal/paths"
	"golang.org/x/sys/unix"
)

// cliTimeout bounds one CLI run, so a hang fails the test instead of the suite.
const cliTimeout = 2 * time.Minute

// envOptions tune newEnv; the zero value lets the CLI start the daemon.
type envOptions struct {
	// NoAutostart sets BANGER_NO_AUTOSTART=1: the test runs the daemon itself.
	NoAutostart bool
}

// bangerEnv is one isolated banger installation: its own HOME and XDG
// directories under a short temp root (socket paths hold 108 bytes).
type bangerEnv struct {
	root    string
	environ []string
	layout  paths.Layout

	mu     sync.Mutex
	daemon *daemonProc // the daemon this test runs itself, if any
}

func newEnv(t *testing.T, opts envOptions) *bangerEnv {
	t.Helper()
	root, err := os.MkdirTemp("", "bge")
	if err != nil {
		t.Fatal(err)
	}
	var environ []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k != "HOME" && k != "DOCKER_CONFIG" && k != "SSL_CERT_FILE" && !strings.HasPrefix(k, "XDG_") && !strings.HasPrefix(k, "BANGER_") {
			environ = append(environ, kv)
		}
	}
	vars := map[string]string{
		"HOME":            root,
		"XDG_STATE_HOME":  filepath.Join(root, "state"),
		"XDG_CACHE_HOME":  filepath.Join(root, "cache"),
		"XDG_RUNTIME_DIR": filepath.Join(root, "run"),
	}
	if opts.NoAutostart {
		vars["BANGER_NO_AUTOSTART"] = "1"
	}
	for k, v := range vars {
		environ = append(environ, k+"="+v)
	}
	layout, err := paths.FromEnv(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	e := &bangerEnv{root: root, environ: environ, layout: layout}
	t.Cleanup(func() {
		e.stop(t)
		if err := os.RemoveAll(root); err != nil {
			t.Logf("removing %s: %v", root, err)
		}
	})
	return e
}

// cliResult is what one banger run printed and its exit status.
type cliResult struct {
	args           []string
	stdout, stderr string
	code           int
	elapsed        time.Duration
}

func (r cliResult) String() string {
	return fmt.Sprintf("banger %s: exit %d after %s\nstdout: %s\nstderr: %s",
		strings.Join(r.args, " "), r.code, r.elapsed.Round(time.Millisecond), r.stdout, r.stderr)
}

// command prepares a banger run in the environment.
func (e *bangerEnv) command(ctx context.Context, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	cmd := exec.CommandContext(ctx, suite.bin, args...)
	cmd.Env = e.environ
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	return cmd, &stdout, &stderr
}

// run runs banger to completion.
func (e *bangerEnv) run(t testing.TB, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd, stdout, stderr := e.command(ctx, args...)
	start := time.Now()
	err := cmd.Run()
	res := cliResult{args: args, stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start)}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
	default:
		t.Fatalf("running banger %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		t.Fatalf("banger %s did not finish within %s\n%s", strings.Join(args, " "), cliTimeout, res)
	}
	return res
}

// ok runs banger and fails the test unless it exits 0.
func (e *bangerEnv) ok(t testing.TB, args ...string) cliResult {
	t.Helper()
	res := e.run(t, args...)
	if res.code != 0 {
		t.Fatalf("%s", res)
	}
	return res
}

// images lists the images through `image list --format json`.
func (e *bangerEnv) images(t testing.TB) []model.Image {
	t.Helper()
	res := e.ok(t, "image", "list", "--format", "json")
	var images []model.Image
	if err := json.Unmarshal([]byte(res.stdout), &images); err != nil {
		t.Fatalf("decoding image list: %v\n%s", err, res.stdout)
	}
	return images
}

// httpClient talks HTTP to the daemon socket directly.
func (e *bangerEnv) httpClient() *http.Client {
	sock := e.layout.SocketPath()
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
		DisableKeepAlives: true,
	}}
}

// status asks the daemon for its status; an error means it does not answer.
func (e *bangerEnv) status() (api.Status, error) {
	resp, err := e.httpClient().Get("http://banger" + api.PathStatus)
	if err != nil {
		return api.Status{}, err
	}
	defer resp.Body.Close()
	var st api.Status
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("status: HTTP %d", resp.StatusCode)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// daemonProc is a daemon the test runs as its own child (`banger daemon run`).
type daemonProc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// startDaemon runs `banger daemon run` as a child and waits until it answers.
func (e *bangerEnv) startDaemon(t testing.TB) *daemonProc {
	t.Helper()
	logf, err := os.OpenFile(filepath.Join(e.root, "daemon-run.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(suite.bin, "daemon", "run")
	cmd.Env, cmd.Dir = e.environ, "/"
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting daemon: %v", err)
	}
	d := &daemonProc{cmd: cmd, done: make(chan struct{})}
	go func() { d.err = cmd.Wait(); close(d.done) }()
	e.mu.Lock()
	e.daemon = d
	e.mu.Unlock()
	for deadline := time.Now().Add(15 * time.Second); ; {
		st, err := e.status()
		if err == nil && st.PID == cmd.Process.Pid {
			return d
		}
		select {
		case <-d.done:
			log, _ := os.ReadFile(filepath.Join(e.root, "daemon-run.log"))
			t.Fatalf("daemon exited during startup: %v\n%s", d.err, log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon did not answer within 15s (last error %v)", err)
		}
	}
}

// kill ends the daemon with SIGKILL and reaps it.
func (d *daemonProc) kill(t testing.TB) {
	t.Helper()
	d.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("daemon pid %d survived SIGKILL", d.cmd.Process.Pid)
	}
}

// stop shuts down whatever daemon serves the environment: politely
// (`daemon stop`), then, for a daemon still holding the state lock, by
// SIGKILL to the pid it wrote there (a daemon this test started through
// the CLI).
func (e *bangerEnv) stop(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	cmd, _, _ := e.command(ctx, "daemon", "stop")
	cmd.Run()
	e.mu.Lock()
	d := e.daemon
	e.daemon = nil
	e.mu.Unlock()
	if d != nil {
		select {
		case <-d.done:
		case <-time.After(5 * time.Second):
			d.kill(t)
		}
	}
	// `daemon stop` returns once the socket is gone; the process may still
	// be closing the store.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		pid := e.lockHolder()
		if pid <= 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Logf("daemon pid %d still runs 10s after `daemon stop`; killing it", pid)
			syscall.Kill(pid, syscall.SIGKILL)
			return
		}
	}
}

// lockHolder returns the pid in daemon.lock while some process holds its
// flock, else 0.
func (e *bangerEnv) lockHolder() int {
	f, err := os.OpenFile(e.layout.LockPath(), os.O_RDWR, 0)
	if err != nil {
		return 0
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err == nil {
		return 0
	}
	data, _ := os.ReadFile(e.layout.LockPath())
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid
}

// daemonLog is the daemon's own log file.
func (e *bangerEnv) daemonLog() string {
	data, _ := os.ReadFile(e.layout.LogPath())
	return string(data)
}
