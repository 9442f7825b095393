// Package initramfs builds the initramfs banger boots every kernel with:
// banger-init as /init, the kernel modules a microvm needs, and, appended per
// VM, a second archive carrying that VM's settings.
package initramfs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/banger-dev/banger/internal/guestinit/vmconfig"
	"github.com/klauspost/compress/gzip"
)

// Options selects what goes into a per-kernel initramfs. ModulesDir and
// Modules may be left empty for a kernel with everything built in.
type Options struct {
	// InitPath is the banger-init binary (see LocateInit).
	InitPath string
	// ModulesDir is the kernel's lib/modules/<version> tree.
	ModulesDir string
	// Modules to load; nil means DefaultModules when ModulesDir is set.
	Modules []string
	// KernelID identifies the kernel (its digest) in the cache key.
	KernelID string
}

func (o Options) modules() []string {
	if o.ModulesDir == "" {
		return nil
	}
	if o.Modules == nil {
		return DefaultModules()
	}
	return o.Modules
}

// Build writes the gzip-compressed per-kernel initramfs to w.
func Build(ctx context.Context, w io.Writer, opts Options) error {
	var mods []Module
	if names := opts.modules(); len(names) > 0 {
		var err error
		if mods, err = ResolveModules(opts.ModulesDir, names); err != nil {
			return err
		}
	}
	gz := gzip.NewWriter(w)
	cw := NewCPIOWriter(gz)
	for _, e := range []Entry{
		Dir("dev", 0o755), CharDev("dev/console", 0o600, 5, 1), CharDev("dev/null", 0o666, 1, 3),
		Dir("proc", 0o755), Dir("sys", 0o755), Dir("newroot", 0o755), Dir("banger", 0o755),
		Dir("lib", 0o755), Dir("lib/modules", 0o755),
	} {
		if err := cw.WriteEntry(e, nil); err != nil {
			return err
		}
	}
	if err := writeInit(cw, opts.InitPath); err != nil {
		return err
	}
	if err := writeModules(ctx, cw, mods); err != nil {
		return err
	}
	if err := cw.Close(); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return fmt.Errorf("compressing initramfs: %w", err)
	}
	return nil
}

func writeInit(cw *CPIOWriter, initPath string) error {
	f, err := os.Open(initPath)
	if err != nil {
		return fmt.Errorf("opening banger-init: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("opening banger-init: %w", err)
	}
	return cw.WriteEntry(File("init", 0o755, st.Size()), f)
}

// writeModules stores each module uncompressed as lib/modules/<name>.ko and
// lists them in load order in vmconfig.ModulesPath.
func writeModules(ctx context.Context, cw *CPIOWriter, mods []Module) error {
	var list strings.Builder
	for _, m := range mods {
		if err := ctx.Err(); err != nil {
			return err
		}
		data, err := ReadModule(m.Path)
		if err != nil {
			return err
		}
		name := path.Join("lib/modules", m.Name+".ko")
		if err := cw.WriteEntry(File(name, 0o644, int64(len(data))), bytes.NewReader(data)); err != nil {
			return err
		}
		list.WriteString("/" + name + "\n")
	}
	return cw.WriteEntry(File(vmconfig.ModulesPath, 0o644, int64(list.Len())), strings.NewReader(list.String()))
}

// SettingsArchive returns a gzip-compressed cpio holding cfg as
// vmconfig.Path, to be appended to a per-kernel initramfs.
func SettingsArchive(cfg vmconfig.Config) ([]byte, error) {
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding vm settings: %w", err)
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	cw := NewCPIOWriter(gz)
	if err := cw.WriteEntry(Dir("banger", 0o755), nil); err != nil {
		return nil, err
	}
	if err := cw.WriteEntry(File(vmconfig.Path, 0o644, int64(len(data))), bytes.NewReader(data)); err != nil {
		return nil, err
	}
	if err := cw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, fmt.Errorf("compressing vm settings: %w", err)
	}
	return buf.Bytes(), nil
}
