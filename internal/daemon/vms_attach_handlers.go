package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"syscall"

	"github.com/banger-dev/banger/internal/agent"
	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/errdefs"
)

// attachRoutes adds the attach endpoints (see api.AttachProtocol).
func (v *vmSet) attachRoutes(mux *http.ServeMux) {
	mux.Handle("POST "+api.PathVMExecAttach, v.d.guard(v.handleExecAttach))
	mux.Handle("POST "+api.PathVMRunAttach, v.d.guard(v.handleRunAttach))
	mux.Handle("POST "+api.PathVMAttach, v.d.guard(v.handleAttach))
}

// handleAttach relays the main process of a running VM as a foreground vm
// run does: what it wrote while nobody was attached (the agent keeps the
// last MiB), then its output live, its exit code, and its stdin when it was
// started with one. When the client hangs up first, the VM keeps running.
func (v *vmSet) handleAttach(w http.ResponseWriter, r *http.Request) {
	var req api.AttachVMRequest
	err := checkUpgrade(r)
	if err == nil {
		err = decodeBody(r, &req)
	}
	var l *liveVM
	if err == nil {
		_, l, err = v.withAgent(r.Context(), r.PathValue("name"))
	}
	if err != nil {
		v.d.writeError(w, r, err)
		return
	}
	stdin := l.stdin && !req.NoStdin
	ac, err := upgrade(w, l.vm.Name, flagHeader(api.HeaderStdin, stdin), flagHeader(api.HeaderTTY, l.tty))
	if err != nil {
		v.d.log.Warn("attaching", "vm", l.vm.Name, "err", err)
		return
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	defer cancel()
	st, err := relayMain(ctx, cancel, ac, l.agent, stdin)
	if errors.Is(err, agent.ErrAlreadyAttached) {
		err = errdefs.Newf(errdefs.ErrConflict, "vm %q already has a client attached to its main process (a vm run or vm attach elsewhere)", l.vm.Name)
	}
	ac.finish(st.Code, err)
}

// flagHeader is an extra header line of the 101 answer: name: 1 when on.
func flagHeader(name string, on bool) string {
	if !on {
		return ""
	}
	return name + ": 1"
}

// handleExecAttach starts a command in a running VM and relays its stdio.
// When the client hangs up first, the command's process group is killed.
func (v *vmSet) handleExecAttach(w http.ResponseWriter, r *http.Request) {
	var req api.ExecAttachRequest
	err := checkUpgrade(r)
	if err == nil {
		err = decodeBody(r, &req)
	}
	if err != nil {
		v.d.writeError(w, r, err)
		return
	}
	vm, ag, err := v.execAgent(r.Context(), r.PathValue("name"), req.Cmd)
	if err != nil {
		v.d.writeError(w, r, err)
		return
	}
	ac, err := upgrade(w, vm.Name)
	if err != nil {
		v.d.log.Warn("attaching exec", "vm", r.PathValue("name"), "err", err)
		return
	}
	// The request's context ends with the handler; the stream ends when
	// the client hangs up.
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	defer cancel()
	code, err := relayExec(ctx, cancel, ac, ag, req)
	ac.finish(code, err)
}

// relayExec runs req through ag with the stream as its stdio.
func relayExec(ctx context.Context, cancel func(), ac *attachConn, ag *agent.Client, req api.ExecAttachRequest) (int, error) {
	var stdin io.Reader
	var stdinW *io.PipeWriter
	if req.Stdin {
		pr, pw := io.Pipe()
		defer pr.Close() // unblocks a stdin frame the process will never read
		stdin, stdinW = pr, pw
	}
	areq := agent.ExecRequest{Argv: req.Cmd, Env: req.Env, Dir: req.Dir, User: req.User,
		TTY: req.TTY, Rows: req.Rows, Cols: req.Cols}
	s, err := ag.Start(ctx, areq, stdin, ac.writer(agent.FrameStdout), ac.writer(agent.FrameStderr))
	if err != nil {
		return 0, err
	}
	go ac.control(ctx, attachTarget{
		stdin:  stdinW,
		signal: func(ctx context.Context, sig syscall.Signal) error { return s.Signal(ctx, sig, true) },
		resize: s.Resize,
	}, cancel)
	st, err := s.Wait(ctx)
	return st.Code, err
}

// handleRunAttach boots a VM as a foreground vm run does and relays its
// main process's output, and its input with req.Stdin; the client's signals
// go to the main process's group, its resizes to the main process's
// terminal (req.TTY). When the client hangs up first, the VM keeps running.
func (v *vmSet) handleRunAttach(w http.ResponseWriter, r *http.Request) {
	var req api.RunVMRequest
	err := checkUpgrade(r)
	if err == nil {
		err = decodeBody(r, &req)
	}
	if err == nil && req.Detach {
		err = errdefs.Newf(errdefs.ErrInvalid, "a detached run has nothing to attach to")
	}
	var l *liveVM
	if err == nil {
		l, err = v.bootAndWait(r.Context(), req)
	}
	if err != nil {
		v.d.writeError(w, r, err)
		return
	}
	ac, err := upgrade(w, l.vm.Name)
	if err != nil {
		v.d.log.Warn("attaching run", "vm", l.vm.Name, "err", err)
		return
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	defer cancel()
	st, err := relayMain(ctx, cancel, ac, l.agent, req.Stdin)
	if err != nil && ctx.Err() == nil {
		err = v.bootFailure(l, err)
	}
	ac.finish(st.Code, err)
}

// relayMain relays the main process's output to the stream and the
// stream's signals, resizes and (with stdin) input to the main process.
// A client that hangs up leaves the process's stdin open.
func relayMain(ctx context.Context, cancel func(), ac *attachConn, ag *agent.Client, stdin bool) (agent.ExitStatus, error) {
	t := attachTarget{
		signal: func(ctx context.Context, sig syscall.Signal) error {
			return ag.Signal(ctx, agent.MainSessionID, sig, true)
		},
		resize: func(ctx context.Context, rows, cols uint16) error {
			return ag.Resize(ctx, agent.MainSessionID, rows, cols)
		},
	}
	var in io.Reader
	if stdin {
		pr, pw := io.Pipe()
		defer pr.Close() // ends the copy to the guest once detached
		in, t.stdin = pr, pw
	}
	go ac.control(ctx, t, cancel)
	return ag.AttachMainStdin(ctx, in, ac.writer(agent.FrameStdout), ac.writer(agent.FrameStderr))
}

// bootAndWait boots req's VM and waits for its agent to connect.
func (v *vmSet) bootAndWait(ctx context.Context, req api.RunVMRequest) (*liveVM, error) {
	l, err := v.boot(ctx, req, func(api.Event) {})
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, bootTimeout)
	defer cancel()
	select {
	case <-l.ready:
	case <-wctx.Done():
		return nil, fmt.Errorf("waiting for vm %q to boot: %w", l.vm.Name, wctx.Err())
	}
	if l.agent == nil {
		return nil, v.bootFailure(l, errors.New("the guest never connected"))
	}
	return l, nil
}
