package cli

import (
	"fmt"
	"strings"

	"github.com/banger-dev/banger/internal/api"
	"github.com/spf13/cobra"
)

func (a *app) imagePullCmd() *cobra.Command {
	var (
		req            api.PullImageRequest
		size, maxSize  string
		quiet          bool
		defaultMaxSize = "64GiB"
	)
	cmd := &cobra.Command{
		Use:   "pull REF",
		Short: "Pull an OCI image from a registry into a bootable ext4 image",
		Long: "Download REF (\"debian:bookworm\", \"ghcr.io/org/tool:v1\", \"host:5000/repo@sha256:…\") from its\n" +
			"registry, flatten its layers and write them straight into an ext4 root filesystem with\n" +
			"the ownership, modes and xattrs the layers give. Credentials come from docker's config\n" +
			"(see banger login). Pulling a name again is a no-op while the remote digest is unchanged.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Ref = args[0]
			var err error
			if req.SizeBytes, err = parseSize(size); err != nil {
				return fmt.Errorf("--size: %w", err)
			}
			if req.MaxBytes, err = parseSize(maxSize); err != nil {
				return fmt.Errorf("--max-size: %w", err)
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			progress, done := a.pullProgress(quiet)
			res, err := c.PullImage(cmd.Context(), req, progress)
			done()
			if err != nil {
				return err
			}
			a.printPullResult(res, quiet)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Name, "name", "", "image name (default: derived from REF, e.g. debian-bookworm)")
	f.StringVar(&req.KernelRef, "kernel-ref", "", "kernel to boot the image with (see banger kernel list)")
	f.StringVar(&req.Platform, "platform", "", "os/arch[/variant] to pull from a multi-platform image (default: linux/<host arch>)")
	f.StringVar(&size, "size", "", "filesystem size, e.g. 4GiB (default: content × 1.25, at least 1 GiB)")
	f.StringVar(&maxSize, "max-size", defaultMaxSize, "refuse images whose layers unpack to more than this")
	f.BoolVar(&req.Insecure, "insecure", false, "allow plain HTTP to the registry")
	f.BoolVarP(&quiet, "quiet", "q", false, "print only the image name")
	return cmd
}

func (a *app) printPullResult(res api.PullResult, quiet bool) {
	img := res.Image
	if quiet {
		fmt.Fprintln(a.env.Stdout, img.Name)
		return
	}
	if res.UpToDate {
		fmt.Fprintf(a.env.Stdout, "image %q is up to date (%s)\n", img.Name, img.Digest)
		return
	}
	verb := "pulled"
	if res.Replaced != "" {
		verb = "updated"
	}
	fmt.Fprintf(a.env.Stdout, "%s image %q from %s\n", verb, img.Name, img.Ref)
	fmt.Fprintf(a.env.Stdout, "  digest   %s (%s)\n", img.Digest, img.Platform)
	fmt.Fprintf(a.env.Stdout, "  rootfs   %s, %d files, %d dirs, %s of layers\n", humanSize(img.SizeBytes), res.Files, res.Dirs, humanSize(res.Bytes))
	fmt.Fprintf(a.env.Stdout, "  fetched  %s in %.1fs\n", humanSize(res.DownloadedBytes), res.Seconds)
	if img.Kernel == "" {
		fmt.Fprintf(a.env.Stdout, "  kernel   none yet: banger image set-kernel %s KERNEL\n", img.Name)
	} else {
		fmt.Fprintf(a.env.Stdout, "  kernel   %s\n", img.Kernel)
	}
}

// parseSize reads "512MiB", "4G", "1.5GiB" or a plain byte count; "" is 0.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	units := []struct {
		suffix string
		mult   float64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}, {"B", 1},
	}
	mult := 1.0
	for _, u := range units {
		if strings.HasSuffix(strings.ToUpper(s), strings.ToUpper(u.suffix)) {
			s, mult = strings.TrimSpace(s[:len(s)-len(u.suffix)]), u.mult
			break
		}
	}
	var v float64
	if _, err := fmt.Sscanf(s, "%g", &v); err != nil || v < 0 {
		return 0, fmt.Errorf("invalid size %q (want e.g. 4GiB, 512M or a byte count)", s)
	}
	return int64(v * mult), nil
}
