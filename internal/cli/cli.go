// Package cli implements the banger command line: one file per subcommand,
// each parsing flags, calling the daemon through internal/client and
// rendering the answer. Everything the process touches (arguments, stdio,
// environment) comes in through Env, so tests run the CLI in-process.
package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/banger-dev/banger/internal/paths"
	"github.com/spf13/cobra"
)

// Env is the process context the CLI runs in.
type Env struct {
	// Args are the command-line arguments after the program name.
	Args   []string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Environ is the environment as "KEY=value" pairs; nil means os.Environ().
	// A daemon started automatically inherits it.
	Environ []string
	// Executable is the banger binary to start the daemon with; empty means
	// os.Executable().
	Executable string
}

// getenv looks key up in the environment.
func (e Env) getenv(key string) string {
	environ := e.Environ
	if environ == nil {
		environ = os.Environ()
	}
	for i := len(environ) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(environ[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

// app is what every subcommand shares: the environment and global flags.
type app struct {
	env   Env
	debug bool
}

// Run executes the command line in env and returns the exit status. Errors
// are printed as one line, "banger: <message>", and give status 1.
func Run(ctx context.Context, env Env) int {
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	if env.Stdout == nil {
		env.Stdout = io.Discard
	}
	if env.Stderr == nil {
		env.Stderr = io.Discard
	}
	a := &app{env: env}
	root := a.rootCmd()
	root.SetArgs(env.Args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		if code, ok := exitCodeOf(err); ok {
			return code
		}
		fmt.Fprintf(env.Stderr, "banger: %s\n", err)
		return 1
	}
	return 0
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "banger",
		Short:         "Run OCI images as lightweight VMs",
		Version:       version(),
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.PersistentFlags().BoolVar(&a.debug, "debug", false, "print debugging information")
	root.AddCommand(a.daemonCmd(), a.imageCmd(), a.loginCmd(), a.logoutCmd())
	root.AddCommand(a.kernelCmd())
	root.AddCommand(a.vmCmd())
	return root
}

// layout computes the XDG layout from the environment.
func (a *app) layout() (paths.Layout, error) { return paths.FromEnv(a.env.getenv) }

// debugf prints a diagnostic line on stderr when --debug is set.
func (a *app) debugf(format string, args ...any) {
	if a.debug {
		fmt.Fprintf(a.env.Stderr, "debug: "+format+"\n", args...)
	}
}

func version() string {
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "dev"
}
