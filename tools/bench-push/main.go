// Command bench-push builds the benchmark images and pushes them to a
// registry (plain HTTP), printing one line per image:
//
//	REF<TAB>DIGEST<TAB>COMPRESSED_BYTES
//
// Images: REG/bench/debian:a and :b (same two base layers, different delta),
// REG/bench/small:1 and REG/bench/big:1. See internal/testutil/debianimage.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/banger-dev/banger/internal/testutil/debianimage"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-push:", err)
		os.Exit(1)
	}
}

type config struct {
	registry, work, tree, images string
	small                        debianimage.SmallFiles
	big                          debianimage.BigFiles
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	var c config
	fs := flag.NewFlagSet("bench-push", flag.ContinueOnError)
	fs.StringVar(&c.registry, "registry", "", "registry host:port (required)")
	fs.StringVar(&c.work, "work", "", "directory for the layer files (default: a temp dir, removed)")
	fs.StringVar(&c.tree, "tree", debianimage.DefaultTree, "debootstrapped Debian tree")
	fs.StringVar(&c.images, "images", "debian,small,big", "which images to push")
	fs.IntVar(&c.small.Files, "small-files", 100_000, "files in the small-files image")
	fs.IntVar(&c.small.Size, "small-size", 1024, "bytes per small file")
	fs.IntVar(&c.big.Files, "big-files", 3, "files in the big-files image (the last is sparse)")
	fs.Int64Var(&c.big.Size, "big-size", 1<<30, "bytes per big file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.registry == "" {
		return fmt.Errorf("-registry is required")
	}
	if c.work == "" {
		dir, err := os.MkdirTemp("", "bench-push-")
		if err != nil {
			return fmt.Errorf("creating work dir: %w", err)
		}
		defer os.RemoveAll(dir)
		c.work = dir
	} else if err := os.MkdirAll(c.work, 0o755); err != nil {
		return fmt.Errorf("creating work dir: %w", err)
	}
	c.small.Dir, c.big.Dir = c.work, c.work
	for _, which := range strings.Split(c.images, ",") {
		if err := c.push(ctx, which, stdout); err != nil {
			return err
		}
	}
	return nil
}

// push builds and pushes one named image set.
func (c config) push(ctx context.Context, which string, stdout io.Writer) error {
	var imgs []v1.Image
	var tags []string
	var err error
	switch which {
	case "debian":
		imgs, err = debianimage.Build(debianimage.Options{Tree: c.tree, Dir: c.work}, "a", "b")
		tags = []string{"bench/debian:a", "bench/debian:b"}
	case "small":
		imgs, err = one(c.small.Build())
		tags = []string{"bench/small:1"}
	case "big":
		imgs, err = one(c.big.Build())
		tags = []string{"bench/big:1"}
	default:
		return fmt.Errorf("unknown image set %q (want debian, small or big)", which)
	}
	if err != nil {
		return fmt.Errorf("building %s: %w", which, err)
	}
	for i, img := range imgs {
		ref, err := name.ParseReference(c.registry+"/"+tags[i], name.Insecure)
		if err != nil {
			return fmt.Errorf("parsing reference: %w", err)
		}
		if err := remote.Write(ref, img, remote.WithContext(ctx)); err != nil {
			return fmt.Errorf("pushing %s: %w", ref, err)
		}
		if err := describe(stdout, ref, img); err != nil {
			return err
		}
	}
	return nil
}

func one(img v1.Image, err error) ([]v1.Image, error) { return []v1.Image{img}, err }

// describe prints the pushed reference, its digest and its compressed size.
func describe(w io.Writer, ref name.Reference, img v1.Image) error {
	d, err := img.Digest()
	if err != nil {
		return fmt.Errorf("computing digest: %w", err)
	}
	m, err := img.Manifest()
	if err != nil {
		return fmt.Errorf("reading manifest: %w", err)
	}
	var compressed int64
	for _, l := range m.Layers {
		compressed += l.Size
	}
	_, err = fmt.Fprintf(w, "%s\t%s\t%d\n", ref, d, compressed)
	return err
}
