// Command banger-init is the guest's PID 1 inside banger's microVMs. It is
// built static (CGO_ENABLED=0) and placed as /init in the initramfs; see
// internal/guestinit.
package main

import "github.com/banger-dev/banger/internal/guestinit"

func main() { guestinit.Main() }
