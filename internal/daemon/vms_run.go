package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/banger-dev/banger/internal/agent"
	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/errdefs"
	"github.com/banger-dev/banger/internal/guestinit/vmconfig"
	"github.com/banger-dev/banger/internal/initramfs"
	"github.com/banger-dev/banger/internal/model"
	"github.com/banger-dev/banger/internal/vmm"
	"github.com/banger-dev/banger/internal/vmm/qemu"
)

// bootTimeout bounds the wait for the guest agent after QEMU starts.
const bootTimeout = 120 * time.Second

// run boots a VM from req.Image and, unless detached, streams its main
// process's output until it exits.
func (v *vmSet) run(ctx context.Context, req api.RunVMRequest, progress api.ProgressFunc) (api.RunResult, error) {
	l, err := v.boot(ctx, req, progress)
	if err != nil {
		return api.RunResult{}, err
	}
	wctx, cancel := context.WithTimeout(ctx, bootTimeout)
	defer cancel()
	select {
	case <-l.ready:
	case <-wctx.Done():
		return api.RunResult{}, fmt.Errorf("waiting for vm %q to boot: %w", l.vm.Name, wctx.Err())
	}
	if l.agent == nil {
		return api.RunResult{}, v.bootFailure(l, errors.New("the guest never connected"))
	}
	if l.noAgent {
		return api.RunResult{VM: l.vm, ExitCode: -1}, nil // the image's own init: no agent to wait for
	}
	if req.Detach {
		if _, err := l.agent.WaitHello(wctx); err != nil {
			return api.RunResult{}, v.bootFailure(l, err)
		}
		return api.RunResult{VM: l.vm, ExitCode: -1}, nil
	}
	st, err := l.agent.AttachMain(ctx, outputWriter{api.PhaseStdout, progress}, outputWriter{api.PhaseStderr, progress})
	if err != nil {
		if ctx.Err() != nil {
			return api.RunResult{}, err
		}
		return api.RunResult{}, v.bootFailure(l, err)
	}
	vm := l.vm
	vm.ExitCode = st.Code
	return api.RunResult{VM: vm, ExitCode: st.Code}, nil
}

// bootFailure adds the end of the console log to err.
func (v *vmSet) bootFailure(l *liveVM, err error) error {
	b, _ := os.ReadFile(l.m.ConsoleLog())
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	tail := strings.Join(lines[max(0, len(lines)-10):], "\n")
	return fmt.Errorf("running vm %q: %w; console log ends with:\n%s", l.vm.Name, err, tail)
}

// boot prepares the VM's directory, starts its machine, records it and
// starts supervising it.
func (v *vmSet) boot(ctx context.Context, req api.RunVMRequest, progress api.ProgressFunc) (*liveVM, error) {
	// The image's name lock keeps a pull or rm from replacing its files
	// until the VM has its own copy.
	unlockImage, err := v.d.lockName(ctx, "image", req.Image)
	if err != nil {
		return nil, err
	}
	var releaseImage sync.Once
	defer releaseImage.Do(unlockImage)
	img, err := v.d.store.GetImage(ctx, req.Image)
	if err != nil {
		return nil, err
	}
	kname := req.Kernel
	if kname == "" {
		kname = img.Kernel
	}
	if kname == "" {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "image %q has no kernel; try: banger image set-kernel %s KERNEL or --kernel K", img.Name, img.Name)
	}
	k, err := v.d.bootKernel(ctx, kname)
	if err != nil {
		return nil, err
	}
	id := newID()
	name := req.Name
	if name == "" {
		name = "vm-" + id[:8]
	}
	if err := validateName("vm", name); err != nil {
		return nil, err
	}
	cfg, err := guestConfig(name, img, req)
	if err != nil {
		return nil, err
	}
	unlock, err := v.d.lockName(ctx, "vm", name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if _, err := v.d.store.GetVM(ctx, name); err == nil {
		return nil, errdefs.Newf(errdefs.ErrExists, "vm %q already exists", name)
	}
	vm := model.VM{Name: name, ID: id, Image: img.Name, Kernel: k.Name, State: model.VMRunning,
		CPUs: max(req.CPUs, 1), MemoryMiB: req.MemoryMiB, Dir: v.d.layout.VMDir(id), ExitCode: -1,
		AutoRemove: req.Remove, Created: time.Now()}
	if vm.MemoryMiB <= 0 {
		vm.MemoryMiB = 256
	}
	if err := os.MkdirAll(vm.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating vm directory: %w", err)
	}
	l, err := v.start(ctx, vm, img, k, cfg, req, func() { releaseImage.Do(unlockImage) }, progress)
	if err != nil {
		v.d.discard(vm.Dir)
		return nil, err
	}
	return l, nil
}

