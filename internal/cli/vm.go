package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/errdefs"
	"github.com/spf13/cobra"
)

// exitError makes banger exit with a guest process's exit code, printing
// nothing more.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// exitCodeOf reports the exit code an error asks for.
func exitCodeOf(err error) (int, bool) {
	var e exitError
	if errors.As(err, &e) {
		return e.code, true
	}
	return 0, false
}

// processExit turns a guest process's exit code into the command's result.
func processExit(code int) error {
	if code == 0 {
		return nil
	}
	if code < 0 {
		code = 1
	}
	return exitError{code}
}

func (a *app) vmCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "vm", Short: "Run and manage microVMs"}
	cmd.AddCommand(a.vmRunCmd(), a.vmExecCmd(), a.vmListCmd(), a.vmInspectCmd(), a.vmLogsCmd(), a.vmStopCmd(), a.vmRmCmd())
	return cmd
}

func (a *app) vmRunCmd() *cobra.Command {
	var req api.RunVMRequest
	var disk string
	var ports []string
	cmd := &cobra.Command{
		Use:   "run IMAGE [flags] [-- CMD...]",
		Short: "Boot a VM from an image and run its process",
		Long: "Boot a VM from an image: its own copy of the image's disk, the image's ENTRYPOINT/CMD (or the\n" +
			"command after --). In the foreground the process's output is shown and banger exits with its\n" +
			"exit code; with -d banger prints the VM's name once the guest is up.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Image, req.Cmd = args[0], args[1:]
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
			res, err := c.RunVM(cmd.Context(), req, a.env.Stdout, a.env.Stderr)
			if err != nil {
				return err
			}
			if req.Detach {
				fmt.Fprintln(a.env.Stdout, res.VM.Name)
				return nil
			}
			return processExit(res.ExitCode)
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

func (a *app) vmExecCmd() *cobra.Command {
	var req api.ExecVMRequest
	cmd := &cobra.Command{
		Use:   "exec VM [flags] -- CMD...",
		Short: "Run a command in a running VM",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Cmd = args[1:]
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			res, err := c.ExecVM(cmd.Context(), args[0], req, a.env.Stdout, a.env.Stderr)
			if err != nil {
				return err
			}
			return processExit(res.ExitCode)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&req.Env, "env", "e", nil, "set an environment variable (KEY=VALUE)")
	f.StringVarP(&req.Dir, "workdir", "w", "", "working directory")
	f.StringVarP(&req.User, "user", "u", "", "user (name or uid, optionally :group)")
	return cmd
}

func (a *app) vmListCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List VMs",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format, "table", "json"); err != nil {
				return err
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			vms, err := c.ListVMs(cmd.Context())
			if err != nil {
				return err
			}
			if format == "json" {
				return writeJSON(a.env.Stdout, vms)
			}
			tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tID\tIMAGE\tKERNEL\tSTATE\tPID\tEXIT")
			for _, vm := range vms {
				pid, exit := "-", "-"
				if vm.PID > 0 {
					pid = strconv.Itoa(vm.PID)
				}
				if vm.ExitCode >= 0 {
					exit = strconv.Itoa(vm.ExitCode)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", vm.Name, shortID(vm.ID), orDash(vm.Image), orDash(vm.Kernel), vm.State, pid, exit)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	return cmd
}

func (a *app) vmInspectCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "inspect VM",
		Short: "Show a VM as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			vm, err := c.InspectVM(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return writeJSON(a.env.Stdout, vm)
		},
	}
}

func (a *app) vmLogsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "logs VM",
		Short: "Print a VM's console log",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			log, err := c.VMLogs(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprint(a.env.Stdout, log)
			return nil
		},
	}
}

func (a *app) vmStopCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "stop VM...",
		Short: "Power VMs off (forced after a timeout)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			var errs []error
			for _, name := range args {
				if _, err := c.StopVM(cmd.Context(), name); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(a.env.Stdout, "stopped vm %q\n", name)
			}
			return errors.Join(errs...)
		},
	}
}

func (a *app) vmRmCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm VM...",
		Aliases: []string{"remove"},
		Short:   "Remove VMs and their disks",
		Long:    "Remove VMs. A running VM is refused unless --force is given, which kills it.",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			var errs []error
			for _, name := range args {
				if err := c.RemoveVM(cmd.Context(), name, force); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(a.env.Stdout, "removed vm %q\n", name)
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "kill a running VM first")
	return cmd
}
