package cli

import (
	"context"
	"errors"
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

// inspectCmd is the "inspect NAME" command of a kind of record: text by
// default, the JSON object with --format json.
func inspectCmd[T any](a *app, short string, fetch func(*client.Client, context.Context, string) (T, error), text func(*app, T) error) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect NAME",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, "text", "json"); err != nil {
				return err
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			record, err := fetch(c, cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if format == "json" {
				return writeJSON(a.env.Stdout, record)
			}
			return text(a, record)
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}

// fields prints "key: value" lines, aligned, skipping empty values.
type fields struct{ tw *tabwriter.Writer }

func newFields(a *app) fields { return fields{tabwriter.NewWriter(a.env.Stdout, 0, 0, 1, ' ', 0)} }

func (f fields) add(key, value string) {
	if value != "" {
		fmt.Fprintf(f.tw, "%s:\t%s\n", key, value)
	}
}

func (f fields) flush() error { return f.tw.Flush() }

// forEachName runs op on every name with one daemon connection, printing
// "<done> <kind> "name"" for each success, and returns every failure joined.
func (a *app) forEachName(ctx context.Context, names []string, kind, done string, op func(*client.Client, context.Context, string) error) error {
	c, err := a.connect(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		if err := op(c, ctx, name); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(a.env.Stdout, "%s %s %q\n", done, kind, name)
	}
	return errors.Join(errs...)
}
