// Package debianimage builds benchmark and end-to-end OCI images: a real
// Debian tree (as made by `debootstrap --variant=minbase`) cut into three
// gzip layers, and two synthetic images (many small files, a few big ones).
//
// The Debian image's layers are:
//  1. usr/ (the bulk of the tree);
//  2. everything else (etc/, var/, the merged-usr symlinks, ...);
//  3. a small delta in the manner of `apt-get install`: it overwrites a few
//     files, whites out one directory, makes one directory opaque and adds a
//     package's worth of files, including a hardlink, a symlink, a setuid
//     file, a file owned by uid 1000 and one with a user xattr.
//
// Ownership, modes, xattrs and hardlinks (found by inode) come from the
// tree; device nodes and sockets are left out, as docker does. The output is
// deterministic: the same tree and options give the same digests. Layers
// are written gzip-compressed to files in Options.Dir, which the caller
// removes once the images are pushed.
package debianimage

import (
	"archive/tar"
	"fmt"
	"os"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/klauspost/compress/gzip"
)

// DefaultTree is where CI keeps its debootstrapped bookworm minbase tree.
const DefaultTree = "/var/cache/banger-ci/bookworm-minbase"

// Options tune the images. The zero value builds from DefaultTree.
type Options struct {
	// Tree is the root of the Debian tree; DefaultTree if empty.
	Tree string
	// Dir receives the layer files; os.TempDir() if empty.
	Dir string
	// Level is the gzip level (klauspost/compress); 0 means the default (6).
	Level int
	// Created stamps the config and the delta layer's files; 2026-01-01 UTC if zero.
	Created time.Time
}

func (o Options) withDefaults() Options {
	if o.Tree == "" {
		o.Tree = DefaultTree
	}
	if o.Dir == "" {
		o.Dir = os.TempDir()
	}
	if o.Level == 0 {
		o.Level = gzip.DefaultCompression
	}
	if o.Created.IsZero() {
		o.Created = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return o
}

// Build returns one image per variant name: all share layers 1 and 2 and
// differ in their delta layer, so a second variant's pull reuses the base.
func Build(opts Options, variants ...string) ([]v1.Image, error) {
	opts = opts.withDefaults()
	if _, err := os.Stat(opts.Tree); err != nil {
		return nil, fmt.Errorf("finding the Debian tree (make it with debootstrap --variant=minbase): %w", err)
	}
	tw := &treeWriter{root: opts.Tree, links: map[inode]string{}}
	inUsr := func(rel string) bool { return rel == "usr" || strings.HasPrefix(rel, "usr/") }
	usr, err := writeLayer(opts.Dir, "debian-usr-*.tar.gz", opts.Level, func(w *tar.Writer) error {
		return tw.writeTree(w, inUsr)
	})
	if err != nil {
		return nil, fmt.Errorf("writing the usr layer: %w", err)
	}
	rest, err := writeLayer(opts.Dir, "debian-rest-*.tar.gz", opts.Level, func(w *tar.Writer) error {
		return tw.writeTree(w, func(rel string) bool { return !inUsr(rel) })
	})
	if err != nil {
		return nil, fmt.Errorf("writing the base layer: %w", err)
	}
	var imgs []v1.Image
	for _, v := range variants {
		delta, err := writeLayer(opts.Dir, "debian-delta-*.tar.gz", opts.Level, func(w *tar.Writer) error {
			return writeDelta(w, opts.Tree, v, opts.Created)
		})
		if err != nil {
			return nil, fmt.Errorf("writing delta layer %q: %w", v, err)
		}
		img, err := image([]v1.Layer{usr, rest, delta}, []string{"/bin/bash"}, opts.Created)
		if err != nil {
			return nil, err
		}
		imgs = append(imgs, img)
	}
	return imgs, nil
}

// image assembles layers into a linux/amd64 image with cmd and a fixed date.
func image(layers []v1.Layer, cmd []string, created time.Time) (v1.Image, error) {
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		return nil, fmt.Errorf("appending layers: %w", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", "amd64"
	cfg.Created = v1.Time{Time: created}
	cfg.Config.Cmd = cmd
	cfg.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	return mutate.ConfigFile(img, cfg)
}
