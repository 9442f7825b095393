package paths

import (
	"fmt"
	"os"
	"syscall"
)

// EnsureState creates the state tree (0700 root, its subdirectories 0755).
func (l Layout) EnsureState() error {
	if err := os.MkdirAll(l.StateDir, 0o700); err != nil {
		return fmt.Errorf("creating state directory: %w", err)
	}
	for _, dir := range append(l.ArtifactDirs(), l.TmpDir()) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("creating state directory: %w", err)
		}
	}
	return nil
}

// EnsureRuntimeDir creates the socket directory with mode 0700 and checks
// that it is a directory owned by the current user and closed to others, so
// that nobody else can plant or reach the socket (this matters most for the
// /tmp fallback, where another user may have created the name first).
func (l Layout) EnsureRuntimeDir() error {
	if err := os.MkdirAll(l.RuntimeDir, 0o700); err != nil {
		return fmt.Errorf("creating runtime directory: %w", err)
	}
	info, err := os.Lstat(l.RuntimeDir)
	if err != nil {
		return fmt.Errorf("checking runtime directory: %w", err)
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	switch {
	case !info.IsDir():
		return fmt.Errorf("checking runtime directory: %s is not a directory", l.RuntimeDir)
	case !ok || int(st.Uid) != os.Getuid():
		return fmt.Errorf("checking runtime directory: %s is not owned by uid %d", l.RuntimeDir, os.Getuid())
	case info.Mode().Perm() != 0o700:
		if err := os.Chmod(l.RuntimeDir, 0o700); err != nil {
			return fmt.Errorf("restricting runtime directory: %w", err)
		}
	}
	return nil
}
