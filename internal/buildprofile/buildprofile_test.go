package buildprofile

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	debian = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n"
	ubuntu = "PRETTY_NAME=\"Ubuntu 24.04.1 LTS\"\nNAME=\"Ubuntu\"\nID=ubuntu\nID_LIKE=debian\n"
	mint   = "NAME=\"Linux Mint\"\nID=linuxmint\nID_LIKE=\"ubuntu debian\"\n"
	alpine = "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME=\"Alpine Linux v3.20\"\n"
	fedora = "NAME=\"Fedora Linux\"\nID=fedora\nPRETTY_NAME=\"Fedora Linux 40\"\n"
	busybx = "NAME=busybox\n"
)

func TestSelectByOSRelease(t *testing.T) {
	for _, tc := range []struct{ rel, family string }{
		{debian, "apt"}, {ubuntu, "apt"}, {mint, "apt"}, {alpine, "apk"},
	} {
		s, err := Select("dev", []byte(tc.rel), []string{"ssh=1", "user=me"})
		if err != nil {
			t.Fatalf("%q: %v", tc.rel, err)
		}
		if s.Family != tc.family || !strings.Contains(s.Text, "profile dev") {
			t.Errorf("%q: family %q, want %q", tc.rel, s.Family, tc.family)
		}
		if !strings.Contains(s.Text, map[string]string{"apt": "apt-get install", "apk": "apk add"}[tc.family]) {
			t.Errorf("%s script does not use its package manager", tc.family)
		}
		if !slices.Equal(s.Env, []string{"PROFILE_SSH=1", "PROFILE_USER=me"}) {
			t.Errorf("env = %q", s.Env)
		}
	}
	for _, rel := range []string{fedora, busybx, ""} {
		if _, err := Select("dev", []byte(rel), nil); err == nil || !strings.Contains(err.Error(), "supports Debian/Ubuntu (apt) and Alpine (apk)") {
			t.Errorf("%q: err %v", rel, err)
		}
	}
}

func TestCheckRejectsUnknown(t *testing.T) {
	if err := Check("nope", nil); err == nil || !strings.Contains(err.Error(), `unknown profile "nope" (known: dev)`) {
		t.Errorf("unknown profile: %v", err)
	}
	if err := Check("dev", []string{"colour=red"}); err == nil || !strings.Contains(err.Error(), `no setting "colour=red"`) {
		t.Errorf("unknown setting: %v", err)
	}
	if err := Check("dev", []string{"ssh"}); err == nil {
		t.Error("a setting without = was accepted")
	}
	if err := Check("dev", []string{"ssh=1", "ssh_key=ssh-ed25519 AAAA x@y"}); err != nil {
		t.Error(err)
	}
}

// TestScriptsParse checks every embedded script with sh -n (and dash, and
// busybox ash when present: the shells the guests have).
func TestScriptsParse(t *testing.T) {
	entries, err := scripts.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	shells := [][]string{{"sh", "-n"}}
	if _, err := exec.LookPath("busybox"); err == nil {
		shells = append(shells, []string{"busybox", "ash", "-n"})
	}
	dir := t.TempDir()
	for _, e := range entries {
		b, _ := scripts.ReadFile(e.Name())
		p := filepath.Join(dir, e.Name())
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, sh := range shells {
			if out, err := exec.Command(sh[0], append(sh[1:], p)...).CombinedOutput(); err != nil {
				t.Errorf("%s %s: %v\n%s", strings.Join(sh, " "), e.Name(), err, out)
			}
		}
	}
	if len(entries) != 2 {
		t.Errorf("%d scripts embedded, want 2", len(entries))
	}
}

func TestParseOSRelease(t *testing.T) {
	rel := ParseOSRelease([]byte("# comment\nID='alpine'\nID_LIKE=\"a b\"\nBROKEN\nX=\n"))
	if rel["ID"] != "alpine" || rel["ID_LIKE"] != "a b" || len(rel) != 3 {
		t.Errorf("parsed %q", rel)
	}
}
