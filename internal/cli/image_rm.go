package cli

import (
	"github.com/banger-dev/banger/internal/client"
	"github.com/spf13/cobra"
)

func (a *app) imageRmCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "rm NAME...",
		Aliases: []string{"remove"},
		Short:   "Remove images and their files",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.forEachName(cmd.Context(), args, "image", "removed", (*client.Client).RemoveImage)
		},
	}
}
