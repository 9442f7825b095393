package daemon

import (
	"context"

	"github.com/banger-dev/banger/internal/agent"
	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/errdefs"
	"github.com/banger-dev/banger/internal/guestinit/vmconfig"
	"github.com/banger-dev/banger/internal/model"
)

// exec runs a command in a running VM through its agent, streaming output.
func (v *vmSet) exec(ctx context.Context, name string, req api.ExecVMRequest, progress api.ProgressFunc) (api.RunResult, error) {
	vm, ag, err := v.execAgent(ctx, name, req.Cmd)
	if err != nil {
		return api.RunResult{}, err
	}
	st, err := ag.Exec(ctx, agent.ExecRequest{Argv: req.Cmd, Env: req.Env, Dir: req.Dir, User: req.User},
		nil, outputWriter{api.PhaseStdout, progress}, outputWriter{api.PhaseStderr, progress})
	if err != nil {
		return api.RunResult{}, err
	}
	return api.RunResult{VM: vm, ExitCode: st.Code}, nil
}

// execAgent returns the VM called name and its greeted agent, to run cmd in.
func (v *vmSet) execAgent(ctx context.Context, name string, cmd []string) (model.VM, *agent.Client, error) {
	if len(cmd) == 0 {
		return model.VM{}, nil, errdefs.Newf(errdefs.ErrInvalid, "no command to run")
	}
	vm, l, err := v.withAgent(ctx, name)
	if err != nil {
		return model.VM{}, nil, err
	}
	return vm, l.agent, nil
}

// withAgent returns the record of the running VM called name and its live
// state, once its agent has said hello.
func (v *vmSet) withAgent(ctx context.Context, name string) (model.VM, *liveVM, error) {
	vm, err := v.d.store.GetVM(ctx, name)
	if err != nil {
		return model.VM{}, nil, err
	}
	l := v.get(name)
	if l == nil {
		return model.VM{}, nil, errdefs.Newf(errdefs.ErrConflict, "vm %q is not running", name)
	}
	select {
	case <-l.ready:
	case <-ctx.Done():
		return model.VM{}, nil, ctx.Err()
	}
	if l.noAgent {
		return model.VM{}, nil, errdefs.Newf(errdefs.ErrConflict, "vm %q runs the image's own init (--init=image), which has no banger agent", name)
	}
	if l.agent == nil {
		return model.VM{}, nil, errdefs.Newf(errdefs.ErrUnavailable, "vm %q has no agent connection", name)
	}
	if _, err := l.agent.WaitHello(ctx); err != nil {
		return model.VM{}, nil, err
	}
	return vm, l, nil
}

// checkInit validates req's init mode: the image's own init takes no
// command and runs detached, since no agent reports its output.
func checkInit(req api.RunVMRequest) error {
	switch req.Init {
	case "", vmconfig.InitBanger:
		return nil
	case vmconfig.InitImage:
		if len(req.Cmd) > 0 {
			return errdefs.Newf(errdefs.ErrInvalid, "--init=image boots the image's /sbin/init, which takes no command")
		}
		if !req.Detach {
			return errdefs.Newf(errdefs.ErrInvalid, "--init=image runs detached (-d): the image's init has no banger agent to report output")
		}
		return nil
	}
	return errdefs.Newf(errdefs.ErrInvalid, "unknown init %q (want %s or %s)", req.Init, vmconfig.InitBanger, vmconfig.InitImage)
}
