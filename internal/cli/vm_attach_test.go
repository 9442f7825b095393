package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// runIn runs banger in-process with stdin and returns stdout, stderr and
// the exit status.
func (te *testEnv) runIn(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), Env{Args: args, Stdin: strings.NewReader(stdin), Stdout: &stdout,
		Stderr: &stderr, Environ: te.environ, Executable: bangerBinary()})
	return stdout.String(), stderr.String(), code
}

// ptyPair opens a pseudo-terminal of rows x cols; what the slave's user
// writes collects in the returned buffer.
type ptyPair struct {
	master, slave *os.File
	mu            sync.Mutex
	out           bytes.Buffer
}

func openPty(t *testing.T, rows, cols uint16) *ptyPair {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := &ptyPair{master: m, slave: s}
	p.resize(t, rows, cols)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := m.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { s.Close(); m.Close() })
	return p
}

func (p *ptyPair) resize(t *testing.T, rows, cols uint16) {
	t.Helper()
	if err := unix.IoctlSetWinsize(int(p.slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		t.Fatal(err)
	}
}

// waitFor waits until the terminal's output contains s.
func (p *ptyPair) waitFor(t *testing.T, s string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		p.mu.Lock()
		out := p.out.String()
		p.mu.Unlock()
		if strings.Contains(out, s) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("terminal output %q lacks %q", out, s)
		}
	}
}

// runOnPty runs banger in-process with the pty's slave as its stdio and
// returns a channel with its exit status.
func (te *testEnv) runOnPty(p *ptyPair, args ...string) <-chan int {
	done := make(chan int, 1)
	go func() {
		done <- Run(context.Background(), Env{Args: args, Stdin: p.slave, Stdout: p.slave, Stderr: p.slave,
			Environ: te.environ, Executable: bangerBinary()})
	}()
	return done
}

func waitExit(t *testing.T, done <-chan int) int {
	t.Helper()
	select {
	case code := <-done:
		return code
	case <-time.After(60 * time.Second):
		t.Fatal("banger did not exit")
		return -1
	}
}

// interrupt starts the real binary with args, waits for "ready" on its
// stdout, sends it SIGINT n times (a second apart) and returns its exit
// status, its stderr and how long it took to exit after the last one.
func (te *testEnv) interrupt(t *testing.T, n int, args ...string) (int, string, time.Duration) {
	t.Helper()
	cmd := exec.Command(bangerBinary(), args...)
	cmd.Env = te.environ
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if line != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("banger %s: first line %q (%v), stderr %s", strings.Join(args, " "), line, err, stderr.String())
	}
	for i := 1; i < n; i++ {
		cmd.Process.Signal(os.Interrupt)
		time.Sleep(time.Second)
	}
	start := time.Now()
	cmd.Process.Signal(os.Interrupt)
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-exited
		t.Fatalf("banger %s ignored SIGINT; stderr %s", strings.Join(args, " "), stderr.String())
	}
	return cmd.ProcessState.ExitCode(), stderr.String(), time.Since(start)
}

