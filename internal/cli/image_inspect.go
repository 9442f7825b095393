package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/banger-dev/banger/internal/model"
	"github.com/spf13/cobra"
)

func (a *app) imageInspectCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect NAME",
		Short: "Show an image's details",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, "text", "json"); err != nil {
				return err
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			img, err := c.InspectImage(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if format == "json" {
				return writeJSON(a.env.Stdout, img)
			}
			return writeImageText(a, img)
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}

func writeImageText(a *app, img model.Image) error {
	tw := tabwriter.NewWriter(a.env.Stdout, 0, 0, 1, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", k, v)
		}
	}
	row("name", img.Name)
	row("id", img.ID)
	row("ref", img.Ref)
	row("digest", img.Digest)
	row("platform", img.Platform)
	row("rootfs", img.RootfsPath)
	row("size", fmt.Sprintf("%s (%d bytes)", humanSize(img.SizeBytes), img.SizeBytes))
	row("managed", fmt.Sprint(img.Managed))
	row("kernel", orDash(img.Kernel))
	row("parent", img.Parent)
	row("entrypoint", strings.Join(img.Config.Entrypoint, " "))
	row("cmd", strings.Join(img.Config.Cmd, " "))
	row("workdir", img.Config.WorkingDir)
	row("user", img.Config.User)
	for _, e := range img.Config.Env {
		row("env", e)
	}
	row("created", img.Created.Local().Format(time.RFC3339))
	return tw.Flush()
}
