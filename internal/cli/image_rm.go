package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) imageRmCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "rm NAME...",
		Aliases: []string{"remove"},
		Short:   "Remove images and their files",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			var errs []error
			for _, name := range args {
				if err := c.RemoveImage(cmd.Context(), name); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(a.env.Stdout, "removed image %q\n", name)
			}
			return errors.Join(errs...)
		},
	}
}
