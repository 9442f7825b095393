package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

// imageSetKernelCmd is "banger image set-kernel": it lives with the kernel
// commands because it is about which kernel an image boots.
func (a *app) imageSetKernelCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "set-kernel IMAGE KERNEL",
		Short: "Choose the kernel an image boots with",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			img, err := c.SetImageKernel(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			fmt.Fprintf(a.env.Stdout, "image %q now boots kernel %q\n", img.Name, img.Kernel)
			return nil
		},
	}
}
