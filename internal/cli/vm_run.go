package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/errdefs"
	"github.com/spf13/cobra"
)

func (a *app) vmRunCmd() *cobra.Command {
	var req api.RunVMRequest
	var disk string
	var ports []string
	var interactive, tty bool
	cmd := &cobra.Command{
		Use:   "run IMAGE [flags] [-- CMD...]",
		Short: "Boot a VM from an image and run its process",
		Long: "Boot a VM from an image: its own copy of the image's disk, the image's ENTRYPOINT/CMD (or the\n" +
			"command after --). In the foreground the process's output is shown and banger exits with its\n" +
			"exit code; Ctrl-C sends SIGINT to the process, a second Ctrl-C detaches (the VM keeps running).\n" +
			"With -d banger prints the VM's name once the guest is up.\n\n" +
			"-i forwards stdin to the process, -t gives it a terminal (with -i the local terminal goes raw,\n" +
			"so Ctrl-C reaches the guest), as vm exec does: `banger vm run --rm -it IMAGE -- sh`.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Image, req.Cmd = args[0], args[1:]
			if req.Init == "image" {
				if interactive || tty {
					return errdefs.Newf(errdefs.ErrInvalid, "--init=image runs detached: -i and -t need banger's init")
				}
				req.Detach = true // no agent reports the output: see vm logs
			}
			opts := attachOptions{fd: -1}
			if !req.Detach {
				var err error
				if opts, err = a.attachTerminal(interactive, tty); err != nil {
					return err
				}
			}
			req.Stdin, req.TTY, req.Rows, req.Cols = interactive, tty, opts.rows, opts.cols
			if disk != "" {
				var err error
				if req.DiskBytes, err = parseSize(disk); err != nil {
					return fmt.Errorf("--disk-size: %w", err)
				}
			}
			for _, p := range ports {
				pf, err := parsePort(p)
				if err != nil {
					return err
				}
				req.Ports = append(req.Ports, pf)
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			if !req.Detach {
				at, err := c.AttachRun(cmd.Context(), req)
				if err != nil {
					return err
				}
				opts.detachNote = fmt.Sprintf("vm %q keeps running (banger vm attach %s, banger vm stop %s)", at.VM, at.VM, at.VM)
				return a.drive(at, opts)
			}
			res, err := c.RunVM(cmd.Context(), req, a.env.Stdout, a.env.Stderr)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.env.Stdout, res.VM.Name)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Name, "name", "", "the VM's name (default: generated)")
	f.StringVar(&req.Kernel, "kernel", "", "boot with this installed kernel instead of the image's")
	f.IntVar(&req.CPUs, "cpus", 1, "virtual CPUs")
	f.IntVar(&req.MemoryMiB, "memory", 256, "memory in MiB")
	f.StringVar(&disk, "disk-size", "", "grow the VM's disk to this size, e.g. 4GiB")
	f.StringArrayVarP(&req.Env, "env", "e", nil, "set an environment variable (KEY=VALUE)")
	f.StringArrayVarP(&ports, "publish", "p", nil, "forward a host port to a guest port (HOST:GUEST)")
	f.BoolVar(&req.Remove, "rm", false, "remove the VM when it stops")
	f.BoolVarP(&req.Detach, "detach", "d", false, "return once the guest is up, printing the VM's name")
	f.StringVar(&req.Init, "init", "", "banger (default) or image: hand PID 1 to the image's /sbin/init\n"+
		"(runs detached, no command, no vm exec; vm logs shows the console, vm stop presses the power button)")
	f.BoolVarP(&interactive, "interactive", "i", false, "forward stdin to the process")
	f.BoolVarP(&tty, "tty", "t", false, "give the process a terminal")
	return cmd
}

// parsePort parses HOST:GUEST.
func parsePort(s string) (api.PortForward, error) {
	h, g, ok := strings.Cut(s, ":")
	hp, err1 := strconv.Atoi(h)
	gp, err2 := strconv.Atoi(g)
	if !ok || err1 != nil || err2 != nil || hp <= 0 || hp > 65535 || gp <= 0 || gp > 65535 {
		return api.PortForward{}, errdefs.Newf(errdefs.ErrInvalid, "invalid port forward %q (want HOST:GUEST, e.g. 8080:80)", s)
	}
	return api.PortForward{Host: hp, Guest: gp}, nil
}
