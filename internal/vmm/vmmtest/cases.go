package vmmtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/banger-dev/banger/internal/agent"
	"github.com/banger-dev/banger/internal/guestinit/vmconfig"
	"github.com/banger-dev/banger/internal/vmm"
)

// userNet is QEMU user-mode networking's guest side.
func userNet() *vmconfig.Network {
	return &vmconfig.Network{Address: "10.0.2.15/24", Gateway: "10.0.2.2", DNS: []string{"10.0.2.3"}}
}

// testMainProcess runs a process that prints and exits 7, as a user of the
// image, with ENV and WORKDIR set.
func testMainProcess(t *testing.T, p parts) {
	imageSum := fileSum(t, p.image)
	v := boot(t, p, vmconfig.Config{Hostname: "box1", Network: userNet(), Process: vmconfig.Process{
		Args: []string{"sh", "-c", `echo hello; echo "id=$(id -u):$(id -g):$(id -G) pwd=$(pwd) foo=$FOO home=$HOME host=$(hostname)"; ` +
			`cat /etc/resolv.conf; echo err >&2; exit 7`},
		Env:        []string{"FOO=bar baz"},
		WorkingDir: "/srv/work",
		User:       "app",
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	hello, err := v.client.WaitHello(ctx)
	if err != nil {
		t.Fatal(err)
	}
	helloAt := time.Since(v.started)
	var stdout, stderr buffer
	st, err := v.client.AttachMain(ctx, &stdout, &stderr)
	if err != nil {
		t.Fatalf("attaching to main: %v", err)
	}
	if err := v.m.Wait(ctx); err != nil {
		t.Fatalf("machine: %v", err)
	}
	t.Logf("guest phases (ms since kernel start) %v; from start: hello %v, first output %v, machine gone %v",
		hello.Info, helloAt.Round(time.Millisecond), stdout.firstAt().Sub(v.started).Round(time.Millisecond),
		time.Since(v.started).Round(time.Millisecond))
	if st.Code != 7 || st.Signaled() {
		t.Errorf("exit status %v, want code 7", st)
	}
	for _, want := range []string{"hello\n", "id=1000:1000:1000 2000 pwd=/srv/work foo=bar baz home=/home/app host=box1",
		"nameserver 10.0.2.3"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}
	if stderr.String() != "err\n" {
		t.Errorf("stderr = %q, want %q", stderr.String(), "err\n")
	}
	if console, _ := os.ReadFile(v.m.ConsoleLog()); !bytes.Contains(console, []byte("hello")) {
		t.Errorf("console log lacks the process output:\n%s", console)
	}
	checkCleanDisk(t, v.disk)
	if fileSum(t, p.image) != imageSum {
		t.Error("the original image changed")
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// testExecForwardShutdown runs a service as the main process, reaches it
// through a forwarded port, execs a second process through the agent, then
// asks the guest to shut down: the service gets SIGTERM and the VM powers
// off with a clean disk.
func testExecForwardShutdown(t *testing.T, p parts) {
	port := freePort(t)
	v := boot(t, p, vmconfig.Config{Hostname: "svc", Network: userNet(), Process: vmconfig.Process{Args: []string{"sh", "-c",
		`trap 'echo got TERM; exit 3' TERM; while true; do echo pong | nc -l -p 8080; done & wait`}}},
		vmm.PortForward{HostPort: port, GuestPort: 8080})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if _, err := v.client.WaitHello(ctx); err != nil {
		t.Fatal(err)
	}
	var out, errOut buffer
	start := time.Now()
	st, err := v.client.Exec(ctx, agent.ExecRequest{Argv: []string{"sh", "-c",
		"ip addr show eth0; cat /proc/net/route; hostname; id -un"}}, nil, &out, &errOut)
	if err != nil {
		t.Fatalf("exec: %v", err)
	}
	t.Logf("exec round trip %v", time.Since(start).Round(time.Millisecond))
	if st.Code != 0 {
		t.Errorf("exec exit %v; stderr %s", st, errOut.String())
	}
	for _, want := range []string{"inet 10.0.2.15/24", "eth0\t00000000\t0202000A", "\nsvc\n", "\nroot\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("exec output lacks %q:\n%s", want, out.String())
		}
	}
	reconnect(t, v)
	if got := dialUntil(port, 20*time.Second); got != "pong\n" {
		t.Errorf("forwarded port gave %q, want %q", got, "pong\n")
	}
	if err := v.client.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	var mainOut buffer
	st, err = v.client.AttachMain(ctx, &mainOut, nil)
	if err != nil {
		t.Fatalf("attaching to main: %v", err)
	}
	if st.Code != 3 || !strings.Contains(mainOut.String(), "got TERM") {
		t.Errorf("main ended %v with output %q; want code 3 after TERM", st, mainOut.String())
	}
	if err := v.m.Wait(ctx); err != nil {
		t.Fatalf("machine: %v", err)
	}
	checkCleanDisk(t, v.disk)
}

// reconnect drops the agent connection and execs again over the next one,
// as a restarted daemon would.
func reconnect(t *testing.T, v *vm) {
	t.Helper()
	v.client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	conn, err := v.m.Agent(ctx)
	if err != nil {
		t.Fatalf("reconnecting to the agent: %v", err)
	}
	v.client = agent.NewClient(conn)
	var out buffer
	st, err := v.client.Exec(ctx, agent.ExecRequest{Argv: []string{"echo", "again"}}, nil, &out, nil)
	if err != nil || st.Code != 0 || out.String() != "again\n" {
		t.Fatalf("exec after reconnecting: %v %v %q", err, st, out.String())
	}
	t.Logf("reconnected and ran exec in %v", time.Since(start).Round(time.Millisecond))
}

// dialUntil reads what the forwarded port sends, retrying until the guest
// service listens.
func dialUntil(port int, timeout time.Duration) string {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err != nil {
			continue
		}
		c.SetDeadline(time.Now().Add(3 * time.Second))
		got, _ := io.ReadAll(c)
		c.Close()
		if len(got) > 0 {
			return string(got)
		}
	}
	return ""
}

// testStopPowerButton stops a running VM through Machine.Stop: the ACPI
// power button reaches banger-init, which TERMs the main process and powers
// off cleanly well within the grace period.
func testStopPowerButton(t *testing.T, p parts) {
	v := boot(t, p, vmconfig.Config{Process: vmconfig.Process{Args: []string{"sh", "-c",
		`trap 'echo bye; exit 4' TERM; echo up; sleep 600 & wait`}}})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var out buffer
	done := make(chan agent.ExitStatus, 1)
	go func() {
		st, err := v.client.AttachMain(ctx, &out, nil)
		if err != nil {
			t.Errorf("attaching to main: %v", err)
		}
		done <- st
	}()
	for !strings.Contains(out.String(), "up") {
		if ctx.Err() != nil {
			t.Fatal("main process never started")
		}
		time.Sleep(50 * time.Millisecond)
	}
	start := time.Now()
	if err := v.m.Stop(ctx, 30*time.Second); err != nil {
		t.Fatalf("stop: %v", err)
	}
	t.Logf("graceful stop took %v", time.Since(start).Round(time.Millisecond))
	if took := time.Since(start); took > 25*time.Second {
		t.Errorf("stop took %v: the power button was not honoured", took)
	}
	if st := <-done; st.Code != 4 {
		t.Errorf("main ended %v, want code 4 from its TERM trap", st)
	}
	checkCleanDisk(t, v.disk)
}

// testMissingCommand: a command that cannot start is reported as exit code
// 127 and the VM still powers off cleanly.
func testMissingCommand(t *testing.T, p parts) {
	v := boot(t, p, vmconfig.Config{Process: vmconfig.Process{Args: []string{"no-such-command"}}})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	st, err := v.client.AttachMain(ctx, nil, nil)
	if err != nil {
		t.Fatalf("attaching to main: %v", err)
	}
	if st.Code != 127 {
		t.Errorf("exit status %v, want code 127", st)
	}
	if err := v.m.Wait(ctx); err != nil {
		t.Fatalf("machine: %v", err)
	}
	if console, _ := os.ReadFile(v.m.ConsoleLog()); !bytes.Contains(console, []byte("no-such-command")) {
		t.Errorf("console log does not explain the failure:\n%s", console)
	}
	checkCleanDisk(t, v.disk)
}

// testSignals sends signals to PID 1 from inside the guest: it survives
// them (an uncaught SIGTERM would panic the kernel) and forwards them to the
// main process.
func testSignals(t *testing.T, p parts) {
	v := boot(t, p, vmconfig.Config{Process: vmconfig.Process{Args: []string{"sh", "-c",
		`trap 'echo got USR1' USR1; trap 'echo got TERM; exit 9' TERM; echo ready; while :; do sleep 1 & wait; done`}}})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var out buffer
	done := make(chan agent.ExitStatus, 1)
	go func() {
		st, _ := v.client.AttachMain(ctx, &out, nil)
		done <- st
	}()
	for !strings.Contains(out.String(), "ready") {
		if ctx.Err() != nil {
			t.Fatal("main process never started")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := v.client.Exec(ctx, agent.ExecRequest{Argv: []string{"sh", "-c",
		"kill -USR1 1; sleep 2; kill -TERM 1"}}, nil, nil, nil); err != nil {
		t.Fatalf("exec: %v", err)
	}
	st := <-done
	if st.Code != 9 || !strings.Contains(out.String(), "got USR1\n") || !strings.Contains(out.String(), "got TERM\n") {
		t.Errorf("main ended %v with output %q; want USR1 then TERM forwarded, code 9", st, out.String())
	}
	if err := v.m.Wait(ctx); err != nil {
		t.Fatalf("machine: %v", err)
	}
	checkCleanDisk(t, v.disk)
}

// testFatalError: a guest that cannot boot (no such root device) reports
// exit code 125 to the host, explains itself on the console and powers off.
func testFatalError(t *testing.T, p parts) {
	v := boot(t, p, vmconfig.Config{RootDevice: "/dev/vdz", Process: vmconfig.Process{Args: []string{"true"}}})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	st, err := v.client.AttachMain(ctx, nil, nil)
	if err != nil {
		t.Fatalf("attaching to main: %v", err)
	}
	if st.Code != 125 {
		t.Errorf("exit status %v, want code 125", st)
	}
	if err := v.m.Wait(ctx); err != nil {
		t.Fatalf("machine: %v", err)
	}
	if console, _ := os.ReadFile(v.m.ConsoleLog()); !bytes.Contains(console, []byte("fatal: waiting for /dev/vdz")) {
		t.Errorf("console log does not explain the failure:\n%s", console)
	}
}

// testTTY gives the main process the serial console as its terminal: its
// output shows on the console and its exit code still reaches the host.
func testTTY(t *testing.T, p parts) {
	v := boot(t, p, vmconfig.Config{Process: vmconfig.Process{Args: []string{"sh", "-c",
		`echo "tty=$(tty) term=$TERM"; exit 5`}, TTY: true}})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	st, err := v.client.AttachMain(ctx, nil, nil)
	if err != nil {
		t.Fatalf("attaching to main: %v", err)
	}
	if st.Code != 5 {
		t.Errorf("exit status %v, want code 5", st)
	}
	if err := v.m.Wait(ctx); err != nil {
		t.Fatalf("machine: %v", err)
	}
	if console, _ := os.ReadFile(v.m.ConsoleLog()); !bytes.Contains(console, []byte("tty=/dev/ttyS0 term=linux")) {
		t.Errorf("console log lacks the tty process's output:\n%s", console)
	}
}

// testImageInit hands PID 1 to the image's /sbin/init (a script here that
// prints and powers off).
func testImageInit(t *testing.T, p parts) {
	v := boot(t, p, vmconfig.Config{Init: vmconfig.InitImage})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := v.m.Wait(ctx); err != nil {
		t.Fatalf("machine: %v", err)
	}
	if console, _ := os.ReadFile(v.m.ConsoleLog()); !bytes.Contains(console, []byte("image init running as pid 1")) {
		t.Errorf("console log lacks the image init's output:\n%s", console)
	}
}
