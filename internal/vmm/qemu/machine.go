package qemu

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/banger-dev/banger/internal/vmm"
)

// machine is one running QEMU process.
type machine struct {
	cmd     *exec.Cmd
	spec    vmm.Spec
	agentLn *net.UnixListener
	done    chan struct{}
	waitErr error
}

func listenAgent(path string) (*net.UnixListener, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("removing stale agent socket: %w", err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listening on agent socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("listening on agent socket: %w", err)
	}
	return ln, nil
}

func startProcess(ctx context.Context, bin string, argv []string, spec vmm.Spec, ln *net.UnixListener) (*machine, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	logf, err := os.Create(logPath(spec))
	if err != nil {
		return nil, fmt.Errorf("creating qemu log: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, argv...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting qemu: %w", err)
	}
	m := &machine{cmd: cmd, spec: spec, agentLn: ln, done: make(chan struct{})}
	go m.reap()
	return m, nil
}

func (m *machine) reap() {
	err := m.cmd.Wait()
	if err != nil {
		err = fmt.Errorf("qemu exited: %w%s", err, logTail(logPath(m.spec)))
	}
	m.waitErr = err
	m.agentLn.Close()
	os.Remove(m.spec.AgentSocket)
	os.Remove(qmpPath(m.spec))
	close(m.done)
}

// logTail returns the last lines of QEMU's own output, for error messages.
func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(strings.TrimSpace(string(b))) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return ": " + strings.Join(lines[max(0, len(lines)-5):], "; ")
}

func (m *machine) PID() int           { return m.cmd.Process.Pid }
func (m *machine) ConsoleLog() string { return m.spec.ConsoleLog }

func (m *machine) Agent(ctx context.Context) (net.Conn, error) {
	for {
		select {
		case <-m.done:
			return nil, vmm.ErrNotRunning
		default:
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		m.agentLn.SetDeadline(time.Now().Add(100 * time.Millisecond))
		c, err := m.agentLn.Accept()
		if err == nil {
			return c, nil
		}
		if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
			select {
			case <-m.done:
				return nil, vmm.ErrNotRunning
			default:
				return nil, fmt.Errorf("accepting agent connection: %w", err)
			}
		}
	}
}

func (m *machine) Wait(ctx context.Context) error {
	select {
	case <-m.done:
		return m.waitErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (m *machine) Kill() error {
	select {
	case <-m.done:
		return nil
	default:
	}
	if err := m.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("killing qemu: %w", err)
	}
	<-m.done
	return nil
}

func (m *machine) Stop(ctx context.Context, grace time.Duration) error {
	if err := powerdown(ctx, qmpPath(m.spec)); err != nil {
		m.cmd.Process.Signal(syscall.SIGTERM)
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-m.done:
		return nil
	case <-t.C:
	case <-ctx.Done():
	}
	return m.Kill()
}

// powerdown presses the guest's ACPI power button through QMP.
func powerdown(ctx context.Context, sock string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return fmt.Errorf("connecting to qmp: %w", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	if _, err := r.ReadBytes('\n'); err != nil { // greeting
		return fmt.Errorf("reading qmp greeting: %w", err)
	}
	for _, cmd := range []string{"qmp_capabilities", "system_powerdown"} {
		if err := qmpExecute(c, r, cmd); err != nil {
			return err
		}
	}
	return nil
}

func qmpExecute(c net.Conn, r *bufio.Reader, cmd string) error {
	if err := json.NewEncoder(c).Encode(map[string]string{"execute": cmd}); err != nil {
		return fmt.Errorf("sending qmp %s: %w", cmd, err)
	}
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return fmt.Errorf("reading qmp %s reply: %w", cmd, err)
		}
		var reply struct {
			Return json.RawMessage `json:"return"`
			Error  *struct{ Desc string }
		}
		if json.Unmarshal(line, &reply) != nil {
			continue
		}
		if reply.Error != nil {
			return fmt.Errorf("qmp %s: %s", cmd, reply.Error.Desc)
		}
		if reply.Return != nil {
			return nil
		}
	}
}
