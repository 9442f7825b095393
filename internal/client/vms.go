package client

import (
	"context"
	"encoding/json"
	"io"
	"net/http"

	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/model"
)

// outputFunc copies output events to stdout and stderr.
func outputFunc(stdout, stderr io.Writer) api.ProgressFunc {
	return func(ev api.Event) {
		var b []byte
		if json.Unmarshal(ev.Result, &b) != nil {
			return
		}
		switch ev.Phase {
		case api.PhaseStdout:
			stdout.Write(b)
		case api.PhaseStderr:
			stderr.Write(b)
		}
	}
}

// RunVM boots a VM; unless detached, it copies the main process's output to
// stdout and stderr until it exits.
func (c *Client) RunVM(ctx context.Context, req api.RunVMRequest, stdout, stderr io.Writer) (api.RunResult, error) {
	var res api.RunResult
	err := c.Stream(ctx, http.MethodPost, api.PathVMs, req, outputFunc(stdout, stderr), &res)
	return res, err
}

// ExecVM runs a command in a running VM, copying its output.
func (c *Client) ExecVM(ctx context.Context, name string, req api.ExecVMRequest, stdout, stderr io.Writer) (api.RunResult, error) {
	var res api.RunResult
	err := c.Stream(ctx, http.MethodPost, api.VMExecPath(name), req, outputFunc(stdout, stderr), &res)
	return res, err
}

// ListVMs returns every VM, sorted by name.
func (c *Client) ListVMs(ctx context.Context) ([]model.VM, error) {
	var vms []model.VM
	err := c.Do(ctx, http.MethodGet, api.PathVMs, nil, &vms)
	return vms, err
}

// InspectVM returns the VM called name.
func (c *Client) InspectVM(ctx context.Context, name string) (model.VM, error) {
	var vm model.VM
	err := c.Do(ctx, http.MethodGet, api.VMPath(name), nil, &vm)
	return vm, err
}

// StopVM powers the VM off, forcing it after a timeout.
func (c *Client) StopVM(ctx context.Context, name string) (model.VM, error) {
	var vm model.VM
	err := c.Do(ctx, http.MethodPost, api.VMStopPath(name), nil, &vm)
	return vm, err
}

// RemoveVM deletes a stopped VM (a running one too with force).
func (c *Client) RemoveVM(ctx context.Context, name string, force bool) error {
	path := api.VMPath(name)
	if force {
		path += "?force=1"
	}
	return c.Do(ctx, http.MethodDelete, path, nil, nil)
}

// VMLogs returns the VM's console log.
func (c *Client) VMLogs(ctx context.Context, name string) (string, error) {
	var l api.VMLogs
	err := c.Do(ctx, http.MethodGet, api.VMLogsPath(name), nil, &l)
	return l.Console, err
}
