// Command bench-tar2ext4 times banger's conversion engine alone: it applies
// tar layers (plain, gzip or zstd, oldest first) through internal/flatten to
// the internal/ext4 writer, syncs the image and prints one line:
//
//	elapsed_s=S maxrss_kib=K entries=N tar_bytes=B image_bytes=I
//
// usage: bench-tar2ext4 -o IMAGE [-size BYTES] LAYER...
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/banger-dev/banger/internal/ext4"
	"github.com/banger-dev/banger/internal/flatten"
	"github.com/banger-dev/banger/internal/imagepull"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-tar2ext4:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench-tar2ext4", flag.ContinueOnError)
	out := fs.String("o", "", "image file to write (required)")
	size := fs.Int64("size", 0, "image size in bytes (0: the writer's content × 1.25 rule)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() == 0 {
		return fmt.Errorf("usage: bench-tar2ext4 -o IMAGE [-size BYTES] LAYER...")
	}
	start := time.Now()
	f, err := os.Create(*out)
	if err != nil {
		return fmt.Errorf("creating image: %w", err)
	}
	defer f.Close()
	w, err := ext4.New(f, ext4.Options{Size: *size})
	if err != nil {
		return fmt.Errorf("starting image: %w", err)
	}
	var layers []flatten.Layer
	for _, p := range fs.Args() {
		layers = append(layers, flatten.Layer{Digest: p, Open: func(ctx context.Context) (io.ReadCloser, error) { return imagepull.OpenLayerFile(ctx, p) }})
	}
	st, err := flatten.Apply(ctx, w, layers, flatten.Options{})
	if err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("finishing image: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing image: %w", err)
	}
	elapsed := time.Since(start)
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return fmt.Errorf("reading rusage: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "elapsed_s=%.3f maxrss_kib=%d entries=%d tar_bytes=%d image_bytes=%d\n",
		elapsed.Seconds(), ru.Maxrss, st.Entries, st.Bytes, w.Stats().ImageSize)
	return err
}
