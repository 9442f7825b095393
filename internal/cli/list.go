package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/banger-dev/banger/internal/client"
	"github.com/spf13/cobra"
)

// table describes how a kind of record prints as a table.
type table[T any] struct {
	header []string
	row    func(T) []string
}

// write prints records under the header, columns aligned.
func (t table[T]) write(a *app, records []T) error {
	tw := tabwriter.NewWriter(a.env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.header, "\t"))
	for _, r := range records {
		fmt.Fprintln(tw, strings.Join(t.row(r), "\t"))
	}
	return tw.Flush()
}

// listCmd is the "list" command of a kind of record: a table, or with
// --format json an array (empty, never null, when there are none).
func listCmd[T any](a *app, short string, fetch func(*client.Client, context.Context) ([]T, error), t table[T]) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   short,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format, "table", "json"); err != nil {
				return err
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			records, err := fetch(c, cmd.Context())
			if err != nil {
				return err
			}
			if records == nil {
				records = []T{}
			}
			if format == "json" {
				return writeJSON(a.env.Stdout, records)
			}
			return t.write(a, records)
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	return cmd
}
