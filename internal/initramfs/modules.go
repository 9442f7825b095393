package initramfs

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// DefaultModules returns the modules a microvm guest needs for its disk,
// network, agent port and ACPI power button, named as the kernel names them.
// Dependencies are added by ResolveModules.
func DefaultModules() []string {
	return []string{
		"virtio_ring", "virtio", "virtio_mmio", "virtio_blk",
		"virtio_console", "failover", "net_failover", "virtio_net",
		"button", "evdev",
	}
}

// Module is one kernel module file to load.
type Module struct {
	Name    string   // module name with '-' folded to '_'
	Path    string   // file under the modules tree (may be compressed)
	Depends []string // names from the module's .modinfo depends=
}

// moduleExts are the file suffixes a module may carry, longest first.
var moduleExts = []string{".ko.zst", ".ko.xz", ".ko.gz", ".ko"}

// ResolveModules finds the named modules under dir (a lib/modules/<version>
// tree) and returns them with their dependencies, each after everything it
// depends on. Dependencies come from each module's .modinfo section, as depmod
// reads them, since distribution packages ship no modules.dep. A module that
// is absent but listed in modules.builtin is skipped.
func ResolveModules(dir string, names []string) ([]Module, error) {
	index, err := indexModules(dir)
	if err != nil {
		return nil, err
	}
	builtin, err := readBuiltin(dir)
	if err != nil {
		return nil, err
	}
	r := resolver{index: index, builtin: builtin, state: map[string]int{}}
	for _, n := range names {
		if err := r.visit(normalizeModName(n)); err != nil {
			return nil, err
		}
	}
	return r.order, nil
}

type resolver struct {
	index   map[string]string
	builtin map[string]bool
	state   map[string]int // 1 visiting, 2 done
	order   []Module
}

func (r *resolver) visit(name string) error {
	switch r.state[name] {
	case 1:
		return fmt.Errorf("resolving module %s: dependency cycle", name)
	case 2:
		return nil
	}
	p, ok := r.index[name]
	if !ok {
		if r.builtin[name] {
			r.state[name] = 2
			return nil
		}
		return fmt.Errorf("resolving module %s: not found in the kernel's modules and not built in", name)
	}
	r.state[name] = 1
	deps, err := moduleDepends(p)
	if err != nil {
		return err
	}
	for _, d := range deps {
		if err := r.visit(d); err != nil {
			return err
		}
	}
	r.state[name] = 2
	r.order = append(r.order, Module{Name: name, Path: p, Depends: deps})
	return nil
}

func normalizeModName(n string) string { return strings.ReplaceAll(n, "-", "_") }

// modNameFromPath turns ".../virtio-rng.ko.xz" into "virtio_rng".
func modNameFromPath(p string) (string, bool) {
	base := filepath.Base(p)
	for _, ext := range moduleExts {
		if strings.HasSuffix(base, ext) {
			return normalizeModName(strings.TrimSuffix(base, ext)), true
		}
	}
	return "", false
}

func indexModules(dir string) (map[string]string, error) {
	index := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name, ok := modNameFromPath(p); ok && d.Type().IsRegular() {
			if _, dup := index[name]; !dup {
				index[name] = p
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("indexing modules in %s: %w", dir, err)
	}
	return index, nil
}

func readBuiltin(dir string) (map[string]bool, error) {
	builtin := map[string]bool{}
	f, err := os.Open(filepath.Join(dir, "modules.builtin"))
	if errors.Is(err, fs.ErrNotExist) {
		return builtin, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading modules.builtin: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name, ok := modNameFromPath(strings.TrimSpace(sc.Text())); ok {
			builtin[name] = true
		}
	}
	return builtin, sc.Err()
}

// moduleDepends reads depends= from the .modinfo ELF section of a module.
func moduleDepends(p string) ([]string, error) {
	data, err := ReadModule(p)
	if err != nil {
		return nil, err
	}
	ef, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("parsing module %s: %w", p, err)
	}
	sec := ef.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("parsing module %s: no .modinfo section", p)
	}
	info, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("reading .modinfo of %s: %w", p, err)
	}
	for _, kv := range bytes.Split(info, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			var deps []string
			for _, d := range strings.Split(string(v), ",") {
				if d = strings.TrimSpace(d); d != "" {
					deps = append(deps, normalizeModName(d))
				}
			}
			return deps, nil
		}
	}
	return nil, nil
}

// ReadModule returns the uncompressed bytes of a module file, decompressing
// .ko.xz, .ko.zst and .ko.gz. The signature appended to a module covers the
// uncompressed form, so the result still loads on a kernel enforcing it.
func ReadModule(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("opening module: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	switch {
	case strings.HasSuffix(p, ".xz"):
		xr, err := xz.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("decompressing module %s: %w", p, err)
		}
		r = xr
	case strings.HasSuffix(p, ".zst"):
		zr, err := zstd.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("decompressing module %s: %w", p, err)
		}
		defer zr.Close()
		r = zr
	case strings.HasSuffix(p, ".gz"):
		gr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("decompressing module %s: %w", p, err)
		}
		r = gr
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading module %s: %w", p, err)
	}
	return data, nil
}
