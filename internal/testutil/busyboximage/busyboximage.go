// Package busyboximage builds a small, real OCI image around the host's
// static busybox: enough userland for boot tests and the offline demo.
//
// The image has two layers. The base layer holds the directory skeleton,
// /bin/busybox with a symlink per applet, and /etc/passwd and /etc/group
// with root and an unprivileged user "app" (uid 1000). The second layer adds
// /srv/hello.txt, an app-owned /home/app and a setuid-root copy of busybox at
// /bin/suid-busybox, so ownership and mode bits can be checked end to end.
package busyboximage

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// DefaultBusybox is where Debian's busybox-static package installs the binary.
const DefaultBusybox = "/bin/busybox"

// Options tune the image. The zero value builds the standard image.
type Options struct {
	// Busybox is the static busybox binary to embed; DefaultBusybox if empty.
	Busybox string
	// Cmd is the image's CMD; ["sh"] if empty.
	Cmd []string
	// Entrypoint is the image's ENTRYPOINT; none if empty.
	Entrypoint []string
	// Env is added to the config after PATH.
	Env []string
	// WorkingDir and User go into the config as given.
	WorkingDir, User string
	// Created stamps every file and the config; 2024-01-01 UTC if zero.
	Created time.Time
}

// Build returns the image, with gzip-compressed layers.
func Build(opts Options) (v1.Image, error) {
	if opts.Busybox == "" {
		opts.Busybox = DefaultBusybox
	}
	if opts.Created.IsZero() {
		opts.Created = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if len(opts.Cmd) == 0 && len(opts.Entrypoint) == 0 {
		opts.Cmd = []string{"sh"}
	}
	bin, err := os.ReadFile(opts.Busybox)
	if err != nil {
		return nil, fmt.Errorf("reading busybox (install the busybox-static package): %w", err)
	}
	applets, err := listApplets(opts.Busybox)
	if err != nil {
		return nil, err
	}
	base, err := layer(baseEntries(bin, applets, opts.Created))
	if err != nil {
		return nil, err
	}
	extra, err := layer(extraEntries(bin, opts.Created))
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, base, extra)
	if err != nil {
		return nil, fmt.Errorf("appending layers: %w", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", "amd64"
	cfg.Created = v1.Time{Time: opts.Created}
	cfg.Config.Cmd = opts.Cmd
	cfg.Config.Entrypoint = opts.Entrypoint
	cfg.Config.Env = append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, opts.Env...)
	cfg.Config.WorkingDir = opts.WorkingDir
	cfg.Config.User = opts.User
	return mutate.ConfigFile(img, cfg)
}

// File is one entry of a layer: a tar header and, for regular files, its content.
type File struct {
	Header tar.Header
	Data   []byte
}

// Layer writes files as a gzip-compressed layer, in the order given.
func Layer(files []File) (v1.Layer, error) { return layer(files) }

func layer(files []File) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		hdr := f.Header
		if hdr.Typeflag == tar.TypeReg {
			hdr.Size = int64(len(f.Data))
		}
		hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(&hdr); err != nil {
			return nil, fmt.Errorf("writing header %s: %w", hdr.Name, err)
		}
		if _, err := tw.Write(f.Data); err != nil {
			return nil, fmt.Errorf("writing %s: %w", hdr.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("closing layer: %w", err)
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
}

func listApplets(busybox string) ([]string, error) {
	out, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("listing busybox applets: %w", err)
	}
	var applets []string
	for _, a := range strings.Fields(string(out)) {
		if a != "busybox" {
			applets = append(applets, a)
		}
	}
	sort.Strings(applets)
	return applets, nil
}

// Dir, Reg and Symlink make layer entries owned by root unless changed.
func Dir(name string, mode int64, t time.Time) File {
	return File{Header: tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: t}}
}

// Reg makes a regular-file entry.
func Reg(name string, mode int64, data []byte, t time.Time) File {
	return File{Header: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, ModTime: t}, Data: data}
}

// Symlink makes a symbolic-link entry.
func Symlink(name, target string, t time.Time) File {
	return File{Header: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: t}}
}

const passwd = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
const group = "root:x:0:\napp:x:1000:\nnogroup:x:65534:\n"

func baseEntries(bin []byte, applets []string, t time.Time) []File {
	files := []File{}
	for _, d := range []string{"bin", "dev", "etc", "home", "proc", "root", "run", "sbin", "srv", "sys", "usr", "usr/bin", "usr/sbin", "var"} {
		files = append(files, Dir(d, 0o755, t))
	}
	files = append(files, Dir("tmp", 0o1777, t))
	files[len(files)-1].Header.Mode = 0o1777
	files = append(files,
		Reg("bin/busybox", 0o755, bin, t),
		Reg("etc/passwd", 0o644, []byte(passwd), t),
		Reg("etc/group", 0o644, []byte(group), t),
		Reg("etc/hostname", 0o644, []byte("busybox\n"), t),
	)
	for _, a := range applets {
		files = append(files, Symlink("bin/"+a, "busybox", t))
	}
	return files
}

func extraEntries(bin []byte, t time.Time) []File {
	home := Dir("home/app", 0o750, t)
	home.Header.Uid, home.Header.Gid = 1000, 1000
	note := Reg("home/app/note.txt", 0o600, []byte("owned by app\n"), t)
	note.Header.Uid, note.Header.Gid = 1000, 1000
	suid := Reg("bin/suid-busybox", 0o4755, bin, t)
	return []File{
		home, note, suid,
		Reg("srv/hello.txt", 0o644, []byte("hello from a banger image\n"), t),
	}
}

// FromLayers builds a linux/amd64 image of the given layers (oldest first,
// each gzip-compressed) with cfg as its run config.
func FromLayers(layers [][]File, cfg v1.Config) (v1.Image, error) {
	img := empty.Image
	for _, files := range layers {
		l, err := layer(files)
		if err != nil {
			return nil, err
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			return nil, fmt.Errorf("appending layer: %w", err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Config = "linux", "amd64", cfg
	return mutate.ConfigFile(img, cf)
}
