package cli

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/banger-dev/banger/internal/vmm/boottest"
)

// testKernelConfig has everything banger needs built in, so a kernel made
// of it and fakeBzImage passes Inspect without modules.
const testKernelConfig = `CONFIG_ACPI=y
CONFIG_VIRTIO=y
CONFIG_VIRTIO_MMIO=y
CONFIG_VIRTIO_BLK=y
CONFIG_VIRTIO_CONSOLE=y
CONFIG_EXT4_FS=y
CONFIG_DEVTMPFS=y
CONFIG_BLK_DEV_INITRD=y
`

// writeFakeKernel writes an x86 boot header carrying release (all a
// bzImage needs to be recognised) and a config into dir.
func writeFakeKernel(t *testing.T, dir, release string) (image, config string) {
	t.Helper()
	img := make([]byte, 16<<10)
	copy(img[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(img[0x206:], 0x020f)
	binary.LittleEndian.PutUint16(img[0x20e:], 0x1000)
	img[0x236] = 1
	copy(img[0x1200:], release+" (test@example) #1 SMP\x00")
	image, config = filepath.Join(dir, "vmlinuz-"+release), filepath.Join(dir, "config-"+release)
	if err := os.WriteFile(image, img, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(config, []byte(testKernelConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	return image, config
}

// importFakeKernel installs a fake kernel called name.
func (te *testEnv) importFakeKernel(t *testing.T, name string) {
	t.Helper()
	image, config := writeFakeKernel(t, t.TempDir(), "6.1.0-7-test")
	te.ok(t, "kernel", "import", name, "--kernel", image, "--config", config)
}

// fileCatalog writes a catalog listing name as raw file:// downloads of a
// fake kernel and its config, and returns the catalog's path.
func fileCatalog(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	image, config := writeFakeKernel(t, dir, "6.1.0-9-test")
	dl := func(p string) map[string]any {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		return map[string]any{"url": "file://" + p, "size": len(data), "sha256": hex.EncodeToString(sum[:])}
	}
	doc, _ := json.Marshal(map[string]any{"schema": 1, "kernels": []any{map[string]any{
		"name": name, "version": "6.1.9", "arch": "amd64", "kernel": dl(image), "config": dl(config),
	}}})
	path := filepath.Join(dir, "catalog.json")
	if err := os.WriteFile(path, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestKernelCommands(t *testing.T) {
	te := newTestEnv(t)
	catalog := fileCatalog(t, "fk")
	out := te.ok(t, "kernel", "pull", "fk", "--catalog", catalog, "--arch", "amd64")
	if !strings.HasPrefix(out, `pulled kernel "fk" (6.1.0-9-test, amd64, bzImage, `) {
		t.Fatalf("pull: %q", out)
	}
	if out := te.ok(t, "kernel", "pull", "fk", "--catalog", catalog, "--arch", "amd64"); !strings.HasPrefix(out, `kernel "fk" is up to date (sha256:`) {
		t.Fatalf("re-pull: %q", out)
	}
	te.importFakeKernel(t, "k1")

	table := te.ok(t, "kernel", "list")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "fk ") || !strings.Contains(lines[1], " yes ") ||
		!strings.HasPrefix(lines[2], "k1 ") || !strings.Contains(lines[2], "6.1.0-7-test") {
		t.Fatalf("table:\n%s", table)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(te.ok(t, "kernel", "list", "--format", "json")), &list); err != nil || len(list) != 2 {
		t.Fatalf("list json: %v %v", list, err)
	}
	var keys []string
	for k := range list[0] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if got := strings.Join(keys, ","); got != "arch,boots,config,created,digest,dir,format,image,initrd,modules,name,release,size_bytes,source,version" {
		t.Fatalf("json keys: %s", got)
	}
	if list[0]["boots"] != true || list[0]["format"] != "bzImage" || list[0]["version"] != "6.1.9" {
		t.Fatalf("json values: %v", list[0])
	}
	text := te.ok(t, "kernel", "inspect", "fk")
	for _, want := range []string{"release:", "6.1.0-9-test", "boots under QEMU microvm: yes", "source:", "file://"} {
		if !strings.Contains(text, want) {
			t.Errorf("inspect text lacks %q:\n%s", want, text)
		}
	}

	rootfs := filepath.Join(t.TempDir(), "root.ext4")
	mkExt4(t, rootfs, "16M")
	te.ok(t, "image", "register", "a", "--rootfs", rootfs, "--kernel-ref", "k1")
	want := `banger: kernel "k1" is used by image(s) a; point them at another kernel (banger image set-kernel IMAGE KERNEL) or use --force` + "\n"
	if got := te.fails(t, "kernel", "rm", "k1"); got != want {
		t.Fatalf("rm in use:\n got %q\nwant %q", got, want)
	}
	if out := te.ok(t, "image", "set-kernel", "a", "fk"); out != `image "a" now boots kernel "fk"`+"\n" {
		t.Fatalf("set-kernel: %q", out)
	}
	if out := te.ok(t, "kernel", "rm", "k1"); out != `removed kernel "k1"`+"\n" {
		t.Fatalf("rm: %q", out)
	}
	te.fails(t, "kernel", "rm", "fk")
	if out := te.ok(t, "kernel", "rm", "--force", "fk"); out != `removed kernel "fk"`+"\n" {
		t.Fatalf("rm --force: %q", out)
	}
	if out := te.ok(t, "kernel", "list", "--format", "json"); out != "[]\n" {
		t.Fatalf("empty list: %q", out)
	}
}

func TestKernelErrorMessages(t *testing.T) {
	te := newTestEnv(t)
	rootfs := filepath.Join(t.TempDir(), "root.ext4")
	mkExt4(t, rootfs, "16M")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"image", "register", "a", "--rootfs", rootfs, "--kernel-ref", "firecracker-6.1"},
			`banger: kernel "firecracker-6.1" not found; try: banger kernel pull firecracker-6.1`},
		{[]string{"image", "register", "a", "--rootfs", rootfs, "--kernel-ref", "mykernel"},
			`banger: kernel "mykernel" not found; try: banger kernel import mykernel --deb FILE (or banger kernel pull mykernel --catalog URL)`},
		{[]string{"kernel", "inspect", "nope"}, `banger: kernel "nope" not found`},
		{[]string{"kernel", "rm", "nope"}, `banger: kernel "nope" not found`},
		{[]string{"kernel", "import", "x"}, `banger: at least one of the flags in the group [kernel deb package] is required`},
		{[]string{"kernel", "import", "x", "--deb", "/nonexistent.deb"}, `banger: package /nonexistent.deb does not exist`},
		{[]string{"kernel", "pull", "nope", "--arch", "amd64"}, `banger: kernel "nope" for amd64 is not in the built-in catalog`},
		{[]string{"kernel", "pull", "x", "--arch", "riscv64"}, `banger: unsupported kernel architecture "riscv64": want amd64 or arm64`},
		{[]string{"kernel", "list", "--format", "yaml"}, `banger: unknown format "yaml" (use table or json)`},
	}
	for _, c := range cases {
		if got := te.fails(t, c.args...); got != c.want+"\n" {
			t.Errorf("banger %s:\n got %q\nwant %q", strings.Join(c.args, " "), got, c.want+"\n")
		}
	}
}

func TestKernelImportRealDebian(t *testing.T) {
	deb := boottest.KernelDeb(t)
	te := newTestEnv(t)
	out := te.ok(t, "kernel", "import", "debian", "--deb", deb)
	if !strings.HasPrefix(out, `imported kernel "debian" (6.1.`) {
		t.Fatalf("import: %q", out)
	}
	var k struct {
		Name, Release, Modules, Image string
		Boots                         bool
		Report                        struct {
			Boots         bool
			Reasons       []string
			ModulesNeeded []string `json:"modules_needed"`
			ModuleFiles   []string `json:"module_files"`
		}
	}
	if err := json.Unmarshal([]byte(te.ok(t, "kernel", "inspect", "debian", "--format", "json")), &k); err != nil {
		t.Fatal(err)
	}
	if k.Name != "debian" || !k.Boots || !k.Report.Boots {
		t.Fatalf("inspect: %+v", k)
	}
	if !slices.Contains(k.Report.ModulesNeeded, "virtio_blk") || len(k.Report.ModuleFiles) != len(k.Report.ModulesNeeded) {
		t.Fatalf("modules needed %v, files %v", k.Report.ModulesNeeded, k.Report.ModuleFiles)
	}
	for _, f := range append(k.Report.ModuleFiles, k.Image, k.Modules) {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("listed file missing: %v", err)
		}
	}
	t.Logf("release %s, modules %v", k.Release, k.Report.ModulesNeeded)
}
