package cli

import (
	"path/filepath"
	"strings"

	"github.com/banger-dev/banger/internal/api"
	"github.com/spf13/cobra"
)

func (a *app) kernelPullCmd() *cobra.Command {
	var req api.PullKernelRequest
	cmd := &cobra.Command{
		Use:   "pull NAME",
		Short: "Download a kernel listed in a catalog",
		Long: "Download the kernel NAME from the built-in catalog (or --catalog), verifying every byte\n" +
			"against the catalog's size and sha256, and install it as NAME. Pulling again is a no-op\n" +
			"while the catalog's digest is unchanged; a changed one replaces the kernel.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Name = args[0]
			if req.Catalog != "" && !strings.Contains(req.Catalog, "://") {
				abs, err := filepath.Abs(req.Catalog)
				if err != nil {
					return err
				}
				req.Catalog = abs
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			progress, done := a.progressPrinter()
			res, err := c.PullKernel(cmd.Context(), req, progress)
			done()
			if err != nil {
				return err
			}
			a.printKernelResult("pulled", res)
			return nil
		},
	}
	cmd.Flags().StringVar(&req.Catalog, "catalog", "", "catalog to read: an https:// URL or a file (default: the built-in one)")
	cmd.Flags().StringVar(&req.Arch, "arch", "", "architecture, amd64 or arm64 (default: the host's)")
	return cmd
}
