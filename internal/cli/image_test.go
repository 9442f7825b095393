package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

func TestImageCommands(t *testing.T) {
	te := newTestEnv(t)
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "root.ext4")
	mkExt4(t, rootfs, "64M")

	te.importFakeKernel(t, "k1")
	out := te.ok(t, "image", "register", "deb", "--rootfs", rootfs, "--kernel-ref", "k1")
	if !strings.HasPrefix(out, `registered image "deb" (id `) || !strings.HasSuffix(out, ", 64.0 MiB)\n") {
		t.Fatalf("register: %q", out)
	}
	table := te.ok(t, "image", "list")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[1], "deb ") || !strings.Contains(lines[1], "k1") || !strings.Contains(lines[1], "64.0 MiB") {
		t.Fatalf("table: %q", table)
	}

	var list []map[string]any
	if err := json.Unmarshal([]byte(te.ok(t, "image", "list", "--format", "json")), &list); err != nil || len(list) != 1 {
		t.Fatalf("list json: %v %v", list, err)
	}
	var keys []string
	for k := range list[0] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if got := strings.Join(keys, ","); got != "config,created,digest,id,kernel,managed,name,platform,ref,rootfs,size_bytes" {
		t.Fatalf("json keys: %s", got)
	}
	if list[0]["name"] != "deb" || list[0]["size_bytes"] != float64(64<<20) || list[0]["ref"] != rootfs {
		t.Fatalf("json values: %v", list[0])
	}

	var inspected map[string]any
	if err := json.Unmarshal([]byte(te.ok(t, "image", "inspect", "deb", "--format", "json")), &inspected); err != nil {
		t.Fatal(err)
	}
	if inspected["id"] != list[0]["id"] || inspected["rootfs"] != list[0]["rootfs"] {
		t.Fatalf("inspect json %v vs list %v", inspected, list[0])
	}
	text := te.ok(t, "image", "inspect", "deb")
	for _, want := range []string{"name:", "deb", "id:", inspected["id"].(string), "kernel:", "k1", "size:", "64.0 MiB (67108864 bytes)"} {
		if !strings.Contains(text, want) {
			t.Errorf("inspect text lacks %q:\n%s", want, text)
		}
	}
	if _, err := os.Stat(inspected["rootfs"].(string)); err != nil {
		t.Fatalf("rootfs missing: %v", err)
	}

	if out := te.ok(t, "image", "rm", "deb"); out != "removed image \"deb\"\n" {
		t.Fatalf("rm: %q", out)
	}
	if _, err := os.Stat(filepath.Dir(inspected["rootfs"].(string))); !os.IsNotExist(err) {
		t.Fatalf("image dir survives rm: %v", err)
	}
	if out := te.ok(t, "image", "list", "--format", "json"); out != "[]\n" {
		t.Fatalf("empty json list: %q", out)
	}
}

func TestImageErrorMessages(t *testing.T) {
	te := newTestEnv(t)
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "root.ext4")
	mkExt4(t, rootfs, "16M")
	junk := filepath.Join(dir, "junk")
	if err := os.WriteFile(junk, make([]byte, 8192), 0o644); err != nil {
		t.Fatal(err)
	}
	te.ok(t, "image", "register", "a", "--rootfs", rootfs)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"image", "inspect", "nope"}, `banger: image "nope" not found`},
		{[]string{"image", "rm", "nope"}, `banger: image "nope" not found`},
		{[]string{"image", "register", "a", "--rootfs", rootfs}, `banger: image "a" already exists`},
		{[]string{"image", "register", "b", "--rootfs", dir + "/missing"}, "banger: rootfs file " + dir + "/missing does not exist"},
		{[]string{"image", "register", "b", "--rootfs", junk},
			"banger: rootfs " + junk + " is not an ext4 filesystem (no superblock magic 0xEF53 at byte 1080)"},
		{[]string{"image", "register", "b"}, `banger: required flag(s) "rootfs" not set`},
		{[]string{"image", "list", "--format", "yaml"}, `banger: unknown format "yaml" (use table or json)`},
	}
	for _, c := range cases {
		if got := te.fails(t, c.args...); got != c.want+"\n" {
			t.Errorf("banger %s:\n got %q\nwant %q", strings.Join(c.args, " "), got, c.want+"\n")
		}
	}
}

// Eight registers at once, with no daemon running yet: they race to start
// one, and every image is recorded.
func TestParallelRegisterAutoStarts(t *testing.T) {
	te := newTestEnv(t)
	rootfs := filepath.Join(t.TempDir(), "root.ext4")
	mkExt4(t, rootfs, "32M")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, stderr, code := te.run(t, "image", "register", fmt.Sprintf("img-%d", i), "--rootfs", rootfs); code != 0 {
				t.Errorf("register img-%d: exit %d: %s", i, code, stderr)
			}
		}()
	}
	wg.Wait()
	var list []struct{ Name string }
	if err := json.Unmarshal([]byte(te.ok(t, "image", "list", "--format", "json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 8 {
		t.Fatalf("%d images recorded, want 8: %v", len(list), list)
	}
	logged, _ := os.ReadFile(te.stateDir() + "/daemon.log")
	if n := strings.Count(string(logged), "daemon ready"); n != 1 {
		t.Fatalf("%d daemons became ready, want 1:\n%s", n, logged)
	}
}