// start fills the VM directory, starts the machine and records the VM.
// copied is called once the image's files are no longer needed.
func (v *vmSet) start(ctx context.Context, vm model.VM, img model.Image, k model.Kernel, cfg vmconfig.Config,
	req api.RunVMRequest, copied func(), progress api.ProgressFunc) (*liveVM, error) {
	progress(api.Event{Phase: "disk", Message: "copying the image's root filesystem"})
	disk := filepath.Join(vm.Dir, "disk.ext4")
	err := vmm.CopyDisk(ctx, img.RootfsPath, disk, req.DiskBytes)
	copied()
	if err != nil {
		return nil, err
	}
	spec := vmm.Spec{Kernel: k.Image, Disk: disk, CPUs: vm.CPUs, MemoryMiB: vm.MemoryMiB, StateDir: vm.Dir}
	for _, p := range req.Ports {
		spec.Ports = append(spec.Ports, vmm.PortForward{HostPort: p.Host, GuestPort: p.Guest})
	}
	m, err := v.d.startMachine(ctx, k, cfg, spec, progress)
	if err != nil {
		return nil, err
	}
	vm.PID = m.PID()
	if err := v.d.store.CreateVM(ctx, vm); err != nil {
		m.Kill()
		return nil, err
	}
	l := &liveVM{vm: vm, m: m, noAgent: cfg.Init == vmconfig.InitImage, stdin: req.Stdin, tty: req.TTY,
		ready: make(chan struct{}), exited: make(chan struct{})}
	v.mu.Lock()
	v.live[vm.Name] = l
	v.mu.Unlock()
	go v.supervise(l)
	v.d.log.Info("vm started", "vm", vm.Name, "id", vm.ID, "pid", vm.PID, "image", img.Name, "kernel", k.Name)
	return l, nil
}

// startMachine writes the initramfs for cfg (the kernel's cached one plus
// the VM's settings) into spec.StateDir and starts spec under QEMU.
func (d *Daemon) startMachine(ctx context.Context, k model.Kernel, cfg vmconfig.Config, spec vmm.Spec,
	progress api.ProgressFunc) (vmm.Machine, error) {
	initPath, err := initramfs.LocateInit()
	if err != nil {
		return nil, err
	}
	progress(api.Event{Phase: "initramfs", Message: "preparing the initramfs"})
	base, err := initramfs.Cached(ctx, filepath.Join(d.layout.CacheDir, "initramfs"), initramfs.Options{
		InitPath: initPath, ModulesDir: k.Modules, KernelID: k.Digest + "/" + k.Release})
	if err != nil {
		return nil, err
	}
	spec.Initrd = filepath.Join(spec.StateDir, "initrd")
	if err := initramfs.ForVM(ctx, base, cfg, spec.Initrd); err != nil {
		return nil, fmt.Errorf("writing vm initramfs: %w", err)
	}
	progress(api.Event{Phase: "boot", Message: "starting the machine"})
	return qemu.Backend{Notef: func(f string, a ...any) { d.log.Info(fmt.Sprintf(f, a...)) }}.Start(ctx, spec)
}

// guestConfig resolves what the guest runs from the image config and req.
func guestConfig(name string, img model.Image, req api.RunVMRequest) (vmconfig.Config, error) {
	c := img.Config
	cmd := c.Cmd
	if len(req.Cmd) > 0 {
		cmd = req.Cmd
	}
	args := append(append([]string{}, c.Entrypoint...), cmd...)
	if err := checkInit(req); err != nil {
		return vmconfig.Config{}, err
	}
	if len(args) == 0 && req.Init != vmconfig.InitImage {
		return vmconfig.Config{}, errdefs.Newf(errdefs.ErrInvalid, "image %q has no entrypoint or cmd; give a command after --", img.Name)
	}
	return vmconfig.Config{
		Hostname: name,
		Init:     req.Init,
		Network:  &vmconfig.Network{Address: "10.0.2.15/24", Gateway: "10.0.2.2", DNS: []string{"10.0.2.3"}},
		Process: vmconfig.Process{Args: args, Env: append(append([]string{}, c.Env...), req.Env...),
			WorkingDir: c.WorkingDir, User: c.User, Stdin: req.Stdin, PTY: req.TTY, Rows: req.Rows, Cols: req.Cols},
	}, nil
}

// supervise connects the agent, then waits for the machine to end (or the
// daemon to stop, which kills it) and records the end.
func (v *vmSet) supervise(l *liveVM) {
	ctx, cancel := context.WithTimeout(context.Background(), bootTimeout)
	conn, err := l.m.Agent(ctx)
	cancel()
	if err == nil {
		l.agent = agent.NewClient(conn)
	} else {
		v.d.log.Warn("vm agent did not connect", "vm", l.vm.Name, "err", err)
	}
	close(l.ready)
	gone := make(chan error, 1)
	go func() { gone <- l.m.Wait(context.Background()) }()
	select {
	case err = <-gone:
	case <-v.d.stop:
		l.m.Kill()
		err = <-gone
	}
	code := -1
	if l.agent != nil {
		if st, ok := l.agent.MainStatus(); ok {
			code = st.Code
		}
		l.agent.Close()
	}
	v.mu.Lock()
	delete(v.live, l.vm.Name)
	v.mu.Unlock()
	v.d.log.Info("vm stopped", "vm", l.vm.Name, "exit_code", code, "monitor", err)
	ctx = context.Background()
	if l.vm.AutoRemove {
		v.remove(ctx, l.vm)
	} else if err := v.d.store.SetVMState(ctx, l.vm.ID, model.VMStopped, 0, code); err != nil && errdefs.CategoryOf(err) != errdefs.ErrNotFound {
		v.d.log.Error("recording vm stop", "vm", l.vm.Name, "err", err)
	}
	close(l.exited)
}
