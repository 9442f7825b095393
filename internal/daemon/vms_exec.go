package daemon

import (
	"context"

	"github.com/banger-dev/banger/internal/agent"
	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/errdefs"
)

// exec runs a command in a running VM through its agent, streaming output.
func (v *vmSet) exec(ctx context.Context, name string, req api.ExecVMRequest, progress api.ProgressFunc) (api.RunResult, error) {
	vm, err := v.d.store.GetVM(ctx, name)
	if err != nil {
		return api.RunResult{}, err
	}
	if len(req.Cmd) == 0 {
		return api.RunResult{}, errdefs.Newf(errdefs.ErrInvalid, "no command to run")
	}
	l := v.get(name)
	if l == nil {
		return api.RunResult{}, errdefs.Newf(errdefs.ErrConflict, "vm %q is not running", name)
	}
	select {
	case <-l.ready:
	case <-ctx.Done():
		return api.RunResult{}, ctx.Err()
	}
	if l.agent == nil {
		return api.RunResult{}, errdefs.Newf(errdefs.ErrUnavailable, "vm %q has no agent connection", name)
	}
	if _, err := l.agent.WaitHello(ctx); err != nil {
		return api.RunResult{}, err
	}
	st, err := l.agent.Exec(ctx, agent.ExecRequest{Argv: req.Cmd, Env: req.Env, Dir: req.Dir, User: req.User},
		nil, outputWriter{api.PhaseStdout, progress}, outputWriter{api.PhaseStderr, progress})
	if err != nil {
		return api.RunResult{}, err
	}
	return api.RunResult{VM: vm, ExitCode: st.Code}, nil
}
