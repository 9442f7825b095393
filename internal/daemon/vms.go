package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/banger-dev/banger/internal/agent"
	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/errdefs"
	"github.com/banger-dev/banger/internal/model"
	"github.com/banger-dev/banger/internal/vmm"
)

// VMs live in vms/<id>/: disk.ext4 (a private copy of the image), initrd
// (the kernel's cached initramfs plus the VM's settings), console.log and
// the monitor's sockets. The store row says what the VM is; vmSet knows the
// machines this daemon runs. A machine belongs to the daemon that started
// it: at start, rows still marked running are reconciled (their monitor
// killed, the row marked stopped).

// stopTimeout bounds a graceful stop before the machine is killed.
const stopTimeout = 15 * time.Second

// vmSet is the VM feature's state: the machines this daemon runs, by name.
type vmSet struct {
	d    *Daemon
	mu   sync.Mutex
	live map[string]*liveVM
}

// liveVM is one running machine and its agent connection.
type liveVM struct {
	vm     model.VM
	m      vmm.Machine
	agent  *agent.Client // set before ready is closed; nil if the guest never connected
	ready  chan struct{}
	exited chan struct{} // closed once the machine is gone and the row updated

	// noAgent marks a VM booted with the image's own init: nothing in the
	// guest answers the agent connection.
	noAgent bool
	// stdin and tty: the main process takes stdin through the agent, and
	// has a terminal (vm run -i, -t).
	stdin, tty bool
}

func (d *Daemon) vmRoutes(mux *http.ServeMux) {
	v := &vmSet{d: d, live: map[string]*liveVM{}}
	mux.Handle("GET "+api.PathVMs, d.jsonHandler(func(r *http.Request) (any, error) {
		return d.store.ListVMs(r.Context())
	}))
	mux.Handle("GET "+api.PathVM, d.jsonHandler(func(r *http.Request) (any, error) {
		return d.store.GetVM(r.Context(), r.PathValue("name"))
	}))
	mux.Handle("GET "+api.PathVMLogs, d.jsonHandler(v.handleLogs))
	mux.Handle("POST "+api.PathVMStop, d.jsonHandler(v.handleStop))
	mux.Handle("DELETE "+api.PathVM, d.jsonHandler(v.handleRemove))
	mux.Handle("POST "+api.PathVMs, d.streamHandler(func(r *http.Request, progress api.ProgressFunc) (any, error) {
		var req api.RunVMRequest
		if err := decodeBody(r, &req); err != nil {
			return nil, err
		}
		return v.run(r.Context(), req, progress)
	}))
	mux.Handle("POST "+api.PathVMExec, d.streamHandler(func(r *http.Request, progress api.ProgressFunc) (any, error) {
		var req api.ExecVMRequest
		if err := decodeBody(r, &req); err != nil {
			return nil, err
		}
		return v.exec(r.Context(), r.PathValue("name"), req, progress)
	}))
	v.attachRoutes(mux)
}

func (v *vmSet) get(name string) *liveVM {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.live[name]
}

func (v *vmSet) handleLogs(r *http.Request) (any, error) {
	vm, err := v.d.store.GetVM(r.Context(), r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(vm.Dir, "console.log"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reading console log: %w", err)
	}
	return api.VMLogs{Console: string(b)}, nil
}

// handleStop asks the guest to shut down through the agent, then presses
// the power button, then kills the machine.
func (v *vmSet) handleStop(r *http.Request) (any, error) {
	ctx, name := r.Context(), r.PathValue("name")
	unlock, err := v.d.lockName(ctx, "vm", name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if _, err := v.d.store.GetVM(ctx, name); err != nil {
		return nil, err
	}
	if l := v.get(name); l != nil {
		v.stop(ctx, l)
	}
	vm, err := v.d.store.GetVM(ctx, name)
	if errdefs.CategoryOf(err) == errdefs.ErrNotFound {
		return model.VM{Name: name, State: model.VMStopped, ExitCode: -1}, nil // removed by --rm
	}
	return vm, err
}

func (v *vmSet) stop(ctx context.Context, l *liveVM) {
	select {
	case <-l.ready:
	case <-l.exited:
		return
	}
	if l.agent != nil && !l.noAgent {
		sctx, cancel := context.WithTimeout(ctx, stopTimeout)
		err := l.agent.Shutdown(sctx)
		cancel()
		if err == nil {
			select {
			case <-l.exited:
				return
			case <-time.After(stopTimeout):
			}
		}
	}
	l.m.Stop(ctx, 5*time.Second)
	<-l.exited
}

// handleRemove deletes a VM: its row and its directory. A running VM is
// refused unless force, which kills it first.
func (v *vmSet) handleRemove(r *http.Request) (any, error) {
	ctx, name := r.Context(), r.PathValue("name")
	unlock, err := v.d.lockName(ctx, "vm", name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	vm, err := v.d.store.GetVM(ctx, name)
	if err != nil {
		return nil, err
	}
	if l := v.get(name); l != nil {
		if r.URL.Query().Get("force") == "" {
			return nil, errdefs.Newf(errdefs.ErrConflict, "vm %q is running; stop it first or use --force", name)
		}
		l.m.Kill()
		<-l.exited
	}
	v.remove(ctx, vm)
	return nil, nil
}

// remove deletes vm's row and directory; a missing row is fine (--rm).
func (v *vmSet) remove(ctx context.Context, vm model.VM) { v.d.removeVMRecord(ctx, vm) }

// outputWriter sends what is written as output events of one stream.
type outputWriter struct {
	phase    string
	progress api.ProgressFunc
}

func (w outputWriter) Write(p []byte) (int, error) {
	raw, err := json.Marshal(p)
	if err != nil {
		return 0, err
	}
	w.progress(api.Event{Phase: w.phase, Result: raw})
	return len(p), nil
}
