package initramfs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/banger-dev/banger/internal/guestinit/vmconfig"
)

// InitEnv names the environment variable that points at the banger-init
// binary, overriding the lookup next to the running executable.
const InitEnv = "BANGER_INIT"

// LocateInit finds the banger-init binary: $BANGER_INIT if set, else
// banger-init in the directory of the running executable (where `make build`
// puts it).
func LocateInit() (string, error) {
	if p := os.Getenv(InitEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("locating banger-init from $%s: %w", InitEnv, err)
		}
		return p, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("locating banger-init: %w", err)
	}
	p := filepath.Join(filepath.Dir(exe), "banger-init")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("locating banger-init next to %s (build it with `make build` or set $%s): %w", exe, InitEnv, err)
	}
	return p, nil
}

// Cached returns the path of the per-kernel initramfs for opts inside dir,
// building it first when absent. The cache key covers the init binary's
// digest, opts.KernelID, the modules tree and the module list, so a new
// banger-init or kernel gets a new file. Stale files are left for the caller's
// cache pruning.
func Cached(ctx context.Context, dir string, opts Options) (string, error) {
	key, err := cacheKey(opts)
	if err != nil {
		return "", err
	}
	dst := filepath.Join(dir, "initramfs-"+key+".cpio.gz")
	if _, err := os.Stat(dst); err == nil {
		return dst, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating initramfs cache: %w", err)
	}
	err = writeAtomic(dst, func(w io.Writer) error { return Build(ctx, w, opts) })
	if err != nil {
		return "", fmt.Errorf("building initramfs: %w", err)
	}
	return dst, nil
}

func cacheKey(opts Options) (string, error) {
	f, err := os.Open(opts.InitPath)
	if err != nil {
		return "", fmt.Errorf("hashing banger-init: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing banger-init: %w", err)
	}
	fmt.Fprintf(h, "\x00%s\x00%s\x00%s", opts.KernelID, opts.ModulesDir, strings.Join(opts.modules(), ","))
	return hex.EncodeToString(h.Sum(nil))[:24], nil
}

// ForVM writes dst: the per-kernel initramfs at base followed by the settings
// archive for cfg. The kernel unpacks both, one over the other.
func ForVM(ctx context.Context, base string, cfg vmconfig.Config, dst string) error {
	settings, err := SettingsArchive(cfg)
	if err != nil {
		return err
	}
	return writeAtomic(dst, func(w io.Writer) error {
		src, err := os.Open(base)
		if err != nil {
			return fmt.Errorf("opening initramfs: %w", err)
		}
		defer src.Close()
		if _, err := io.Copy(w, src); err != nil {
			return fmt.Errorf("copying initramfs: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		_, err = w.Write(settings)
		return err
	})
}

// writeAtomic writes a file through a temporary sibling, fsyncs and renames it.
func writeAtomic(dst string, fill func(io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".tmp-"+filepath.Base(dst)+"-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = fill(tmp); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}
