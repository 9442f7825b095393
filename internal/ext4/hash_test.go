package ext4

import (
	"encoding/hex"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDirHashMatchesDebugfs checks half_md4 (signed) against e2fsprogs.
func TestDirHashMatchesDebugfs(t *testing.T) {
	needTool(t, "debugfs", "e2fsprogs")
	img := filepath.Join(t.TempDir(), "h.img")
	buildImage(t, img, Options{}, nil)
	seedHex := "0123456789abcdef0123456789abcdef"
	var seed [16]byte
	hex.Decode(seed[:], []byte(seedHex))
	uuid := fmt.Sprintf("%s-%s-%s-%s-%s", seedHex[:8], seedHex[8:12], seedHex[12:16], seedHex[16:20], seedHex[20:])
	h := newDirHasher(seed)
	names := []string{"hello", "a", "lost+found", strings.Repeat("x", 31), strings.Repeat("y", 32),
		strings.Repeat("long-name-", 25), "caf\xe9", "\xff\xfe\x80high", "Makefile.am"}
	for _, name := range names {
		out, err := exec.Command("debugfs", "-R", "dx_hash -h half_md4 -s "+uuid+" "+name, img).CombinedOutput()
		if err != nil {
			t.Fatalf("debugfs: %v\n%s", err, out)
		}
		want := fmt.Sprintf("Hash of %s is 0x%x", name, h.hash(name))
		if !strings.Contains(string(out), want) {
			t.Errorf("name %q: got %q, debugfs says %s", name, want, out)
		}
	}
}
