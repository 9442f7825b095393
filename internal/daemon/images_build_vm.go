package daemon

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/banger-dev/banger/internal/agent"
	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/buildprofile"
	"github.com/banger-dev/banger/internal/guestinit/vmconfig"
	"github.com/banger-dev/banger/internal/vmm"
)

// A build's guest runs this as its main process: it only waits, so the
// image needs nothing but /bin/sh (which the steps need too).
var buildMainArgs = []string{"/bin/sh", "-c", "while :; do sleep 3600; done"}

// buildShutdownTimeout bounds the guest's clean shutdown after the steps.
const buildShutdownTimeout = 60 * time.Second

// buildVM is the transient machine of one build.
type buildVM struct {
	name     string
	m        vmm.Machine
	agent    *agent.Client
	env      []string
	progress api.ProgressFunc
}

// runBuild copies the base rootfs to staging (calling copied once the base's
// files are no longer needed), boots it, runs the steps and shuts the guest
// down, checking the filesystem was left clean. With req.Compact the
// guest's final tree is first rewritten into a fresh image, which then
// replaces the copied disk.
func (d *Daemon) runBuild(ctx context.Context, plan *buildPlan, staging string, copied func(), progress api.ProgressFunc) (api.BuildRecord, error) {
	rec := api.BuildRecord{Base: plan.base.Name, BaseID: plan.base.ID, Kernel: plan.kernel.Name,
		Profile: plan.req.Profile, Env: plan.req.Env}
	disk := filepath.Join(staging, rootfsName)
	progress(api.Event{Phase: "disk", Message: "copying the root filesystem of " + plan.base.Name})
	err := vmm.CopyDisk(ctx, plan.base.RootfsPath, disk, plan.req.DiskBytes)
	copied()
	if err != nil {
		return rec, err
	}
	runDir := filepath.Join(d.layout.TmpDir(), "build-"+plan.id[:12])
	if err := os.MkdirAll(runDir, 0o700); err != nil {
		return rec, fmt.Errorf("creating build directory: %w", err)
	}
	defer d.discard(runDir)
	b, err := d.bootBuildVM(ctx, plan, disk, runDir, progress)
	if err != nil {
		return rec, err
	}
	defer b.m.Kill()
	defer b.agent.Close()
	stopWatch := d.killOnCancel(ctx, b.m)
	defer stopWatch()
	steps, err := b.buildSteps(ctx, plan.req)
	if err != nil {
		return rec, b.failure(err)
	}
	for i, s := range steps {
		r, err := b.runStep(ctx, i, len(steps), s)
		if err != nil {
			return rec, err
		}
		rec.Steps = append(rec.Steps, r)
	}
	if plan.req.Compact {
		if _, err := b.exportCompact(ctx, plan, filepath.Join(staging, compactName)); err != nil {
			return rec, err
		}
		rec.Compact = true
	}
	if err := b.shutdown(ctx); err != nil {
		return rec, err
	}
	if err := checkCleanExt4(disk); err != nil {
		return rec, err
	}
	if rec.Compact {
		if err := os.Rename(filepath.Join(staging, compactName), disk); err != nil {
			return rec, fmt.Errorf("replacing the root filesystem with the compact one: %w", err)
		}
	}
	return rec, nil
}

// bootBuildVM starts the machine and waits for its agent.
func (d *Daemon) bootBuildVM(ctx context.Context, plan *buildPlan, disk, runDir string, progress api.ProgressFunc) (*buildVM, error) {
	env := append(append([]string{}, plan.base.Config.Env...), plan.req.Env...)
	cfg := vmconfig.Config{
		Hostname: plan.req.Name,
		Network:  &vmconfig.Network{Address: "10.0.2.15/24", Gateway: "10.0.2.2", DNS: []string{"10.0.2.3"}},
		Process:  vmconfig.Process{Args: buildMainArgs, Env: env, WorkingDir: "/"},
	}
	spec := vmm.Spec{Kernel: plan.kernel.Image, Disk: disk, CPUs: max(plan.req.CPUs, 1), MemoryMiB: plan.req.MemoryMiB, StateDir: runDir}
	if spec.MemoryMiB == 0 {
		spec.MemoryMiB = 512
	}
	m, err := d.startMachine(ctx, plan.kernel, cfg, spec, progress)
	if err != nil {
		return nil, err
	}
	b := &buildVM{name: plan.req.Name, m: m, env: env, progress: progress}
	actx, cancel := context.WithTimeout(ctx, bootTimeout)
	defer cancel()
	conn, err := m.Agent(actx)
	if err == nil {
		b.agent = agent.NewClient(conn)
		_, err = b.agent.WaitHello(actx)
	}
	if err != nil {
		err = b.failure(fmt.Errorf("waiting for the guest agent: %w", err))
		if b.agent != nil {
			b.agent.Close()
		}
		m.Kill()
		return nil, err
	}
	d.log.Info("build vm started", "image", plan.req.Name, "base", plan.base.Name, "pid", m.PID())
	return b, nil
}

