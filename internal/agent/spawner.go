package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// DefaultPath is the PATH used to find a command when the environment has none
// (the kernel starts init without PATH).
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Process is a process ready to start: the server has resolved the user, the
// executable and the environment, and opened the stdio files.
type Process struct {
	// Path is the executable, already looked up.
	Path string
	Argv []string
	Env  []string
	Dir  string
	// Credential is the user to run as; nil keeps the spawner's own.
	Credential *syscall.Credential
	// Stdin, Stdout and Stderr are the child's ends: pipes, or the terminal.
	Stdin, Stdout, Stderr *os.File
	// TTY reports that the stdio files are a terminal, which must become the
	// child's controlling terminal.
	TTY bool
}

// SysProcAttr returns the attributes the child needs: a new session with the
// terminal as controlling tty (fd 0) for TTY, else a new process group, so a
// signal can reach everything the process started; plus the credential.
func (p *Process) SysProcAttr() *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Credential: p.Credential}
	if p.TTY {
		a.Setsid, a.Setctty, a.Ctty = true, true, 0
	} else {
		a.Setpgid = true
	}
	return a
}

// ProcAttr returns the attributes for syscall.ForkExec(p.Path, p.Argv, attr).
func (p *Process) ProcAttr() *syscall.ProcAttr {
	return &syscall.ProcAttr{
		Dir:   p.Dir,
		Env:   p.Env,
		Files: []uintptr{p.Stdin.Fd(), p.Stdout.Fd(), p.Stderr.Fd()},
		Sys:   p.SysProcAttr(),
	}
}

// Spawner starts processes for the server. The guest's PID 1 supplies one
// built on its single wait4 reaper (see ForkSpawner); ExecSpawner serves tests
// and programs that are not PID 1.
type Spawner interface {
	// Spawn starts p and returns its pid. Once the process has been reaped,
	// exited is called exactly once, from any goroutine. Spawn must not keep
	// the stdio files: the server closes its copies when Spawn returns.
	Spawn(p *Process, exited func(ExitStatus)) (pid int, err error)
}

// ExecSpawner starts processes with os/exec and waits for each in its own
// goroutine. Do not use it in a process that also reaps with wait4(-1).
type ExecSpawner struct{}

// Spawn implements Spawner.
func (ExecSpawner) Spawn(p *Process, exited func(ExitStatus)) (int, error) {
	cmd := &exec.Cmd{
		Path: p.Path, Args: p.Argv, Env: p.Env, Dir: p.Dir,
		Stdin: p.Stdin, Stdout: p.Stdout, Stderr: p.Stderr,
		SysProcAttr: p.SysProcAttr(),
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	go func() {
		err := cmd.Wait()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			exited(ExitStatus{Code: 255})
			return
		}
		exited(StatusFromProcessState(cmd.ProcessState))
	}()
	return cmd.Process.Pid, nil
}

// LookPath finds file like a shell would, in the PATH of env (DefaultPath if
// env has none) rather than in the caller's own environment. A name holding a
// slash is used as it is, relative to dir when not absolute.
func LookPath(file string, env []string, dir string) (string, error) {
	if strings.Contains(file, "/") {
		p := file
		if !filepath.IsAbs(p) && dir != "" {
			p = filepath.Join(dir, p)
		}
		if err := checkExecutable(p); err != nil {
			return "", fmt.Errorf("finding %s: %w", file, err)
		}
		return file, nil
	}
	path, ok := envValue(env, "PATH")
	if !ok {
		path = DefaultPath
	}
	for _, d := range filepath.SplitList(path) {
		if d == "" {
			d = "."
		}
		p := filepath.Join(d, file)
		if checkExecutable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("finding %s in PATH %q: %w", file, path, fs.ErrNotExist)
}

func checkExecutable(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if st.IsDir() || st.Mode().Perm()&0o111 == 0 {
		return fs.ErrPermission
	}
	return nil
}

// envValue returns the last value of key in env, as getenv does in libc.
func envValue(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v, true
		}
	}
	return "", false
}
