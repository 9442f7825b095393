package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/banger-dev/banger/internal/model"
	"github.com/spf13/cobra"
)

func (a *app) imageListCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List images",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format, "table", "json"); err != nil {
				return err
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			images, err := c.ListImages(cmd.Context())
			if err != nil {
				return err
			}
			if images == nil {
				images = []model.Image{}
			}
			if format == "json" {
				return writeJSON(a.env.Stdout, images)
			}
			return writeImageTable(a, images)
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	return cmd
}

func writeImageTable(a *app, images []model.Image) error {
	tw := tabwriter.NewWriter(a.env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tID\tKERNEL\tSIZE\tMANAGED\tCREATED")
	for _, img := range images {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%t\t%s\n", img.Name, shortID(img.ID), orDash(img.Kernel),
			humanSize(img.SizeBytes), img.Managed, img.Created.Local().Format("2006-01-02 15:04"))
	}
	return tw.Flush()
}