// TestVMAttach boots one VM and drives vm exec's stdin, terminal and Ctrl-C
// paths through it, then boots a second in the foreground to interrupt it.
func TestVMAttach(t *testing.T) {
	te, image := vmSetup(t)
	if stderr := te.fails(t, "vm", "run", "-it", image); !strings.Contains(stderr, "needs a terminal on stdin") {
		t.Errorf("vm run -it without a terminal: %q", stderr)
	}
	te.ok(t, "image", "set-kernel", image, "cloud")
	te.ok(t, "vm", "run", "-d", "--name", "att", image, "--", "sleep", "600")

	t.Run("Stdin", func(t *testing.T) {
		if stdout, stderr, code := te.runIn(t, "hello\n", "vm", "exec", "-i", "att", "--", "cat"); code != 0 || stdout != "hello\n" {
			t.Errorf("exec -i cat: exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
		if stdout, stderr, code := te.runIn(t, "5\n", "vm", "exec", "-i", "att", "--", "sh", "-c", "read x; exit $x"); code != 5 {
			t.Errorf("exec -i read: exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
		if stdout, stderr, code := te.runIn(t, "ignored\n", "vm", "exec", "att", "--", "cat"); code != 0 || stdout != "" {
			t.Errorf("exec without -i: exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
		big := strings.Repeat("0123456789abcdef", 64<<10) // 1 MiB: several credit windows
		stdout, stderr, code := te.runIn(t, big, "vm", "exec", "-i", "att", "--", "sh", "-c", "cat; echo done >&2")
		if code != 0 || stdout != big || stderr != "done\n" {
			t.Errorf("exec -i with 1 MiB: exit %d, %d bytes out (equal: %v), stderr %q", code, len(stdout), stdout == big, stderr)
		}
	})

	t.Run("TTY", func(t *testing.T) {
		p := openPty(t, 33, 77)
		if code := waitExit(t, te.runOnPty(p, "vm", "exec", "-t", "att", "--", "sh", "-c", "tty; stty size")); code != 0 {
			t.Errorf("exec -t: exit %d", code)
		}
		p.waitFor(t, "/dev/pts/")
		p.waitFor(t, "33 77")

		// With -it the terminal is raw: Ctrl-C is a byte for the guest's
		// terminal, which interrupts the command there.
		p = openPty(t, 24, 80)
		done := te.runOnPty(p, "vm", "exec", "-it", "att", "--", "sh", "-c", "echo ready; sleep 100")
		p.waitFor(t, "ready")
		time.Sleep(300 * time.Millisecond)
		p.master.Write([]byte{3})
		if code := waitExit(t, done); code != 130 {
			t.Errorf("exec -it after Ctrl-C: exit %d", code)
		}
	})

	t.Run("TTYResizeAndStdin", func(t *testing.T) {
		p := openPty(t, 30, 90)
		done := te.runOnPty(p, "vm", "exec", "-it", "att", "--", "sh", "-c", "stty size; read x; stty size; exit 4")
		p.waitFor(t, "30 90")
		p.resize(t, 40, 100)
		syscall.Kill(os.Getpid(), syscall.SIGWINCH)
		time.Sleep(time.Second)
		p.master.Write([]byte("go\r"))
		p.waitFor(t, "40 100")
		if code := waitExit(t, done); code != 4 {
			t.Errorf("exec -it: exit %d", code)
		}
		if _, err := unix.IoctlGetTermios(int(p.slave.Fd()), unix.TCGETS); err != nil {
			t.Fatal(err)
		}
		if tio, _ := unix.IoctlGetTermios(int(p.slave.Fd()), unix.TCGETS); tio.Lflag&unix.ICANON == 0 {
			t.Error("the terminal was left in raw mode")
		}
	})

	t.Run("CtrlC", func(t *testing.T) {
		code, _, took := te.interrupt(t, 1, "vm", "exec", "att", "--", "sh", "-c", "echo ready; exec sleep 100")
		if code != 130 || took > 10*time.Second {
			t.Errorf("exec interrupted: exit %d after %v, want 130", code, took)
		}
		// SIGINT ignored in the guest: the second Ctrl-C hangs up, which
		// kills the command.
		code, stderr, took := te.interrupt(t, 2, "vm", "exec", "att", "--", "sh", "-c", "trap '' INT; echo ready; sleep 100")
		if code != 130 || took > 10*time.Second || !strings.Contains(stderr, "detached") {
			t.Errorf("exec detached: exit %d after %v, stderr %q", code, took, stderr)
		}
		time.Sleep(time.Second)
		if out := te.ok(t, "vm", "exec", "att", "--", "sh", "-c", "ps | grep -c '[s]leep 100' || true"); out != "0\n" {
			t.Errorf("the interrupted sleep is still running: %q", out)
		}
	})

	// The main process's own stdin and terminal, through the agent: one
	// boot each.
	t.Run("RunStdin", func(t *testing.T) {
		stdout, stderr, code := te.runIn(t, "hi\n", "vm", "run", "--rm", "-i", image, "--", "sh", "-c", "read x; echo got $x; exit 4")
		if code != 4 || stdout != "got hi\n" {
			t.Errorf("run -i: exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
	})

	t.Run("RunTTY", func(t *testing.T) {
		p := openPty(t, 33, 77)
		done := te.runOnPty(p, "vm", "run", "--rm", "-it", image, "--", "sh", "-c", "tty; stty size; read x; stty size; exit 4")
		p.waitFor(t, "33 77")
		p.waitFor(t, "/dev/pts/")
		p.resize(t, 40, 100)
		syscall.Kill(os.Getpid(), syscall.SIGWINCH)
		time.Sleep(time.Second)
		p.master.Write([]byte("go\r"))
		p.waitFor(t, "40 100")
		if code := waitExit(t, done); code != 4 {
			t.Errorf("run -it: exit %d", code)
		}
	})

	// vm attach to a detached run: one client at a time, Ctrl-C twice
	// detaches again, a later attach forwards stdin and gets the exit code.
	t.Run("AttachToDetachedRun", func(t *testing.T) {
		te.ok(t, "vm", "run", "-d", "-i", "--name", "bg", image, "--", "sh", "-c", "trap '' INT; echo ready; read x; echo got $x; exit 6")
		first := exec.Command(bangerBinary(), "vm", "attach", "--no-stdin", "bg")
		first.Env = te.environ
		var firstErr bytes.Buffer
		first.Stderr = &firstErr
		out, err := first.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := first.Start(); err != nil {
			t.Fatal(err)
		}
		if line, err := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
			first.Process.Kill()
			first.Wait()
			t.Fatalf("vm attach: first line %q (%v), stderr %s", line, err, firstErr.String())
		}
		if stderr := te.fails(t, "vm", "attach", "bg"); !strings.Contains(stderr, "already has a client attached") {
			t.Errorf("a second attach: %q", stderr)
		}
		first.Process.Signal(os.Interrupt) // forwarded, and ignored by the guest's sh
		time.Sleep(time.Second)
		first.Process.Signal(os.Interrupt) // detaches
		if err := first.Wait(); first.ProcessState.ExitCode() != 130 || !strings.Contains(firstErr.String(), "detached") {
			t.Errorf("vm attach after two Ctrl-C: %v, stderr %q", err, firstErr.String())
		}
		stdout, stderr, code := te.runIn(t, "hello\n", "vm", "attach", "bg")
		if code != 6 || stdout != "got hello\n" {
			t.Errorf("vm attach with stdin: exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
		if stderr := te.fails(t, "vm", "attach", "nope"); !strings.Contains(stderr, "not found") {
			t.Errorf("vm attach to no such vm: %q", stderr)
		}
	})

	// A detached run -it: attaching from a terminal takes its size and its
	// keys; without a terminal only --no-stdin attaches.
	t.Run("AttachTTY", func(t *testing.T) {
		te.ok(t, "vm", "run", "-d", "-it", "--name", "tt", image, "--", "sh", "-c", "read x; stty size; exit 3")
		if stderr := te.fails(t, "vm", "attach", "tt"); !strings.Contains(stderr, "--no-stdin") {
			t.Errorf("vm attach -it without a terminal: %q", stderr)
		}
		p := openPty(t, 41, 101)
		done := te.runOnPty(p, "vm", "attach", "tt")
		time.Sleep(time.Second)
		p.master.Write([]byte("go\r"))
		p.waitFor(t, "41 101")
		if code := waitExit(t, done); code != 3 {
			t.Errorf("vm attach -it: exit %d", code)
		}
	})

	t.Run("RunCtrlC", func(t *testing.T) {
		code, _, took := te.interrupt(t, 1, "vm", "run", "--rm", "--name", "fg", image, "--", "sh", "-c", "echo ready; exec sleep 100")
		if code != 130 || took > 15*time.Second {
			t.Errorf("run interrupted: exit %d after %v, want 130", code, took)
		}
	})
}