// killOnCancel kills m when ctx ends (the client went away) or the daemon
// stops; the returned function ends the watch.
func (d *Daemon) killOnCancel(ctx context.Context, m vmm.Machine) func() {
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
		case <-d.stop:
		case <-done:
			return
		}
		m.Kill()
	}()
	return func() { close(done) }
}

// buildSteps puts the profile's script, chosen by the guest's os-release,
// before the request's steps.
func (b *buildVM) buildSteps(ctx context.Context, req api.BuildImageRequest) ([]api.BuildStep, error) {
	if req.Profile == "" {
		return req.Steps, nil
	}
	var rel bytes.Buffer
	st, err := b.agent.Exec(ctx, agent.ExecRequest{Argv: []string{"/bin/sh", "-c",
		"cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release"}, Env: b.env, Dir: "/"}, nil, &rel, io.Discard)
	if err != nil {
		return nil, b.shellError(err)
	}
	if st.Code != 0 {
		return nil, fmt.Errorf("reading the guest's /etc/os-release for profile %q: %v", req.Profile, st)
	}
	s, err := buildprofile.Select(req.Profile, rel.Bytes(), req.Settings)
	if err != nil {
		return nil, err
	}
	b.env = append(b.env, s.Env...)
	step := api.BuildStep{Kind: api.StepRun, Script: s.Text, Origin: "--profile " + s.Profile + " (" + s.Family + ")"}
	return append([]api.BuildStep{step}, req.Steps...), nil
}

// shellError explains a failure to start /bin/sh in the guest: the exec
// says so itself, or the main process (also /bin/sh) ended with 127 and the
// guest went away.
func (b *buildVM) shellError(err error) error {
	st, exited := b.agent.MainStatus()
	if (exited && st.Code == 127) || strings.Contains(err.Error(), "no such file") || strings.Contains(err.Error(), "not found") {
		return fmt.Errorf("the image has no usable /bin/sh, which image build runs its steps with: %w", err)
	}
	return err
}

// failure adds the end of the console log to err.
func (b *buildVM) failure(err error) error {
	data, _ := os.ReadFile(b.m.ConsoleLog())
	return fmt.Errorf("building image %q: %w; console log ends with:\n%s", b.name, err, lastLines(string(data), 10))
}

// shutdown asks the guest to power off (banger-init syncs and remounts /
// read-only first) and waits for the monitor to exit. A guest that does not
// go in time is killed and the build fails: its disk may not be clean.
func (b *buildVM) shutdown(ctx context.Context) error {
	b.progress(api.Event{Phase: "shutdown", Message: "shutting the guest down"})
	sctx, cancel := context.WithTimeout(ctx, buildShutdownTimeout)
	defer cancel()
	err := b.agent.Shutdown(sctx)
	if err == nil {
		err = b.m.Wait(sctx)
	}
	b.agent.Close()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		b.m.Kill()
		return b.failure(fmt.Errorf("the guest did not shut down cleanly within %s, so it was killed and the result discarded: %w",
			buildShutdownTimeout, err))
	}
	return nil
}

