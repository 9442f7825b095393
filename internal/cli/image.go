package cli

import "github.com/spf13/cobra"

func (a *app) imageCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "image", Short: "Manage root filesystem images"}
	cmd.AddCommand(a.imageRegisterCmd(), a.imageListCmd(), a.imageInspectCmd(), a.imageRmCmd(),
		a.imagePullCmd(), a.imageCacheCmd())
	cmd.AddCommand(a.imageSetKernelCmd(), a.imageBuildCmd())
	return cmd
}
