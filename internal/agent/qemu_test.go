package agent

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/banger-dev/banger/internal/vmm/boottest"
)

// TestVirtioSerialUnderQEMU boots Debian's cloud kernel under QEMU (TCG) with
// testdata/guestinit as PID 1 and speaks the protocol over a real
// virtio-serial port: hello, exec, tty, bulk output, the main process, and a
// host that reconnects.
func TestVirtioSerialUnderQEMU(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a VM (about 10-30 s under TCG); skipped with -short")
	}
	deb := boottest.KernelDeb(t)
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Skip("qemu-system-x86_64 missing (Debian package qemu-system-x86)")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("/bin/busybox missing (Debian package busybox-static)")
	}
	dir := t.TempDir()
	kernel, initrd := buildGuest(t, dir, deb)

	sock := filepath.Join(dir, "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var console syncBuffer
	cmd := exec.Command(qemu, "-M", "microvm", "-accel", "tcg", "-m", "256", "-nographic", "-no-reboot",
		"-kernel", kernel, "-initrd", initrd,
		"-append", "console=ttyS0 quiet panic=-1 tsc_early_khz="+hostKHz(t),
		"-device", "virtio-serial-device",
		"-chardev", "socket,path="+sock+",reconnect=1,id=agent",
		"-device", "virtserialport,chardev=agent,name=org.banger.agent")
	cmd.Stdout, cmd.Stderr = &console, &console
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	defer func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("console:\n%s", console.String())
		}
	}()

	c := acceptClient(t, ln, 60*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	h, err := c.WaitHello(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("hello after accept %v: %+v", time.Since(start), h)
	if h.Init != "guestinit" || !strings.HasPrefix(h.Kernel, "6.") {
		t.Errorf("hello = %+v", h)
	}

	var out, errb bytes.Buffer
	start = time.Now()
	st, err := c.Exec(ctx, ExecRequest{Argv: []string{"sh", "-c", "echo out; echo err >&2; exit 7"}}, nil, &out, &errb)
	t.Logf("exec round trip %v", time.Since(start))
	if err != nil || st.Code != 7 || out.String() != "out\n" || errb.String() != "err\n" {
		t.Errorf("exec: %v, %v, %q, %q", st, err, out.String(), errb.String())
	}

	out.Reset()
	st, err = c.Exec(ctx, ExecRequest{Argv: []string{"sh", "-c", "tty; stty size"}, TTY: true, Rows: 40, Cols: 120}, nil, &out, nil)
	if err != nil || st.Code != 0 || !strings.Contains(out.String(), "/dev/pts/0") || !strings.Contains(out.String(), "40 120") {
		t.Errorf("tty exec: %v, %v, %q", st, err, out.String())
	}

	const size = 4 << 20
	n := &countWriter{w: io.Discard}
	start = time.Now()
	st, err = c.Exec(ctx, ExecRequest{Argv: []string{"head", "-c", fmt.Sprint(size), "/dev/zero"}}, nil, n, nil)
	d := time.Since(start)
	t.Logf("%d MiB of output in %v (%.1f MB/s)", size>>20, d, float64(size)/d.Seconds()/1e6)
	if err != nil || st.Code != 0 || n.n != size {
		t.Errorf("bulk exec: %v, %v, %d bytes", st, err, n.n)
	}

	in := strings.Repeat("0123456789abcdef", 64<<10) // 1 MiB through cat
	out.Reset()
	start = time.Now()
	defer func() { t.Logf("1 MiB through cat in %v", time.Since(start)) }()
	if _, err := c.Exec(ctx, ExecRequest{Argv: []string{"cat"}}, strings.NewReader(in), &out, nil); err != nil || out.String() != in {
		t.Errorf("cat: %v, %d bytes back of %d", err, out.Len(), len(in))
	}

	out.Reset()
	errb.Reset()
	st, err = c.AttachMain(ctx, &out, &errb)
	if err != nil || st.Code != 3 || out.String() != "main-out\n" || errb.String() != "main-err\n" {
		t.Errorf("main: %v, %v, %q, %q", st, err, out.String(), errb.String())
	}

	// The host goes away; QEMU reconnects; the guest serves the new host.
	t.Log("reconnecting")
	c.Close()
	c = acceptClient(t, ln, 30*time.Second)
	if _, err := c.WaitHello(ctx); err != nil {
		t.Fatalf("hello after reconnect: %v", err)
	}
	if st, err := c.AttachMain(ctx, io.Discard, io.Discard); err != nil || st.Code != 3 {
		t.Errorf("main after reconnect: %v, %v", st, err)
	}
	out.Reset()
	if _, err := c.Exec(ctx, ExecRequest{Argv: []string{"echo", "again"}}, nil, &out, nil); err != nil || out.String() != "again\n" {
		t.Errorf("exec after reconnect: %q, %v", out.String(), err)
	}

	t.Log("shutting down")
	if err := c.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Error("QEMU still running after Shutdown")
	}
}

