package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/client"
	"github.com/banger-dev/banger/internal/model"
	"github.com/spf13/cobra"
)

func (a *app) kernelListCmd() *cobra.Command {
	return listCmd(a, "List installed kernels", (*client.Client).ListKernels, kernelTable)
}

var kernelTable = table[model.Kernel]{
	header: []string{"NAME", "RELEASE", "ARCH", "FORMAT", "BOOTS", "SIZE", "CREATED"},
	row: func(k model.Kernel) []string {
		return []string{k.Name, orDash(k.Release), orDash(k.Arch), orDash(k.Format), yesNo(k.Boots),
			humanSize(k.SizeBytes), k.Created.Local().Format("2006-01-02 15:04")}
	},
}

func (a *app) kernelInspectCmd() *cobra.Command {
	return inspectCmd(a, "Show a kernel's details and whether it boots under QEMU microvm", (*client.Client).InspectKernel, writeKernelText)
}

func writeKernelText(a *app, k api.KernelDetails) error {
	f := newFields(a)
	row := f.add
	row("name", k.Name)
	row("version", k.Version)
	row("release", k.Release)
	row("arch", k.Arch)
	row("format", k.Format)
	row("dir", k.Dir)
	row("image", k.Image)
	row("modules", k.Modules)
	row("initrd", k.Initrd)
	row("config", k.Config)
	row("source", k.Source)
	row("digest", k.Digest)
	row("size", fmt.Sprintf("%s (%d bytes)", humanSize(k.SizeBytes), k.SizeBytes))
	row("created", k.Created.Local().Format(time.RFC3339))
	row("boots under QEMU microvm", yesNo(k.Report.Boots))
	row("modules needed", strings.Join(k.Report.ModulesNeeded, " "))
	if err := f.flush(); err != nil {
		return err
	}
	for _, r := range k.Report.Reasons {
		fmt.Fprintf(a.env.Stdout, "  - %s\n", r)
	}
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
