// Package vmconfig holds the per-VM settings the host hands to banger-init:
// a JSON file inside a small cpio appended to the per-kernel initramfs.
package vmconfig

import (
	"encoding/json"
	"fmt"
	"os"
)

// Paths inside the initramfs, relative to its root.
const (
	// Path is the per-VM settings file.
	Path = "banger/vm.json"
	// ModulesPath lists the kernel modules to load, one initramfs path a
	// line, in load order. It belongs to the per-kernel part.
	ModulesPath = "banger/modules"
)

// Init modes.
const (
	InitBanger = "banger" // banger-init supervises the process (default)
	InitImage  = "image"  // exec the image's own /sbin/init after switching root
)

// Config is everything banger-init needs to know about one VM. Its zero value
// boots /dev/vda and runs nothing useful: Process.Args must be set.
type Config struct {
	Hostname string   `json:"hostname,omitempty"`
	Network  *Network `json:"network,omitempty"`
	Process  Process  `json:"process"`
	// Init is InitBanger (or empty) or InitImage.
	Init string `json:"init,omitempty"`
	// RootDevice defaults to /dev/vda; the root filesystem is ext4.
	RootDevice string `json:"root_device,omitempty"`
}

// Network is a static IPv4 configuration of one interface.
type Network struct {
	Interface string   `json:"interface,omitempty"` // default eth0
	Address   string   `json:"address"`             // CIDR, e.g. 10.0.2.15/24
	Gateway   string   `json:"gateway,omitempty"`
	DNS       []string `json:"dns,omitempty"`
}

// Process is the image's main process, resolved from its ENTRYPOINT, CMD,
// ENV, WORKDIR and USER plus the user's overrides.
type Process struct {
	Args []string `json:"args"`
	Env  []string `json:"env,omitempty"` // KEY=VALUE
	// WorkingDir defaults to "/", as in Docker; it is created when missing.
	WorkingDir string `json:"working_dir,omitempty"`
	// User is "name", "uid", "name:group" or "uid:gid", resolved through the
	// image's /etc/passwd and /etc/group; empty means root.
	User string `json:"user,omitempty"`
	// TTY gives the process the serial console as its controlling terminal.
	TTY bool `json:"tty,omitempty"`
	// PTY gives the process a pseudo-terminal of Rows x Cols instead, whose
	// master the agent relays: output as the main session's stdout, the
	// host's stdin and resizes as its input. It wins over TTY.
	PTY  bool   `json:"pty,omitempty"`
	Rows uint16 `json:"rows,omitempty"`
	Cols uint16 `json:"cols,omitempty"`
	// Stdin makes the host's stdin, through the agent, the process's stdin
	// (a pipe; the terminal with PTY). Without it stdin is /dev/null.
	Stdin bool `json:"stdin,omitempty"`
}

// Load reads a Config from a JSON file.
func Load(path string) (Config, error) {
	var c Config
	data, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("reading vm settings: %w", err)
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("parsing vm settings %s: %w", path, err)
	}
	return c, nil
}
