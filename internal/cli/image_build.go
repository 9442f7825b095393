package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/errdefs"
	"github.com/spf13/cobra"
)

// stepFlags collects --run, --script and --copy into one list, in the order
// they appear on the command line.
type stepFlags struct{ steps *[]api.BuildStep }

// stepFlag is one of those flags; Set parses its value into a step.
type stepFlag struct {
	list  stepFlags
	kind  string
	parse func(string) (api.BuildStep, error)
}

func (f stepFlag) String() string { return "" }
func (f stepFlag) Type() string   { return f.kind }
func (f stepFlag) Set(v string) error {
	s, err := f.parse(v)
	if err != nil {
		return err
	}
	*f.list.steps = append(*f.list.steps, s)
	return nil
}

func parseRunStep(v string) (api.BuildStep, error) {
	return api.BuildStep{Kind: api.StepRun, Script: v, Origin: "--run"}, nil
}

func parseScriptStep(v string) (api.BuildStep, error) {
	b, err := os.ReadFile(v)
	if err != nil {
		return api.BuildStep{}, fmt.Errorf("reading script: %w", err)
	}
	return api.BuildStep{Kind: api.StepRun, Script: string(b), Origin: "--script " + v}, nil
}

// parseCopyStep reads SRC:DEST; SRC is made absolute for the daemon, DEST
// must be absolute in the guest (a trailing / keeps SRC's base name).
func parseCopyStep(v string) (api.BuildStep, error) {
	src, dest, ok := strings.Cut(v, ":")
	if !ok || src == "" || !strings.HasPrefix(dest, "/") {
		return api.BuildStep{}, errdefs.Newf(errdefs.ErrInvalid, "invalid copy %q (want SRC:DEST with an absolute DEST, e.g. ./app:/usr/local/bin/app)", v)
	}
	abs, err := filepath.Abs(src)
	if err != nil {
		return api.BuildStep{}, fmt.Errorf("resolving %s: %w", src, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return api.BuildStep{}, fmt.Errorf("copy source: %w", err)
	}
	return api.BuildStep{Kind: api.StepCopy, Source: abs, Dest: dest, Origin: "--copy"}, nil
}

func (a *app) imageBuildCmd() *cobra.Command {
	var (
		req    api.BuildImageRequest
		disk   string
		quiet  bool
		format string
	)
	steps := stepFlags{steps: &req.Steps}
	cmd := &cobra.Command{
		Use:   "build --from-image BASE --name NEW [--run CMD | --script FILE | --copy SRC:DEST]...",
		Short: "Build a new image by running steps in a transient VM booted from another",
		Long: "Boot BASE with a private copy of its root filesystem, run the steps in the order given\n" +
			"(--run and --script with /bin/sh -c as root, --copy writing a host file into the guest),\n" +
			"shut the guest down cleanly and save the disk as NEW. BASE is never modified; a failing\n" +
			"step leaves nothing behind. --profile dev first makes a developer user (apt or apk;\n" +
			"needs the guest to reach a package mirror).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format, "text", "json"); err != nil {
				return err
			}
			var err error
			if req.DiskBytes, err = parseSize(disk); err != nil {
				return fmt.Errorf("--disk-size: %w", err)
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			res, err := c.BuildImage(cmd.Context(), req, a.buildProgress(quiet))
			if err != nil {
				return err
			}
			return a.printBuildResult(res, quiet, format)
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Base, "from-image", "", "the image to start from (required)")
	f.StringVar(&req.Name, "name", "", "the new image's name (required)")
	f.Var(stepFlag{steps, "command", parseRunStep}, "run", "run a shell command in the guest (repeatable)")
	f.Var(stepFlag{steps, "file", parseScriptStep}, "script", "run a host shell script in the guest (repeatable)")
	f.Var(stepFlag{steps, "src:dest", parseCopyStep}, "copy", "copy a host file into the guest, root-owned, keeping its mode (repeatable)")
	f.StringArrayVarP(&req.Env, "env", "e", nil, "set an environment variable for the steps (KEY=VALUE)")
	f.StringVar(&req.Profile, "profile", "", "a ready-made first step: dev (a sudo user 'dev', a shell; apt or apk)")
	f.StringArrayVar(&req.Settings, "set", nil, "a profile setting, e.g. ssh=1, user=me, ssh_key=\"$(cat ~/.ssh/id_ed25519.pub)\"")
	f.StringVar(&disk, "disk-size", "", "grow the new image's filesystem to this size, e.g. 4GiB")
	f.BoolVar(&req.Compact, "compact", false, "rewrite the result through banger's ext4 writer so it carries no freed blocks (size: just fits, or --disk-size)")
	f.StringVar(&req.Kernel, "kernel", "", "boot the build with this kernel and record it in the new image (default: BASE's)")
	f.IntVar(&req.CPUs, "cpus", 1, "virtual CPUs of the build VM")
	f.IntVar(&req.MemoryMiB, "memory", 512, "memory of the build VM in MiB")
	f.BoolVarP(&quiet, "quiet", "q", false, "print only the new image's name; no step output")
	f.StringVar(&format, "format", "text", "result format: text or json")
	cmd.MarkFlagRequired("from-image")
	cmd.MarkFlagRequired("name")
	return cmd
}

// buildProgress prints step headers and the steps' output on stderr (and
// the other phases only with --debug).
func (a *app) buildProgress(quiet bool) api.ProgressFunc {
	return func(ev api.Event) {
		if quiet {
			return
		}
		switch ev.Phase {
		case api.PhaseStdout, api.PhaseStderr:
			var b []byte
			if json.Unmarshal(ev.Result, &b) == nil {
				a.env.Stderr.Write(b)
			}
		case "step", "shutdown":
			fmt.Fprintf(a.env.Stderr, "==> %s\n", ev.Message)
		default:
			a.debugf("progress: %s %s", ev.Phase, ev.Message)
		}
	}
}

func (a *app) printBuildResult(res api.BuildResult, quiet bool, format string) error {
	out := a.env.Stdout
	switch {
	case format == "json":
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	case quiet:
		fmt.Fprintln(out, res.Image.Name)
		return nil
	}
	img := res.Image
	fmt.Fprintf(out, "built image %q from %s in %.1fs\n", img.Name, img.Parent, res.Seconds)
	fmt.Fprintf(out, "  rootfs   %s (%s)\n", img.RootfsPath, humanSize(img.SizeBytes))
	fmt.Fprintf(out, "  kernel   %s\n", img.Kernel)
	for i, s := range res.Record.Steps {
		fmt.Fprintf(out, "  step %d   %s %s\n", i+1, s.Digest[:min(len(s.Digest), 19)], stepSummary(s.BuildStep))
	}
	return nil
}

func stepSummary(s api.BuildStep) string {
	if s.Kind == api.StepCopy {
		return "copy " + s.Source + " " + s.Dest
	}
	if s.Origin != "--run" && s.Origin != "" {
		return s.Origin
	}
	line, _, _ := strings.Cut(s.Script, "\n")
	if len(line) > 50 {
		line = line[:47] + "..."
	}
	return "run " + line
}
