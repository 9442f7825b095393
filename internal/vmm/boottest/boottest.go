// Package boottest gives tests the real parts a boot needs: Debian's cloud
// kernel unpacked from its .deb, a static banger-init, and a small busybox
// root filesystem. Each helper skips the test, naming the Debian package, when
// a tool or file is missing.
package boottest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"testing"
)

// KernelDebEnv overrides where the kernel package is looked for.
const KernelDebEnv = "BANGER_TEST_KERNEL_DEB"

// Kernel is an unpacked kernel package.
type Kernel struct {
	Image      string // vmlinuz
	ModulesDir string // lib/modules/<version>
	Version    string
}

// KernelDeb returns the path of Debian's linux-image-*-cloud-amd64 package.
func KernelDeb(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(KernelDebEnv); p != "" {
		return p
	}
	m, _ := filepath.Glob("/var/cache/banger-ci/linux-image-*-cloud-amd64_*.deb")
	if len(m) == 0 {
		t.Skip("no kernel package: set $" + KernelDebEnv + " or `apt-get download linux-image-cloud-amd64` into /var/cache/banger-ci")
	}
	sort.Strings(m)
	return m[len(m)-1]
}

// UnpackKernel extracts the kernel package into a temporary directory.
func UnpackKernel(t testing.TB) Kernel {
	t.Helper()
	deb := KernelDeb(t)
	need(t, "dpkg-deb", "dpkg")
	dir := t.TempDir()
	if out, err := exec.Command("dpkg-deb", "-x", deb, dir).CombinedOutput(); err != nil {
		t.Fatalf("unpacking %s: %v\n%s", deb, err, out)
	}
	vms, _ := filepath.Glob(filepath.Join(dir, "boot", "vmlinuz-*"))
	mods, _ := filepath.Glob(filepath.Join(dir, "lib", "modules", "*"))
	if len(vms) != 1 || len(mods) != 1 {
		t.Fatalf("unexpected kernel package layout: %v %v", vms, mods)
	}
	return Kernel{Image: vms[0], ModulesDir: mods[0], Version: filepath.Base(mods[0])}
}

// BuildInit compiles cmd/banger-init statically into a temporary directory.
func BuildInit(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..", "..")
	out := filepath.Join(t.TempDir(), "banger-init")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./cmd/banger-init")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building banger-init: %v\n%s", err, b)
	}
	return out
}

func need(t testing.TB, bin, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(bin); err != nil {
		t.Skipf("%s not found: install the Debian package %s", bin, pkg)
	}
}

// Rootfs is a test root filesystem image.
type Rootfs struct {
	Path string // ext4 image file
}

// BusyboxRootfs builds a small ext4 image around busybox-static with
// mkfs.ext4 -d. It has a user "app" (1000:1000, also in group "extra" 2000,
// home /home/app), an /sbin/init script that prints "image init running as
// pid N" and powers off, and deliberately no /dev, /proc or /sys, which
// banger-init must create in the VM's copy.
func BusyboxRootfs(t testing.TB) Rootfs {
	t.Helper()
	need(t, "mkfs.ext4", "e2fsprogs")
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("busybox not found: install the Debian package busybox-static")
	}
	if out, _ := exec.Command("file", "-L", bb).Output(); len(out) > 0 && !contains(out, "statically linked") {
		t.Skip("busybox is not static: install the Debian package busybox-static")
	}
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	for _, d := range []string{"bin", "sbin", "etc", "home/app", "srv/work", "tmp"} {
		mustDo(t, os.MkdirAll(filepath.Join(tree, d), 0o755))
	}
	mustDo(t, os.Chmod(filepath.Join(tree, "tmp"), 0o1777))
	data, err := os.ReadFile(bb)
	mustDo(t, err)
	mustDo(t, os.WriteFile(filepath.Join(tree, "bin", "busybox"), data, 0o755))
	for _, a := range []string{"sh", "echo", "cat", "id", "pwd", "env", "sleep", "ls", "ps", "true",
		"false", "kill", "printenv", "hostname", "ip", "grep", "head", "wc", "dd", "sync", "seq", "nc", "mount", "poweroff", "tty"} {
		mustDo(t, os.Symlink("busybox", filepath.Join(tree, "bin", a)))
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n",
		"etc/group":  "root:x:0:\napp:x:1000:\nextra:x:2000:root,app\n",
	}
	for name, content := range files {
		mustDo(t, os.WriteFile(filepath.Join(tree, name), []byte(content), 0o644))
	}
	initScript := "#!/bin/sh\necho \"image init running as pid $$\"\nexec poweroff -f\n"
	mustDo(t, os.WriteFile(filepath.Join(tree, "sbin", "init"), []byte(initScript), 0o755))
	mustDo(t, os.Chown(filepath.Join(tree, "home/app"), 1000, 1000))
	img := filepath.Join(dir, "rootfs.ext4")
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-d", tree, img, "32M").CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	return Rootfs{Path: img}
}

func contains(b []byte, s string) bool { return bytes.Contains(b, []byte(s)) }

func mustDo(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
