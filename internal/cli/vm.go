package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/banger-dev/banger/internal/client"
	"github.com/banger-dev/banger/internal/model"
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
	cmd.AddCommand(a.vmRunCmd(), a.vmAttachCmd(), a.vmExecCmd(), a.vmListCmd(), a.vmInspectCmd(), a.vmLogsCmd(), a.vmStopCmd(), a.vmRmCmd())
	return cmd
}

func (a *app) vmListCmd() *cobra.Command {
	return listCmd(a, "List VMs", (*client.Client).ListVMs, vmTable)
}

var vmTable = table[model.VM]{
	header: []string{"NAME", "ID", "IMAGE", "KERNEL", "STATE", "PID", "EXIT"},
	row: func(vm model.VM) []string {
		pid, exit := "-", "-"
		if vm.PID > 0 {
			pid = strconv.Itoa(vm.PID)
		}
		if vm.ExitCode >= 0 {
			exit = strconv.Itoa(vm.ExitCode)
		}
		return []string{vm.Name, shortID(vm.ID), orDash(vm.Image), orDash(vm.Kernel), string(vm.State), pid, exit}
	},
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
			return a.forEachName(cmd.Context(), args, "vm", "stopped", func(c *client.Client, ctx context.Context, name string) error {
				_, err := c.StopVM(ctx, name)
				return err
			})
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
			return a.forEachName(cmd.Context(), args, "vm", "removed", func(c *client.Client, ctx context.Context, name string) error {
				return c.RemoveVM(ctx, name, force)
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "kill a running VM first")
	return cmd
}
