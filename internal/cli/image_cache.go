package cli

import (
	"fmt"

	"github.com/banger-dev/banger/internal/api"
	"github.com/spf13/cobra"
)

func (a *app) imageCacheCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "cache", Short: "Inspect and prune the layer blob cache"}
	cmd.AddCommand(a.imageCachePruneCmd(), a.imageCacheDuCmd())
	return cmd
}

func (a *app) imageCachePruneCmd() *cobra.Command {
	var req api.PruneCacheRequest
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Remove cached layers no pulled image is made of (--all: every layer)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			u, err := c.PruneCache(cmd.Context(), req)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.env.Stdout, "freed %s; the cache holds %d blobs, %s\n", humanSize(u.FreedBytes), u.Blobs, humanSize(u.Bytes))
			return nil
		},
	}
	cmd.Flags().BoolVar(&req.All, "all", false, "remove every cached blob (re-pulls download again)")
	return cmd
}

func (a *app) imageCacheDuCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "du",
		Short: "Show how much the blob cache holds",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			u, err := c.CacheUsage(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(a.env.Stdout, "%s: %d blobs, %s\n", u.Dir, u.Blobs, humanSize(u.Bytes))
			return nil
		},
	}
}
