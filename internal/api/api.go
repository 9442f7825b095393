// Package api defines the daemon's HTTP/JSON interface over its Unix socket:
// paths, request and response bodies, the NDJSON progress stream of long
// operations, and how error categories travel.
//
// Plain requests answer with a JSON body (2xx) or an Error body (4xx/5xx).
// Long operations answer 200 with Content-Type application/x-ndjson and a
// stream of Events: any number of "progress" events, then exactly one
// "result" or "error" event. Closing the connection cancels the operation,
// which then rolls back.
package api

import (
	"net/url"
	"time"
)

// Paths of the API. Patterns with {name} take a path-escaped name.
const (
	PathPing          = "/v1/ping"
	PathStatus        = "/v1/status"
	PathShutdown      = "/v1/shutdown"
	PathImages        = "/v1/images"
	PathImage         = "/v1/images/{name}"
	PathImageRegister = "/v1/images/register"
)

// MaxBodyBytes bounds request bodies; larger ones are rejected with 400.
const MaxBodyBytes = 1 << 20

// ContentTypeJSON and ContentTypeNDJSON are the response content types.
const (
	ContentTypeJSON   = "application/json"
	ContentTypeNDJSON = "application/x-ndjson"
)

// ImagePath is the path of the image called name.
func ImagePath(name string) string { return PathImages + "/" + url.PathEscape(name) }

// Status describes a running daemon (GET PathStatus, and PathPing).
type Status struct {
	PID      int       `json:"pid"`
	Version  string    `json:"version"`
	StateDir string    `json:"state_dir"`
	Socket   string    `json:"socket"`
	Started  time.Time `json:"started"`
}

// RegisterImageRequest is the body of POST PathImageRegister; the stream's
// result is a model.Image.
type RegisterImageRequest struct {
	// Name is the new image's unique name.
	Name string `json:"name"`
	// Rootfs is the absolute path of an ext4 file readable by the daemon.
	Rootfs string `json:"rootfs"`
	// KernelRef names the kernel to boot the image with (optional).
	KernelRef string `json:"kernel_ref,omitempty"`
	// Move hands the file over instead of copying it: it is removed from
	// Rootfs once the image is recorded.
	Move bool `json:"move,omitempty"`
}
