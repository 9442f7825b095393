package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/banger-dev/banger/internal/client"
	"github.com/banger-dev/banger/internal/daemon"
	"github.com/banger-dev/banger/internal/errdefs"
	"github.com/spf13/cobra"
)

func (a *app) daemonCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "daemon", Short: "Run or control the banger daemon"}
	cmd.AddCommand(a.daemonRunCmd(), a.daemonStatusCmd(), a.daemonStopCmd())
	return cmd
}

func (a *app) daemonRunCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Run the daemon in the foreground (other commands start it when needed)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			layout, err := a.layout()
			if err != nil {
				return err
			}
			return daemon.Run(cmd.Context(), daemon.Config{
				Layout: layout, Version: version(), Stderr: a.env.Stderr, Debug: a.debug,
			})
		},
	}
}

func (a *app) daemonStatusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Tell whether the daemon runs (exit status 1 if not)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			st, err := c.Status(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(a.env.Stdout, "banger daemon is running\npid:     %d\nversion: %s\nsocket:  %s\nstate:   %s\nstarted: %s\n",
				st.PID, st.Version, st.Socket, st.StateDir, st.Started.Local().Format(time.RFC3339))
			return nil
		},
	}
}

func (a *app) daemonStopCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "stop",
		Short: "Stop the daemon, canceling running operations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := c.Shutdown(ctx); errors.Is(err, errdefs.ErrUnavailable) {
				fmt.Fprintln(a.env.Stdout, "banger daemon is not running")
				return nil
			} else if err != nil {
				return err
			}
			if err := awaitStopped(ctx, c); err != nil {
				return err
			}
			fmt.Fprintln(a.env.Stdout, "banger daemon stopped")
			return nil
		},
	}
}

// awaitStopped polls until the daemon stops answering.
func awaitStopped(ctx context.Context, c *client.Client) error {
	deadline := time.Now().Add(40 * time.Second)
	for {
		_, err := c.Ping(ctx)
		if errors.Is(err, errdefs.ErrUnavailable) {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("stopping daemon: it still answers after 40s")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