// runStep runs one step, streaming its output as progress events.
func (b *buildVM) runStep(ctx context.Context, i, n int, s api.BuildStep) (api.BuildStepRecord, error) {
	desc := describeStep(s)
	b.progress(api.Event{Phase: "step", Item: fmt.Sprint(i + 1), Current: int64(i + 1), Message: fmt.Sprintf("step %d/%d: %s", i+1, n, desc)})
	tail := &tailBuffer{max: 4096}
	stdout := io.MultiWriter(outputWriter{api.PhaseStdout, b.progress}, tail)
	stderr := io.MultiWriter(outputWriter{api.PhaseStderr, b.progress}, tail)
	rec := api.BuildStepRecord{BuildStep: s}
	var st agent.ExitStatus
	var err error
	if s.Kind == api.StepCopy {
		st, rec.Digest, err = b.copyIn(ctx, s, stdout, stderr)
	} else {
		sum := sha256.Sum256([]byte(s.Script))
		rec.Digest = "sha256:" + hex.EncodeToString(sum[:])
		st, err = b.agent.Exec(ctx, agent.ExecRequest{Argv: []string{"/bin/sh", "-c", s.Script}, Env: b.env, Dir: "/"}, nil, stdout, stderr)
	}
	if err != nil {
		if ctx.Err() != nil {
			return rec, ctx.Err()
		}
		return rec, b.failure(fmt.Errorf("step %d/%d (%s): %w", i+1, n, desc, b.shellError(err)))
	}
	if st.Code != 0 {
		return rec, fmt.Errorf("step %d/%d (%s) failed with %v; its output ends with:\n%s", i+1, n, desc, st, lastLines(tail.String(), 10))
	}
	return rec, nil
}

// copyIn writes a host file to s.Dest in the guest through the agent:
// `cat` reads it from stdin; the file ends up root-owned with the source's
// permission bits (setuid, setgid and sticky included).
func (b *buildVM) copyIn(ctx context.Context, s api.BuildStep, stdout, stderr io.Writer) (agent.ExitStatus, string, error) {
	f, err := os.Open(s.Source)
	if err != nil {
		return agent.ExitStatus{}, "", fmt.Errorf("opening %s: %w", s.Source, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return agent.ExitStatus{}, "", fmt.Errorf("opening %s: %w", s.Source, err)
	}
	dest := s.Dest
	if strings.HasSuffix(dest, "/") {
		dest = path.Join(dest, filepath.Base(s.Source))
	}
	h := sha256.New()
	script := `set -e; mkdir -p "$3"; cat > "$1"; chown 0:0 "$1"; chmod "$2" "$1"`
	es, err := b.agent.Exec(ctx, agent.ExecRequest{
		Argv: []string{"/bin/sh", "-c", script, "sh", dest, fmt.Sprintf("%04o", unixMode(st.Mode())), path.Dir(dest)},
		Env:  b.env, Dir: "/",
	}, io.TeeReader(f, h), stdout, stderr)
	return es, "sha256:" + hex.EncodeToString(h.Sum(nil)), err
}

// unixMode is the permission bits of m as chmod takes them.
func unixMode(m os.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&os.ModeSetuid != 0 {
		u |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		u |= 0o1000
	}
	return u
}

// describeStep is a one-line summary of s for messages.
func describeStep(s api.BuildStep) string {
	var d string
	if s.Kind == api.StepCopy {
		d = "copy " + s.Source + " to " + s.Dest
	} else {
		d = "run " + strings.Join(strings.Fields(s.Script), " ")
		if len(d) > 60 {
			d = d[:57] + "..."
		}
	}
	if s.Origin != "" && s.Kind == api.StepRun && !strings.HasPrefix(s.Origin, "--run") {
		d = s.Origin
	}
	return d
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append([]byte{}, t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// ext4 superblock fields checked after the guest's shutdown: s_state (1:
// cleanly unmounted) and the needs_recovery bit of s_feature_incompat.
const (
	ext4StateOffset     = 1024 + 0x3A
	ext4IncompatOffset  = 1024 + 0x60
	ext4IncompatRecover = 0x4
)

// checkCleanExt4 verifies that the filesystem in img was left clean: no
// journal to replay and the valid state set (what dumpe2fs -h shows as
// "Filesystem state: clean" without needs_recovery).
func checkCleanExt4(img string) error {
	f, err := os.Open(img)
	if err != nil {
		return fmt.Errorf("checking the built filesystem: %w", err)
	}
	defer f.Close()
	var sb [2048]byte
	if _, err := f.ReadAt(sb[:], 0); err != nil {
		return fmt.Errorf("checking the built filesystem: %w", err)
	}
	state := uint16(sb[ext4StateOffset]) | uint16(sb[ext4StateOffset+1])<<8
	incompat := uint32(sb[ext4IncompatOffset]) | uint32(sb[ext4IncompatOffset+1])<<8
	if incompat&ext4IncompatRecover != 0 || state&1 == 0 || state&2 != 0 {
		return errors.New("the guest did not leave the filesystem clean (needs_recovery or errors set); the result was discarded")
	}
	return nil
}
