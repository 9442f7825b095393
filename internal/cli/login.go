package cli

import (
	"bufio"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/banger-dev/banger/internal/imagepull"
	"github.com/spf13/cobra"
)

func (a *app) loginCmd() *cobra.Command {
	var (
		user, pass    string
		passwordStdin bool
		insecure      bool
	)
	cmd := &cobra.Command{
		Use:   "login REGISTRY",
		Short: "Store credentials for a registry (docker-compatible config.json)",
		Long: "Check USER and password against REGISTRY, then store them where docker would:\n" +
			"in the credential helper the config names, else in $DOCKER_CONFIG/config.json\n" +
			"(~/.docker/config.json). image pull reads them from there.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if user == "" {
				return fmt.Errorf("--username is required")
			}
			if passwordStdin {
				line, err := bufio.NewReader(a.env.Stdin).ReadString('\n')
				if err != nil && line == "" {
					return fmt.Errorf("reading password from stdin: %w", err)
				}
				pass = strings.TrimRight(line, "\r\n")
			}
			if pass == "" {
				return fmt.Errorf("no password: pass --password-stdin (or --password)")
			}
			// CAFile repeats SSL_CERT_FILE from Env, which in-process runs do not put in os.Environ.
			opts := imagepull.Options{Insecure: insecure, ConfigDir: a.dockerConfigDir(), CAFile: a.env.getenv("SSL_CERT_FILE")}
			if err := imagepull.Login(cmd.Context(), args[0], user, pass, opts); err != nil {
				return err
			}
			fmt.Fprintf(a.env.Stdout, "logged in to %s\n", args[0])
			return nil
		},
	}
	cmd.Flags().StringVarP(&user, "username", "u", "", "user name")
	cmd.Flags().StringVarP(&pass, "password", "p", "", "password (prefer --password-stdin)")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from standard input")
	cmd.Flags().BoolVar(&insecure, "insecure", false, "allow plain HTTP to the registry")
	return cmd
}

func (a *app) logoutCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "logout REGISTRY",
		Short: "Remove the stored credentials of a registry",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := imagepull.Logout(args[0], imagepull.Options{ConfigDir: a.dockerConfigDir()}); err != nil {
				return err
			}
			fmt.Fprintf(a.env.Stdout, "logged out of %s\n", args[0])
			return nil
		},
	}
}

// dockerConfigDir is $DOCKER_CONFIG, else ~/.docker, from the CLI's environment.
func (a *app) dockerConfigDir() string {
	if dir := a.env.getenv("DOCKER_CONFIG"); dir != "" {
		return dir
	}
	if home := a.env.getenv("HOME"); home != "" {
		return filepath.Join(home, ".docker")
	}
	return ""
}
