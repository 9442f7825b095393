// Command banger-init is the guest's PID 1 inside banger's microVMs. It is
// built static (CGO_ENABLED=0) and placed as /init in the initramfs; see
// internal/guestinit.
//
// Run as any other process with the subcommand `export-tar ROOT` (the build
// reaches it as /proc/1/exe), it writes the tree at ROOT to stdout as a tar
// stream; see internal/treetar.
package main

import (
	"os"

	"github.com/banger-dev/banger/internal/guestinit"
	"github.com/banger-dev/banger/internal/treetar"
)

func main() {
	if os.Getpid() != 1 && len(os.Args) > 1 && os.Args[1] == "export-tar" {
		os.Exit(treetar.Main(os.Args[2:]))
	}
	guestinit.Main()
}
