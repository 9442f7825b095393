// Command bench-gunzip is the benchmark's decompression floor: it reads
// gzip files one after another with klauspost/compress/gzip (the
// decompressor banger uses), discards the output and prints one line:
//
//	elapsed_s=S maxrss_kib=K bytes=N
//
// Files that are not gzip are read as they are. With -layout DIR the files
// are the layer blobs, oldest first, of the first image in the OCI layout
// DIR (as `skopeo copy ... oci:DIR:tag` writes it); -print then lists their
// paths, one a line, instead of decompressing them.
//
// usage: bench-gunzip FILE... | bench-gunzip -layout DIR [-print]
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/klauspost/compress/gzip"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench-gunzip:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench-gunzip", flag.ContinueOnError)
	dir := fs.String("layout", "", "OCI layout whose first image's layers to read")
	printOnly := fs.Bool("print", false, "with -layout: print the layer paths and stop")
	if err := fs.Parse(args); err != nil {
		return err
	}
	files := fs.Args()
	if *dir != "" {
		var err error
		if files, err = layerPaths(*dir); err != nil {
			return err
		}
	}
	if *printOnly {
		_, err := fmt.Fprintln(stdout, strings.Join(files, "\n"))
		return err
	}
	start := time.Now()
	var total int64
	for _, p := range files {
		n, err := drain(p)
		if err != nil {
			return err
		}
		total += n
	}
	elapsed := time.Since(start)
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return fmt.Errorf("reading rusage: %w", err)
	}
	_, err := fmt.Fprintf(stdout, "elapsed_s=%.3f maxrss_kib=%d bytes=%d\n", elapsed.Seconds(), ru.Maxrss, total)
	return err
}

// drain decompresses p to nowhere and returns the uncompressed size.
func drain(p string) (int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, fmt.Errorf("opening %s: %w", p, err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 256<<10)
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return 0, fmt.Errorf("reading gzip header of %s: %w", p, err)
		}
		defer zr.Close()
		r = zr
	}
	n, err := io.Copy(io.Discard, r)
	if err != nil {
		return n, fmt.Errorf("decompressing %s: %w", p, err)
	}
	return n, nil
}

// layerPaths lists the blob files of the first image's layers in dir.
func layerPaths(dir string) ([]string, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("reading layout %s: %w", dir, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading index of %s: %w", dir, err)
	}
	if len(im.Manifests) == 0 {
		return nil, fmt.Errorf("reading index of %s: no images", dir)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		return nil, fmt.Errorf("reading image of %s: %w", dir, err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading manifest of %s: %w", dir, err)
	}
	var paths []string
	for _, l := range m.Layers {
		paths = append(paths, filepath.Join(dir, "blobs", l.Digest.Algorithm, l.Digest.Hex))
	}
	return paths, nil
}
