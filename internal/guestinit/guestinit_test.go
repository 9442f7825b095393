package guestinit

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/banger-dev/banger/internal/guestinit/vmconfig"
	"golang.org/x/sys/unix"
)

// These run on the host; the guest behaviour (mounts, netlink, reaping,
// power-off) is covered by the boot suite in internal/vmm/vmmtest.

func TestBuildProcess(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "made", "here")
	p, err := buildProcess(vmconfig.Process{Args: []string{"sh", "-c", "true"}, Env: []string{"A=1", "HOME=/custom"},
		WorkingDir: dir, User: "root"}, "box")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(p.Path, "/sh") || !filepath.IsAbs(p.Path) {
		t.Errorf("path %q not resolved through PATH", p.Path)
	}
	for _, want := range []string{"A=1", "HOME=/custom", "HOSTNAME=box"} {
		if !slices.Contains(p.Env, want) {
			t.Errorf("env %v lacks %s", p.Env, want)
		}
	}
	if !hasKey(p.Env, "PATH") || slices.Contains(p.Env, "HOME=/root") {
		t.Errorf("env %v: want a default PATH and the given HOME kept", p.Env)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() || p.Dir != dir {
		t.Errorf("working dir %q not created (%v)", p.Dir, err)
	}
	if p.Credential == nil || p.Credential.Uid != 0 || p.TTY {
		t.Errorf("credential %+v tty %v", p.Credential, p.TTY)
	}
	p, err = buildProcess(vmconfig.Process{Args: []string{"true"}, TTY: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	if p.Dir != "/" || p.Credential != nil || !slices.Contains(p.Env, "TERM=linux") {
		t.Errorf("defaults: dir %q credential %+v env %v", p.Dir, p.Credential, p.Env)
	}
	p, err = buildProcess(vmconfig.Process{Args: []string{"true"}, PTY: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	if !p.TTY || !slices.Contains(p.Env, "TERM=xterm") {
		t.Errorf("pty: tty %v env %v", p.TTY, p.Env)
	}
}

func TestBuildProcessErrors(t *testing.T) {
	_, err := buildProcess(vmconfig.Process{Args: []string{"no-such-command-here"}}, "")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing command: %v, want fs.ErrNotExist (reported as 127)", err)
	}
	if _, err := buildProcess(vmconfig.Process{}, ""); err == nil {
		t.Error("empty argv accepted")
	}
	if _, err := buildProcess(vmconfig.Process{Args: []string{"true"}, User: "no-such-user-here"}, ""); err == nil {
		t.Error("unknown user accepted")
	}
}

func TestForwardable(t *testing.T) {
	for _, s := range []syscall.Signal{unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGUSR1, unix.SIGWINCH, unix.SIGQUIT} {
		if !forwardable(s) {
			t.Errorf("%v not forwarded", s)
		}
	}
	for _, s := range []syscall.Signal{unix.SIGCHLD, unix.SIGURG, unix.SIGPIPE, unix.SIGSEGV} {
		if forwardable(s) {
			t.Errorf("%v forwarded", s)
		}
	}
}

func TestAttr(t *testing.T) {
	b := attr(unix.RTA_OIF, []byte{1, 2, 3, 4, 5})
	if len(b) != 12 || b[0] != 9 || b[2] != unix.RTA_OIF {
		t.Errorf("attr = %v, want length 9 padded to 12", b)
	}
}
