// Command push-demo-image builds the offline demo's busybox image and pushes
// it to a registry: push-demo-image 127.0.0.1:5000/demo/busybox:1
package main

import (
	"fmt"
	"os"

	"github.com/banger-dev/banger/internal/testutil/busyboximage"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "push-demo-image:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: push-demo-image REGISTRY/REPO:TAG")
	}
	ref, err := name.ParseReference(args[0], name.Insecure)
	if err != nil {
		return fmt.Errorf("parsing %q: %w", args[0], err)
	}
	img, err := busyboximage.Build(busyboximage.Options{
		Cmd: []string{"sh", "-c", "cat /srv/hello.txt; uname -sr"},
	})
	if err != nil {
		return err
	}
	if err := remote.Write(ref, img); err != nil {
		return fmt.Errorf("pushing %s: %w", ref, err)
	}
	fmt.Println(ref.String())
	return nil
}
