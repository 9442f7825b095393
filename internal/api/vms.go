package api

import (
	"net/url"

	"github.com/banger-dev/banger/internal/model"
)

// Paths of VMs. POST PathVMs runs a VM (a stream of RunVMRequest's output).
const (
	PathVMs     = "/v1/vms"
	PathVM      = "/v1/vms/{name}"
	PathVMExec  = "/v1/vms/{name}/exec"
	PathVMStop  = "/v1/vms/{name}/stop"
	PathVMLogs  = "/v1/vms/{name}/logs"
	PhaseStdout = "stdout"
	PhaseStderr = "stderr"
)

// VMPath is the path of the VM called name (GET: model.VM; DELETE: remove,
// "?force=1" to kill a running one first).
func VMPath(name string) string { return PathVMs + "/" + url.PathEscape(name) }

// VMExecPath, VMStopPath and VMLogsPath are the paths of a VM's actions.
func VMExecPath(name string) string { return VMPath(name) + "/exec" }

// VMStopPath is the path to POST to stop the VM called name.
func VMStopPath(name string) string { return VMPath(name) + "/stop" }

// VMLogsPath is the path of the console log of the VM called name.
func VMLogsPath(name string) string { return VMPath(name) + "/logs" }

// RunVMRequest is the body of POST PathVMs. The stream carries the main
// process's output as progress events with Phase PhaseStdout or
// PhaseStderr and the bytes in Result (a JSON base64 string); its result
// is a RunResult.
type RunVMRequest struct {
	Image string `json:"image"`
	// Name is the VM's name; generated when empty.
	Name string `json:"name,omitempty"`
	// Kernel overrides the image's kernel.
	Kernel    string `json:"kernel,omitempty"`
	CPUs      int    `json:"cpus,omitempty"`
	MemoryMiB int    `json:"memory_mib,omitempty"`
	// DiskBytes grows the VM's disk copy; 0 keeps the image's size.
	DiskBytes int64 `json:"disk_bytes,omitempty"`
	// Env is added to the image's environment (KEY=VALUE).
	Env []string `json:"env,omitempty"`
	// Ports forward host loopback ports to guest ports.
	Ports []PortForward `json:"ports,omitempty"`
	// Cmd replaces the image's CMD (the ENTRYPOINT stays).
	Cmd []string `json:"cmd,omitempty"`
	// Remove deletes the VM once it stops.
	Remove bool `json:"remove,omitempty"`
	// Detach answers once the guest is up instead of streaming output.
	Detach bool `json:"detach,omitempty"`
	// Init is "banger" (the default: banger-init runs the process, with the
	// agent) or "image" (the image's own /sbin/init; no command, no agent,
	// so Detach is required and vm stop presses the power button).
	Init string `json:"init,omitempty"`
	// Stdin gives the main process a stdin fed by the attach stream's Stdin
	// frames (PathVMRunAttach); without it stdin is /dev/null.
	Stdin bool `json:"stdin,omitempty"`
	// TTY gives the main process a terminal of Rows x Cols, its size
	// following the attach stream's Resize frames.
	TTY  bool   `json:"tty,omitempty"`
	Rows uint16 `json:"rows,omitempty"`
	Cols uint16 `json:"cols,omitempty"`
}

// PortForward maps a host port to a guest TCP port.
type PortForward struct {
	Host  int `json:"host"`
	Guest int `json:"guest"`
}

// RunResult ends a run or exec stream.
type RunResult struct {
	VM model.VM `json:"vm"`
	// ExitCode is the process's exit code (128+signal when killed); unset
	// for a detached run.
	ExitCode int `json:"exit_code"`
}

// ExecVMRequest is the body of POST PathVMExec; the stream is as a run's.
type ExecVMRequest struct {
	Cmd []string `json:"cmd"`
	Env []string `json:"env,omitempty"`
	// Dir and User default to the guest's defaults.
	Dir  string `json:"dir,omitempty"`
	User string `json:"user,omitempty"`
}

// VMLogs is the answer of GET PathVMLogs.
type VMLogs struct {
	Console string `json:"console"`
}
