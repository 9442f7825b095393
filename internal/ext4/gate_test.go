package ext4

import (
	"os"
	"os/exec"
	"testing"

	"github.com/banger-dev/banger/internal/testutil/ext4check"
)

func needTool(t testing.TB, name, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not found (install Debian package %s)", name, pkg)
	}
}

// fsckGate runs EXT4-NOTES §0 on an image only the writer has written:
// e2fsck -fn exits 0 with only the pass/summary lines, and e2fsck -fp on a
// sparse copy rewrites nothing but the superblock.
func fsckGate(t testing.TB, img string) {
	t.Helper()
	ext4check.GateUntouched(t, img)
}

// requireRoot skips tests that mount.
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a loop device needs root")
	}
}
