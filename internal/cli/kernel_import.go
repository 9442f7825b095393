package cli

import (
	"path/filepath"

	"github.com/banger-dev/banger/internal/api"
	"github.com/spf13/cobra"
)

func (a *app) kernelImportCmd() *cobra.Command {
	var req api.ImportKernelRequest
	cmd := &cobra.Command{
		Use:   "import NAME (--kernel FILE [--modules DIR] [--initrd FILE] [--config FILE] | --deb FILE | --package FILE)",
		Short: "Install a kernel from local files or a distro package",
		Long: "Install a kernel under NAME from a local build (--kernel, with its modules directory,\n" +
			"initrd and config), from a Debian linux-image-*.deb (--deb, unpacked without installing\n" +
			"it), or from a Void .xbps or a tarball laid out like an installed system (--package).",
		Example: "  banger kernel import debian --deb linux-image-6.1.0-28-cloud-amd64_6.1.119-1_amd64.deb\n" +
			"  banger kernel import mine --kernel arch/x86/boot/bzImage --config .config",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Name = args[0]
			for _, p := range []*string{&req.Kernel, &req.Modules, &req.Initrd, &req.Config, &req.Deb, &req.Package} {
				if *p == "" {
					continue
				}
				abs, err := filepath.Abs(*p)
				if err != nil {
					return err
				}
				*p = abs
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			progress, done := a.progressPrinter()
			res, err := c.ImportKernel(cmd.Context(), req, progress)
			done()
			if err != nil {
				return err
			}
			a.printKernelResult("imported", res)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Kernel, "kernel", "", "kernel image (bzImage or vmlinux)")
	f.StringVar(&req.Modules, "modules", "", "the kernel's modules directory, e.g. /lib/modules/6.1.0-28-cloud-amd64")
	f.StringVar(&req.Initrd, "initrd", "", "initrd to keep with the kernel")
	f.StringVar(&req.Config, "config", "", "the kernel's .config")
	f.StringVar(&req.Deb, "deb", "", "Debian kernel package (linux-image-*.deb)")
	f.StringVar(&req.Package, "package", "", "kernel package: .deb, .xbps or tarball")
	cmd.MarkFlagsOneRequired("kernel", "deb", "package")
	cmd.MarkFlagsMutuallyExclusive("kernel", "deb", "package")
	return cmd
}
