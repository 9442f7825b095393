package cli

import (
	"errors"
	"fmt"

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
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			var errs []error
			for _, name := range args {
				if err := c.RemoveKernel(cmd.Context(), name, force); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(a.env.Stdout, "removed kernel %q\n", name)
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "remove even while images use the kernel")
	return cmd
}
