package cli

import (
	"fmt"

	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/errdefs"
	"github.com/spf13/cobra"
)

func (a *app) vmAttachCmd() *cobra.Command {
	var req api.AttachVMRequest
	cmd := &cobra.Command{
		Use:   "attach VM",
		Short: "Attach to the main process of a running VM",
		Long: "Attach to the main process of a VM started with vm run -d (or left by a detached vm run):\n" +
			"what it wrote while nobody was attached (the last MiB), then its output as it comes; banger\n" +
			"exits with its exit code. Its stdin is forwarded if it was started with -i (--no-stdin keeps\n" +
			"yours), and its terminal follows yours if it was started with -t. Ctrl-C sends SIGINT to the\n" +
			"process; a second Ctrl-C detaches again (the VM keeps running).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			at, err := c.AttachVM(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			if at.ForwardsStdin && at.TTY && terminalFd(a.env.Stdin) < 0 {
				at.Close()
				return errdefs.Newf(errdefs.ErrInvalid, "vm %q runs its process on a terminal with stdin: attach from a terminal, or with --no-stdin", at.VM)
			}
			opts, err := a.attachTerminal(at.ForwardsStdin, at.TTY)
			if err != nil {
				at.Close()
				return err
			}
			if at.TTY {
				at.Resize(opts.rows, opts.cols) //nolint:errcheck // Wait reports a broken stream
			}
			opts.detachNote = fmt.Sprintf("vm %q keeps running (banger vm attach %s, banger vm stop %s)", at.VM, at.VM, at.VM)
			return a.drive(at, opts)
		},
	}
	cmd.Flags().BoolVar(&req.NoStdin, "no-stdin", false, "do not forward stdin, even to a process started with -i")
	return cmd
}
