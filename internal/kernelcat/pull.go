package kernelcat

import (
	"context"
	"fmt"
	"os"
	"path"
	"strings"
)

// Pull fetches the kernel e describes into stagingDir and returns its
// description (also written as stagingDir/kernel.json).
//
// stagingDir must not exist (its parent must) or be an empty directory. Every
// download streams into a temp file inside stagingDir while its size and
// sha256 are checked; nothing is unpacked or kept before the whole file is
// verified. On any error or cancellation everything Pull wrote is removed:
// the dir itself when Pull created it. The result holds the image as vmlinuz
// or vmlinux, modules/<release>/…, initrd and config when known.
//
// Concurrent pulls into different staging dirs are independent.
func Pull(ctx context.Context, e *Entry, stagingDir string, opts Options) (k *Kernel, err error) {
	if err := e.Validate(); err != nil {
		return nil, err
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
	client, done := opts.httpClient()
	defer done()
	fe := &fetcher{opts: opts, client: client, p: &progress{fn: opts.Progress, total: e.totalSize()}}
	var sources []string
	for _, f := range []struct {
		d    *Download
		dest string
	}{{e.Kernel, partialKernel}, {e.Initrd, initrdName}, {e.Config, configName}} {
		if f.d == nil {
			continue
		}
		if err := s.fetchFile(ctx, fe, *f.d, f.dest); err != nil {
			return nil, err
		}
		sources = append(sources, f.d.URL)
	}
	if e.Bundle != nil {
		b := e.Bundle.cleaned()
		if err := s.fetchBundle(ctx, fe, &b); err != nil {
			return nil, err
		}
		sources = append(sources, e.Bundle.URL)
	}
	k = &Kernel{Name: e.Name, Version: e.Version, Source: strings.Join(sources, " ")}
	nameHint := path.Base(e.Bundle.kernelPath())
	if e.Kernel != nil {
		nameHint = path.Base(e.Kernel.URL)
	}
	if err := s.finish(k, nameHint); err != nil {
		return nil, fmt.Errorf("finishing kernel %s: %w", e.Name, err)
	}
	if k.Arch != e.Arch {
		return nil, fmt.Errorf("kernel %s is listed as %s but its image is %s", e.Name, e.Arch, k.Arch)
	}
	return k, nil
}

func (e *Entry) totalSize() int64 {
	var n int64
	for _, d := range []*Download{e.Kernel, e.Initrd, e.Config} {
		if d != nil {
			n += d.Size
		}
	}
	if e.Bundle != nil {
		n += e.Bundle.Size
	}
	return n
}

func (b *Bundle) kernelPath() string {
	if b == nil {
		return ""
	}
	return b.Kernel
}

// fetchFile downloads d to a temp file in the staging dir and, once
// verified, renames it to dest.
func (s *staging) fetchFile(ctx context.Context, fe *fetcher, d Download, dest string) error {
	tmp := "." + path.Base(dest) + ".download"
	f, err := s.root.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("creating temp file: %w", err)
	}
	err = fe.download(ctx, d, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return s.root.Rename(tmp, dest)
}

// fetchBundle downloads and verifies the bundle, then unpacks the parts it
// names and removes the archive.
func (s *staging) fetchBundle(ctx context.Context, fe *fetcher, b *Bundle) error {
	format, err := b.format()
	if err != nil {
		return err
	}
	const tmp = ".bundle.download"
	f, err := s.root.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("creating temp file: %w", err)
	}
	defer s.root.Remove(tmp)
	defer f.Close()
	if err := fe.download(ctx, b.Download, f); err != nil {
		return err
	}
	if _, err := f.Seek(0, 0); err != nil {
		return err
	}
	x := newExtractor(s.root, bundleSelector(b), fe.opts)
	if err := s.unpack(ctx, x, f, format); err != nil {
		return fmt.Errorf("unpacking %s: %w", b.URL, err)
	}
	for _, want := range []string{b.Kernel, b.Modules, b.Initrd, b.Config} {
		if want != "" && !x.found(want) {
			return fmt.Errorf("%w: bundle %s has no %s", ErrNotFound, b.URL, want)
		}
	}
	return nil
}

func (s *staging) unpack(ctx context.Context, x *extractor, f *os.File, format string) error {
	tr, closeFn, err := openTar(f, format)
	if err != nil {
		return err
	}
	defer closeFn()
	return x.run(ctx, tr)
}

// bundleSelector maps the bundle's named paths to the staging layout; the
// modules dir maps to modules/<its base name>.
func bundleSelector(b *Bundle) selector {
	return func(name string) (string, bool, error) {
		switch name {
		case "":
		case b.Kernel:
			return partialKernel, true, nil
		case b.Initrd:
			return initrdName, true, nil
		case b.Config:
			return configName, true, nil
		}
		if b.Modules == "" {
			return "", false, nil
		}
		dest := modulesDir + "/" + path.Base(b.Modules)
		if name == b.Modules {
			return dest, true, nil
		}
		if rest, ok := strings.CutPrefix(name, b.Modules+"/"); ok {
			return dest + "/" + rest, true, nil
		}
		return "", false, nil
	}
}
