package cli

import (
	"fmt"

	"github.com/banger-dev/banger/internal/api"
	"github.com/spf13/cobra"
)

func (a *app) kernelCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "kernel", Short: "Manage guest kernels"}
	cmd.AddCommand(a.kernelPullCmd(), a.kernelImportCmd(), a.kernelListCmd(), a.kernelInspectCmd(), a.kernelRmCmd())
	return cmd
}

// printKernelResult reports a pull or import, and warns when the kernel
// will not boot under QEMU microvm.
func (a *app) printKernelResult(verb string, res api.KernelResult) {
	k := res.Kernel
	if res.UpToDate {
		fmt.Fprintf(a.env.Stdout, "kernel %q is up to date (%s)\n", k.Name, k.Digest)
		return
	}
	if res.Replaced != "" {
		verb = "updated"
	}
	fmt.Fprintf(a.env.Stdout, "%s kernel %q (%s, %s, %s, %s)\n", verb, k.Name, orDash(k.Release), orDash(k.Arch),
		orDash(k.Format), humanSize(k.SizeBytes))
	if !k.Boots {
		fmt.Fprintf(a.env.Stderr, "warning: kernel %q does not boot under QEMU microvm; see banger kernel inspect %s\n", k.Name, k.Name)
	}
}
