package guestinit

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"syscall"

	"github.com/banger-dev/banger/internal/agent"
	"github.com/banger-dev/banger/internal/guestinit/vmconfig"
)

// mainProc is the started main process: its pid, its exit status once reaped,
// the output it writes (nil with the serial console as its tty, whose output
// goes straight there), and where its input goes (nil: /dev/null or the
// console). With a pseudo-terminal, pty is its master, which is both stdout
// and stdin.
type mainProc struct {
	pid            int
	exited         chan agent.ExitStatus
	stdout, stderr io.Reader
	stdin          io.WriteCloser
	pty            *os.File
}

// buildProcess resolves the image's process spec inside the switched root:
// user and groups through /etc/passwd and /etc/group, the environment
// (PATH and HOME supplied when missing, as Docker does), the working
// directory (created when missing) and the executable.
func buildProcess(cfg vmconfig.Process, hostname string) (*agent.Process, error) {
	if len(cfg.Args) == 0 {
		return nil, fmt.Errorf("starting main process: no command given")
	}
	uid, gid, groups, home, err := agent.ResolveUser("/", cfg.User)
	if err != nil {
		return nil, fmt.Errorf("resolving user %q: %w", cfg.User, err)
	}
	env := slices.Clone(cfg.Env)
	for _, kv := range []string{"PATH=" + agent.DefaultPath, "HOME=" + home, "HOSTNAME=" + hostname} {
		if !hasKey(env, kv[:strings.IndexByte(kv, '=')]) {
			env = append(env, kv)
		}
	}
	switch {
	case hasKey(env, "TERM"):
	case cfg.PTY:
		env = append(env, "TERM=xterm") // the host's terminal, whatever it is
	case cfg.TTY:
		env = append(env, "TERM=linux")
	}
	dir := cfg.WorkingDir
	if dir == "" {
		dir = "/"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating working directory %s: %w", dir, err)
	}
	p := &agent.Process{Argv: cfg.Args, Env: env, Dir: dir, TTY: cfg.TTY || cfg.PTY}
	if cfg.User != "" {
		p.Credential = &syscall.Credential{Uid: uid, Gid: gid, Groups: groups}
	}
	if p.Path, err = agent.LookPath(cfg.Args[0], env, dir); err != nil {
		return nil, err
	}
	return p, nil
}

func hasKey(env []string, key string) bool {
	return slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, key+"=") })
}

// startMain starts p through the supervisor's spawner. Without a tty, its
// stdout and stderr are pipes: each is copied to the console and offered to
// the host; its stdin is /dev/null, or a pipe for the host with cfg.Stdin.
// With cfg.PTY it gets a pseudo-terminal whose master goes to the host (and
// not to the console); with cfg.TTY alone, the serial console as its
// controlling terminal.
func startMain(sup *supervisor, p *agent.Process, cfg vmconfig.Process, console io.Writer) (*mainProc, error) {
	mp := &mainProc{exited: make(chan agent.ExitStatus, 1)}
	var closeAfter []*os.File
	if cfg.PTY {
		master, slave, err := agent.OpenPTY(cfg.Rows, cfg.Cols)
		if err != nil {
			return nil, fmt.Errorf("opening a terminal: %w", err)
		}
		p.Stdin, p.Stdout, p.Stderr = slave, slave, slave
		mp.stdout, mp.pty = master, master
		if cfg.Stdin {
			mp.stdin = master
		}
		closeAfter = append(closeAfter, slave)
	} else if p.TTY {
		tty, err := os.OpenFile("/dev/ttyS0", os.O_RDWR, 0)
		if err != nil {
			return nil, fmt.Errorf("opening the serial console: %w", err)
		}
		p.Stdin, p.Stdout, p.Stderr = tty, tty, tty
		closeAfter = append(closeAfter, tty)
	} else {
		null, err := mainStdin(cfg.Stdin, mp)
		if err != nil {
			return nil, err
		}
		outR, outW, err := teePipe(console)
		if err != nil {
			return nil, err
		}
		errR, errW, err := teePipe(console)
		if err != nil {
			return nil, err
		}
		p.Stdin, p.Stdout, p.Stderr = null, outW, errW
		mp.stdout, mp.stderr = outR, errR
		closeAfter = append(closeAfter, null, outW, errW)
	}
	pid, err := sup.spawner.Spawn(p, func(st agent.ExitStatus) { mp.exited <- st })
	for _, f := range closeAfter {
		f.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", p.Path, err)
	}
	mp.pid = pid
	sup.forwardTo(pid)
	return mp, nil
}

// mainStdin returns the child's stdin: /dev/null, or with host the read end
// of a pipe whose write end it keeps in mp.stdin.
func mainStdin(host bool, mp *mainProc) (*os.File, error) {
	if !host {
		null, err := os.Open("/dev/null")
		if err != nil {
			return nil, fmt.Errorf("opening /dev/null: %w", err)
		}
		return null, nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("creating input pipe: %w", err)
	}
	mp.stdin = w
	return r, nil
}

// teePipe returns a pipe for a child's output stream: whatever the child
// writes to w is copied to console and can be read from r. r reaches EOF once
// every copy of w is closed.
func teePipe(console io.Writer) (r *os.File, w *os.File, err error) {
	childR, childW, err := os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("creating output pipe: %w", err)
	}
	hostR, hostW, err := os.Pipe()
	if err != nil {
		childR.Close()
		childW.Close()
		return nil, nil, fmt.Errorf("creating output pipe: %w", err)
	}
	go func() {
		defer hostW.Close()
		defer childR.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := childR.Read(buf)
			if n > 0 {
				console.Write(buf[:n])
				hostW.Write(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	return hostR, childW, nil
}
