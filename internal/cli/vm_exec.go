package cli

import (
	"fmt"

	"github.com/banger-dev/banger/internal/api"
	"github.com/spf13/cobra"
)

func (a *app) vmExecCmd() *cobra.Command {
	var req api.ExecAttachRequest
	cmd := &cobra.Command{
		Use:   "exec VM [flags] -- CMD...",
		Short: "Run a command in a running VM",
		Long: "Run a command in a running VM through its agent; banger exits with the command's exit code.\n" +
			"-i forwards stdin, -t gives the command a terminal (with -i the local terminal goes raw, so\n" +
			"Ctrl-C reaches the guest). Otherwise Ctrl-C sends SIGINT to the command; a second Ctrl-C\n" +
			"hangs up, which kills it.",
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Cmd = args[1:]
			opts, err := a.attachTerminal(req.Stdin, req.TTY)
			if err != nil {
				return err
			}
			req.Rows, req.Cols = opts.rows, opts.cols
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			at, err := c.AttachExec(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			opts.detachNote = fmt.Sprintf("the command in vm %q was killed", at.VM)
			return a.drive(at, opts)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&req.Env, "env", "e", nil, "set an environment variable (KEY=VALUE)")
	f.StringVarP(&req.Dir, "workdir", "w", "", "working directory")
	f.StringVarP(&req.User, "user", "u", "", "user (name or uid, optionally :group)")
	f.BoolVarP(&req.Stdin, "interactive", "i", false, "forward stdin")
	f.BoolVarP(&req.TTY, "tty", "t", false, "give the command a terminal")
	return cmd
}
