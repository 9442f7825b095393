package kernelcat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// ImportSpec names the parts of a kernel built or installed locally.
type ImportSpec struct {
	// Name is the kernel's name; empty means its release.
	Name string
	// Kernel is the image, e.g. /boot/vmlinuz-6.1.0-57-cloud-amd64. Required.
	Kernel string
	// Modules is one release's modules dir, e.g. /lib/modules/6.1.0-57-cloud-amd64.
	Modules string
	// Initrd is an optional initrd.
	Initrd string
	// Config is an optional kernel config, e.g. /boot/config-6.1.0-57-cloud-amd64.
	Config string
}

// ImportFiles copies a local kernel into stagingDir (same contract as Pull:
// created or empty, removed again on error) and returns its description.
// From the modules dir it copies directories and regular files; symlinks
// (such as build/ and source/ pointing at headers) are left out.
func ImportFiles(ctx context.Context, stagingDir string, spec ImportSpec) (k *Kernel, err error) {
	if spec.Kernel == "" {
		return nil, errors.New("importing kernel: no kernel image given")
	}
	s, err := openStaging(stagingDir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.abort()
			return
		}
		s.root.Close()
	}()
	for _, f := range []struct{ src, dest string }{
		{spec.Kernel, partialKernel}, {spec.Initrd, initrdName}, {spec.Config, configName},
	} {
		if f.src == "" {
			continue
		}
		if err := copyFileInto(ctx, s.root, f.src, f.dest); err != nil {
			return nil, fmt.Errorf("importing %s: %w", f.src, err)
		}
	}
	if spec.Modules != "" {
		dest := modulesDir + "/" + filepath.Base(filepath.Clean(spec.Modules))
		if err := copyTreeInto(ctx, s.root, spec.Modules, dest); err != nil {
			return nil, fmt.Errorf("importing modules %s: %w", spec.Modules, err)
		}
	}
	k = &Kernel{Name: spec.Name, Source: strings.Join(nonEmpty(spec.Kernel, spec.Modules, spec.Initrd, spec.Config), " ")}
	if err := s.finish(k, spec.Kernel); err != nil {
		return nil, fmt.Errorf("importing kernel: %w", err)
	}
	return k, nil
}

// ImportDeb unpacks a Debian kernel package (linux-image-*.deb) into
// stagingDir without installing it: boot/vmlinuz-* as the image,
// boot/config-* as config, and (usr/)lib/modules/<release>/ as the modules.
// Same staging contract and hostile-archive rules as Pull.
func ImportDeb(ctx context.Context, stagingDir, debPath string) (*Kernel, error) {
	return importArchive(ctx, stagingDir, debPath, "deb", Options{})
}

// ImportPackage is ImportDeb for any distro package laid out like an
// installed system: a .deb, a Void .xbps, or a tarball (.tar, .tar.gz,
// .tar.xz, .tar.zst, .tgz) holding boot/vmlinuz-* and (usr/)lib/modules/*/.
// opts sets the unpack limits; its download settings are unused.
func ImportPackage(ctx context.Context, stagingDir, pkgPath string, opts Options) (*Kernel, error) {
	format := formatFromName(filepath.ToSlash(pkgPath))
	if format == "" {
		return nil, fmt.Errorf("importing %s: %w: want .deb, .xbps or a tarball", pkgPath, ErrUnsupported)
	}
	return importArchive(ctx, stagingDir, pkgPath, format, opts)
}

// importArchive unpacks a local package laid out like an installed system.
func importArchive(ctx context.Context, stagingDir, archive, format string, opts Options) (k *Kernel, err error) {
	f, err := os.Open(archive)
	if err != nil {
		return nil, fmt.Errorf("importing %s: %w", archive, err)
	}
	defer f.Close()
	s, err := openStaging(stagingDir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.abort()
			return
		}
		s.root.Close()
	}()
	sel := &packageSelector{}
	x := newExtractor(s.root, sel.choose, opts)
	if err := s.unpack(ctx, x, f, format); err != nil {
		return nil, fmt.Errorf("unpacking %s: %w", archive, err)
	}
	if sel.kernel == "" {
		return nil, fmt.Errorf("%w: %s has no boot/vmlinuz-*", ErrNotFound, archive)
	}
	k = &Kernel{Source: archive}
	if err := s.finish(k, sel.kernel); err != nil {
		return nil, fmt.Errorf("importing %s: %w", archive, err)
	}
	return k, nil
}

// packageSelector picks the kernel parts out of a distro package.
type packageSelector struct {
	kernel, config string
}

func (p *packageSelector) choose(name string) (string, bool, error) {
	dir, base := path.Split(name)
	switch {
	case dir == "boot/" && strings.HasPrefix(base, "vmlinuz-"):
		if p.kernel != "" && p.kernel != name {
			return "", false, fmt.Errorf("%w: two kernel images, %s and %s", ErrUnsupported, p.kernel, name)
		}
		p.kernel = name
		return partialKernel, true, nil
	case dir == "boot/" && strings.HasPrefix(base, "config-"):
		if p.config != "" && p.config != name {
			return "", false, fmt.Errorf("%w: two configs, %s and %s", ErrUnsupported, p.config, name)
		}
		p.config = name
		return configName, true, nil
	}
	for _, prefix := range []string{"lib/modules/", "usr/lib/modules/"} {
		if rest, ok := strings.CutPrefix(name, prefix); ok {
			return modulesDir + "/" + rest, true, nil
		}
	}
	return "", false, nil
}

func nonEmpty(s ...string) []string {
	var out []string
	for _, v := range s {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// copyFileInto copies the regular file src to dest inside root.
func copyFileInto(ctx context.Context, root *os.Root, src, dest string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", src)
	}
	if dir := path.Dir(dest); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	out, err := root.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_EXCL, st.Mode().Perm()&0o755|0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// copyTreeInto copies directories and regular files of src to dest in root.
func copyTreeInto(ctx context.Context, root *os.Root, src, dest string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := path.Join(dest, filepath.ToSlash(rel))
		switch {
		case d.IsDir():
			return root.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			return copyFileInto(ctx, root, p, target)
		}
		return nil // symlinks and special files stay behind
	})
}
