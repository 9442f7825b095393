package cli

import (
	"context"

	"github.com/banger-dev/banger/internal/client"
	"github.com/spf13/cobra"
)

func (a *app) kernelRmCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm NAME...",
		Aliases: []string{"remove"},
		Short:   "Remove kernels and their files",
		Long:    "Remove kernels. A kernel that images boot with is kept unless --force is given.",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.forEachName(cmd.Context(), args, "kernel", "removed", func(c *client.Client, ctx context.Context, name string) error {
				return c.RemoveKernel(ctx, name, force)
			})
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "remove even while images use the kernel")
	return cmd
}