func acceptClient(t *testing.T, ln net.Listener, wait time.Duration) *Client {
	t.Helper()
	ln.(*net.UnixListener).SetDeadline(time.Now().Add(wait))
	conn, err := ln.Accept()
	if err != nil {
		t.Fatalf("waiting for QEMU to connect: %v", err)
	}
	return NewClient(conn)
}

// hostKHz reads the TSC frequency to pass as tsc_early_khz (TCG boots hang
// calibrating without it).
func hostKHz(t *testing.T) string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "cpu MHz" {
			mhz, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return strconv.Itoa(int(mhz * 1000))
			}
		}
	}
	t.Fatal("no cpu MHz in /proc/cpuinfo")
	return ""
}

// buildGuest unpacks the kernel package and writes an initramfs holding
// guestinit, busybox and the virtio modules.
func buildGuest(t *testing.T, dir, deb string) (kernel, initrd string) {
	kdir := filepath.Join(dir, "kernel")
	if out, err := exec.Command("dpkg-deb", "-x", deb, kdir).CombinedOutput(); err != nil {
		t.Fatalf("unpacking %s: %v\n%s", deb, err, out)
	}
	kernels, _ := filepath.Glob(filepath.Join(kdir, "boot/vmlinuz-*"))
	if len(kernels) == 0 {
		t.Fatal("no vmlinuz in the kernel package")
	}
	initBin := filepath.Join(dir, "init")
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	build := exec.Command(gobin, "build", "-o", initBin, "./testdata/guestinit")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building guestinit: %v\n%s", err, out)
	}
	var cpio cpioWriter
	for _, d := range []string{"bin", "dev", "proc", "sys", "modules"} {
		cpio.add(d, 0o040755, nil, "")
	}
	cpio.add("dev/console", 0o020600, nil, "5:1")
	cpio.addFile(t, "init", initBin)
	cpio.addFile(t, "bin/busybox", "/bin/busybox")
	for _, tool := range []string{"sh", "cat", "head", "echo", "tty", "stty", "sleep", "true"} {
		cpio.add("bin/"+tool, 0o120777, []byte("busybox"), "")
	}
	for _, m := range []string{"virtio/virtio_ring", "virtio/virtio", "virtio/virtio_mmio", "char/virtio_console"} {
		found, _ := filepath.Glob(filepath.Join(kdir, "lib/modules/*/kernel/drivers", m+".ko"))
		if len(found) == 0 {
			t.Fatalf("module %s.ko missing (compressed modules are not handled here)", m)
		}
		cpio.addFile(t, "modules/"+filepath.Base(m)+".ko", found[0])
	}
	initrd = filepath.Join(dir, "initrd.cpio")
	if err := os.WriteFile(initrd, cpio.finish(), 0o644); err != nil {
		t.Fatal(err)
	}
	return kernels[0], initrd
}

// cpioWriter writes the "newc" format the kernel unpacks, owned by root.
type cpioWriter struct {
	b   bytes.Buffer
	ino int
}

func (w *cpioWriter) add(name string, mode int, data []byte, dev string) {
	var major, minor int
	if dev != "" {
		fmt.Sscanf(dev, "%d:%d", &major, &minor)
	}
	w.ino++
	fmt.Fprintf(&w.b, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		w.ino, mode, 0, 0, 1, 0, len(data), 0, 0, major, minor, len(name)+1, 0)
	w.b.WriteString(name + "\x00")
	w.pad()
	w.b.Write(data)
	w.pad()
}

func (w *cpioWriter) addFile(t *testing.T, name, src string) {
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	w.add(name, 0o100755, data, "")
}

func (w *cpioWriter) pad() {
	for w.b.Len()%4 != 0 {
		w.b.WriteByte(0)
	}
}

func (w *cpioWriter) finish() []byte {
	w.add("TRAILER!!!", 0, nil, "")
	return w.b.Bytes()
}
