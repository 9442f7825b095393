package cli

import (
	"fmt"
	"path/filepath"

	"github.com/banger-dev/banger/internal/api"
	"github.com/spf13/cobra"
)

func (a *app) imageRegisterCmd() *cobra.Command {
	var req api.RegisterImageRequest
	cmd := &cobra.Command{
		Use:   "register NAME --rootfs FILE",
		Short: "Add an existing ext4 root filesystem as an image",
		Long: "Copy (or, with --move, hand over) an ext4 file into banger's image store under NAME.\n" +
			"The copy keeps the file's holes, so a sparse image stays small.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Name = args[0]
			abs, err := filepath.Abs(req.Rootfs)
			if err != nil {
				return err
			}
			req.Rootfs = abs
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			progress, done := a.progressPrinter()
			img, err := c.RegisterImage(cmd.Context(), req, progress)
			done()
			if err != nil {
				return err
			}
			fmt.Fprintf(a.env.Stdout, "registered image %q (id %s, %s)\n", img.Name, shortID(img.ID), humanSize(img.SizeBytes))
			return nil
		},
	}
	cmd.Flags().StringVar(&req.Rootfs, "rootfs", "", "ext4 file holding the root filesystem (required)")
	cmd.Flags().StringVar(&req.KernelRef, "kernel-ref", "", "kernel to boot the image with")
	cmd.Flags().BoolVar(&req.Move, "move", false, "move the file into the store instead of copying it")
	cmd.MarkFlagRequired("rootfs")
	return cmd
}
