package api

import (
	"encoding/binary"
	"errors"
	"net/url"
)

// Attaching to a process in a VM. The client POSTs a JSON body to
// PathVMExecAttach (ExecAttachRequest), PathVMRunAttach (RunVMRequest,
// foreground only) or PathVMAttach (AttachVMRequest: the main process of a
// running VM) with the headers "Connection: Upgrade" and
// "Upgrade: AttachProtocol". A failure before the process starts answers
// as any request (an Error body); success answers 101 Switching Protocols,
// after which the connection carries frames in internal/agent's format (a
// 12-byte header, session id 0) in both directions:
//
//	client → daemon  Stdin       bytes (ignored unless the request asked for stdin)
//	                 StdinClose  (empty): stdin reached its end
//	                 Resize      EncodeResize: the terminal's new size
//	                 Signal      EncodeSignal: a signal for the process (and its group)
//	daemon → client  Stdout      bytes (all output with a TTY)
//	                 Stderr      bytes
//	                 Exit        EncodeExit: the exit code; the daemon then hangs up
//	                 Error       an Error as JSON; the daemon then hangs up
//
// When the client hangs up first, an exec'd process is killed; a VM's main
// process keeps running (the client detached).
const (
	AttachProtocol   = "banger-attach/1"
	PathVMExecAttach = "/v1/vms/{name}/exec/attach"
	PathVMRunAttach  = "/v1/vms/run/attach"
	PathVMAttach     = "/v1/vms/{name}/attach"
	// HeaderVM names the VM in the 101 answer.
	HeaderVM = "Banger-Vm"
	// HeaderStdin and HeaderTTY, "1" in the 101 answer to PathVMAttach, say
	// that the stream forwards stdin and that the process has a terminal
	// (it was started with vm run -i, -t).
	HeaderStdin = "Banger-Stdin"
	HeaderTTY   = "Banger-Tty"
)

// VMAttachPath is the path to attach to the main process of the VM called
// name.
func VMAttachPath(name string) string {
	return PathVMs + "/" + url.PathEscape(name) + "/attach"
}

// AttachVMRequest is the body of POST PathVMAttach.
type AttachVMRequest struct {
	// NoStdin leaves the process's stdin alone even if it takes one.
	NoStdin bool `json:"no_stdin,omitempty"`
}

// VMExecAttachPath is the path to attach an exec to the VM called name.
func VMExecAttachPath(name string) string {
	return PathVMs + "/" + url.PathEscape(name) + "/exec/attach"
}

// ExecAttachRequest is the body of POST PathVMExecAttach.
type ExecAttachRequest struct {
	ExecVMRequest
	// Stdin forwards the client's Stdin frames; without it the process's
	// stdin is at its end from the start.
	Stdin bool `json:"stdin,omitempty"`
	// TTY gives the process a terminal of Rows x Cols.
	TTY  bool   `json:"tty,omitempty"`
	Rows uint16 `json:"rows,omitempty"`
	Cols uint16 `json:"cols,omitempty"`
}

var errShortPayload = errors.New("attach frame payload too short")

// EncodeResize is the payload of a Resize frame.
func EncodeResize(rows, cols uint16) []byte {
	return binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, rows), cols)
}

// DecodeResize reads a Resize payload.
func DecodeResize(p []byte) (rows, cols uint16, err error) {
	if len(p) < 4 {
		return 0, 0, errShortPayload
	}
	return binary.BigEndian.Uint16(p), binary.BigEndian.Uint16(p[2:]), nil
}

// EncodeSignal is the payload of a Signal frame: the signal number.
func EncodeSignal(sig int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(sig)) }

// DecodeSignal reads a Signal payload.
func DecodeSignal(p []byte) (int, error) {
	if len(p) < 4 {
		return 0, errShortPayload
	}
	return int(binary.BigEndian.Uint32(p)), nil
}

// EncodeExit is the payload of an Exit frame: the exit code (128+signal for
// a killed process).
func EncodeExit(code int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(int32(code))) }

// DecodeExit reads an Exit payload.
func DecodeExit(p []byte) (int, error) {
	if len(p) < 4 {
		return 0, errShortPayload
	}
	return int(int32(binary.BigEndian.Uint32(p))), nil
}
