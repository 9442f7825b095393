package kernelcat

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// maxModuleSize bounds a decompressed module read for its .modinfo.
const maxModuleSize = 64 << 20

// Module is one loadable module, in load order when returned by ResolveModules.
type Module struct {
	// Name is the module name with '_' (as lsmod shows it).
	Name string `json:"name"`
	// Path is the module file relative to the modules dir, e.g.
	// "kernel/drivers/block/virtio_blk.ko".
	Path string `json:"path"`
	// Depends are the names from the module's .modinfo "depends=".
	Depends []string `json:"depends,omitempty"`
}

// moduleIndex knows the module files of one release and its built-ins.
type moduleIndex struct {
	dir     string
	files   map[string]string // name → path relative to dir
	builtin map[string]bool
}

// indexModules walks a modules/<release> dir for *.ko{,.xz,.zst,.gz} and
// reads modules.builtin when present.
func indexModules(dir string) (*moduleIndex, error) {
	idx := &moduleIndex{dir: dir, files: make(map[string]string), builtin: make(map[string]bool)}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		if name, ok := moduleName(d.Name()); ok {
			rel, _ := filepath.Rel(dir, p)
			if _, dup := idx.files[name]; !dup {
				idx.files[name] = filepath.ToSlash(rel)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("indexing modules in %s: %w", dir, err)
	}
	if f, err := os.Open(filepath.Join(dir, "modules.builtin")); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if name, ok := moduleName(path.Base(strings.TrimSpace(sc.Text()))); ok {
				idx.builtin[name] = true
			}
		}
	}
	return idx, nil
}

// moduleName turns "virtio-rng.ko.zst" into "virtio_rng".
func moduleName(file string) (string, bool) {
	for _, ext := range []string{".ko", ".ko.xz", ".ko.zst", ".ko.gz"} {
		if base, ok := strings.CutSuffix(file, ext); ok {
			return normModule(base), true
		}
	}
	return "", false
}

func normModule(name string) string { return strings.ReplaceAll(name, "-", "_") }

// ResolveModules returns the named modules of the modules dir (one release,
// e.g. <kernel>/modules/6.1.0-57-cloud-amd64) together with everything they
// depend on, each after its dependencies, in the order a boot loader must
// insmod them. Dependencies come from each module's ELF .modinfo section
// ("depends="), as depmod reads them; no modules.dep is needed. Names that
// are built into the kernel (modules.builtin) are skipped.
func ResolveModules(modulesDir string, names ...string) ([]Module, error) {
	idx, err := indexModules(modulesDir)
	if err != nil {
		return nil, err
	}
	return idx.resolve(names)
}

func (idx *moduleIndex) resolve(names []string) ([]Module, error) {
	var order []Module
	state := make(map[string]int) // 1 visiting, 2 done
	var visit func(name string, chain []string) error
	visit = func(name string, chain []string) error {
		name = normModule(name)
		switch state[name] {
		case 1:
			return fmt.Errorf("module dependency cycle: %s", strings.Join(append(chain, name), " -> "))
		case 2:
			return nil
		}
		rel, ok := idx.files[name]
		if !ok {
			if idx.builtin[name] {
				state[name] = 2
				return nil
			}
			if len(chain) == 0 {
				return fmt.Errorf("%w: module %s in %s", ErrNotFound, name, idx.dir)
			}
			return fmt.Errorf("%w: module %s (needed by %s) in %s", ErrNotFound, name, strings.Join(chain, " -> "), idx.dir)
		}
		state[name] = 1
		deps, err := moduleDepends(filepath.Join(idx.dir, rel))
		if err != nil {
			return err
		}
		for _, d := range deps {
			if err := visit(d, append(chain, name)); err != nil {
				return err
			}
		}
		state[name] = 2
		order = append(order, Module{Name: name, Path: rel, Depends: deps})
		return nil
	}
	for _, n := range names {
		if err := visit(n, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// moduleDepends reads "depends=" from a module's .modinfo section,
// decompressing .ko.xz/.ko.zst/.ko.gz in memory first.
func moduleDepends(file string) ([]string, error) {
	data, err := ReadModule(file)
	if err != nil {
		return nil, fmt.Errorf("reading module %s: %w", file, err)
	}
	ef, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("reading module %s: %w", file, err)
	}
	sec := ef.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("module %s has no .modinfo section", file)
	}
	info, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("reading .modinfo of %s: %w", file, err)
	}
	for _, kv := range bytes.Split(info, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			var deps []string
			for _, d := range strings.Split(string(v), ",") {
				if d = strings.TrimSpace(d); d != "" {
					deps = append(deps, normModule(d))
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
func ReadModule(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	switch {
	case strings.HasSuffix(file, ".xz"):
		xr, err := xz.NewReader(f)
		if err != nil {
			return nil, err
		}
		r = xr
	case strings.HasSuffix(file, ".zst"):
		zr, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(zstdMaxWindow))
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	case strings.HasSuffix(file, ".gz"):
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	}
	data, err := io.ReadAll(io.LimitReader(r, maxModuleSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxModuleSize {
		return nil, errors.New("module larger than 64 MiB")
	}
	return data, nil
}
