package debianboot

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/banger-dev/banger/internal/model"
	"github.com/banger-dev/banger/internal/testutil/debianimage"
	"github.com/banger-dev/banger/internal/testutil/ext4check"
	"github.com/banger-dev/banger/internal/testutil/registrytest"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// treeEnv names the variable that points at the debootstrapped tree.
const treeEnv = "BANGER_DEBIAN_TREE"

// suidProbe runs $1 (a copy of su) as the calling user with a password
// prompt that waits 4 s on a pipe, and prints the process's Uid line
// (real, effective, saved, filesystem) once it has exec'd, then su's own
// output and exit status. Both copies end in "Authentication failure" when
// the pipe closes, so the message does not tell them apart; the Uid does.
const suidProbe = `bin=$1
sleep 4 | "$bin" root -c true 2>&1 &
pid=$!
i=0
while [ "$(cat /proc/$pid/comm 2>/dev/null)" = sh ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done
sleep 0.3
grep '^Uid:' /proc/$pid/status
wait $pid
echo "exit $?"`

// TestDebianBoot pushes, pulls and boots a real Debian bookworm minbase
// image once and checks it from inside through vm exec.
func TestDebianBoot(t *testing.T) {
	e := pullDebian(t, 0)
	var img model.Image
	if err := json.Unmarshal([]byte(e.ok(t, "image", "inspect", "debian", "--format", "json")), &img); err != nil {
		t.Fatal(err)
	}
	before := ext4check.FileSHA256(t, img.RootfsPath)

	t.Cleanup(func() { e.run(t, "vm", "rm", "--force", "deb") }) // after a failure; "no such VM" otherwise
	if out := e.ok(t, "vm", "run", "-d", "--name", "deb", "debian", "--", "sleep", "3600"); out != "deb\n" {
		t.Errorf("vm run -d printed %q, want %q", out, "deb\n")
	}
	checkGuest(t, e)
	e.ok(t, "vm", "stop", "deb")
	e.ok(t, "vm", "rm", "deb")
	if after := ext4check.FileSHA256(t, img.RootfsPath); after != before {
		t.Errorf("booting changed the image's rootfs: sha256 %s before, %s after", before, after)
	}
	checkBuild(t, e, img, before)
}

// checkBuild customizes the Debian image with image build (a file chowned
// to a user of the image, a setuid bit, compacted) and boots the result.
func checkBuild(t *testing.T, e *bangerEnv, base model.Image, baseSHA string) {
	e.ok(t, "image", "build", "--from-image", "debian", "--name", "debian-built", "--compact",
		"--run", "echo built > /srv/built.txt && chown www-data:www-data /srv/built.txt && chmod 4750 /srv/built.txt")
	var img model.Image
	if err := json.Unmarshal([]byte(e.ok(t, "image", "inspect", "debian-built", "--format", "json")), &img); err != nil {
		t.Fatal(err)
	}
	if img.Parent != "debian" {
		t.Errorf("built image's parent = %q", img.Parent)
	}
	ext4check.Gate(t, img.RootfsPath)
	tree := ext4check.Tree(t, ext4check.MountRO(t, img.RootfsPath))
	if n := tree["srv/built.txt"]; n.UID != 33 || n.GID != 33 || n.Mode != 0o4750 || n.SHA256 != ext4check.SHA256("built\n") {
		t.Errorf("srv/built.txt in the built image = %v, want www-data (33) 4750", n)
	}
	if n := tree["usr/bin/su"]; n.UID != 0 || n.Mode != 0o4755 {
		t.Errorf("usr/bin/su in the built image = %v, want root 4755", n)
	}
	if out := e.ok(t, "vm", "run", "--rm", "debian-built", "--", "stat", "-c", "%U %a %s", "/srv/built.txt"); out != "www-data 4750 6\n" {
		t.Errorf("the built image booted sees /srv/built.txt as %q", out)
	}
	if after := ext4check.FileSHA256(t, base.RootfsPath); after != baseSHA {
		t.Errorf("the build changed its base image's rootfs")
	}
}

// pullDebian pushes the Debian tree as an image to a fresh registry and, in
// a fresh banger environment (per-command timeout limit, 0 for the
// default), imports the kernel as "cloud" and pulls the image as "debian".
func pullDebian(t *testing.T, limit time.Duration) *bangerEnv {
	t.Helper()
	tree, deb := prerequisites(t)
	reg := registrytest.Start(t, registrytest.Options{})
	imgs, err := debianimage.Build(debianimage.Options{Tree: tree, Dir: t.TempDir()}, "a")
	if err != nil {
		t.Fatal(err)
	}
	ref := reg.Host + "/test/debian:bookworm"
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, imgs[0], remote.WithTransport(reg.Transport(t))); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	e := newEnv(t)
	e.timeout = limit
	e.ok(t, "kernel", "import", "cloud", "--deb", deb)
	e.ok(t, "image", "pull", ref, "--name", "debian", "--kernel-ref", "cloud")
	return e
}

// checkGuest runs the checks inside the running VM "deb".
func checkGuest(t *testing.T, e *bangerEnv) {
	if out := e.ok(t, "vm", "exec", "deb", "--", "id", "-u"); out != "0\n" {
		t.Errorf("id -u printed %q, want 0", out)
	}
	if out := e.ok(t, "vm", "exec", "deb", "--", "stat", "-c", "%U %a", "/usr/bin/su"); out != "root 4755\n" {
		t.Errorf("/usr/bin/su: %q, want root 4755", out)
	}
	if out := e.ok(t, "vm", "exec", "deb", "--", "cat", "/etc/os-release"); !strings.Contains(out, "VERSION_CODENAME=bookworm\n") {
		t.Errorf("/etc/os-release is not bookworm:\n%s", out)
	}
	// A copy without the setuid bit is the control: the same program run
	// the same way by the same user, which must not get euid 0.
	e.ok(t, "vm", "exec", "deb", "--", "sh", "-c", "cp /usr/bin/su /tmp/su-plain && chmod 0755 /tmp/su-plain")
	if out := e.ok(t, "vm", "exec", "deb", "--", "stat", "-c", "%U %a", "/tmp/su-plain"); out != "root 755\n" {
		t.Fatalf("/tmp/su-plain: %q, want root 755", out)
	}
	suid := probeUid(t, e, "/usr/bin/su")
	plain := probeUid(t, e, "/tmp/su-plain")
	if suid != [4]string{"65534", "0", "0", "0"} {
		t.Errorf("nobody running /usr/bin/su: uid/euid/suid/fsuid %v, want 65534 0 0 0", suid)
	}
	if plain != [4]string{"65534", "65534", "65534", "65534"} {
		t.Errorf("nobody running the non-setuid copy: uid/euid/suid/fsuid %v, want 65534 throughout", plain)
	}
}

// probeUid runs suidProbe as nobody on bin and returns the fields of the
// Uid line of bin's process.
func probeUid(t *testing.T, e *bangerEnv, bin string) [4]string {
	t.Helper()
	out := e.ok(t, "vm", "exec", "--user", "nobody", "deb", "--", "sh", "-c", suidProbe, "sh", bin)
	t.Logf("nobody running %s:\n%s", bin, out)
	var uid [4]string
	for _, line := range strings.Split(out, "\n") {
		// su's "Password: " prompt (no newline) may precede the line
		if _, rest, ok := strings.Cut(line, "Uid:"); ok && len(strings.Fields(rest)) == 4 {
			copy(uid[:], strings.Fields(rest))
			return uid
		}
	}
	t.Errorf("no Uid line from the probe of %s:\n%s", bin, out)
	return uid
}

// prerequisites returns the Debian tree and the kernel package, skipping
// the test when something it needs is missing.
func prerequisites(t *testing.T) (tree, deb string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: needs root (the Debian tree holds root-only files such as /etc/shadow)")
	}
	tree = os.Getenv(treeEnv)
	if tree == "" {
		tree = debianimage.DefaultTree
	}
	if _, err := os.Stat(tree + "/etc/os-release"); err != nil {
		t.Skipf("skipping: no Debian tree at %s (make it with scripts/bench/ensure-tree.sh %s, package debootstrap, or set $%s)", tree, tree, treeEnv)
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("skipping: qemu-system-x86_64 not found (apt-get install qemu-system-x86)")
	}
	if deb = kernelDeb(); deb == "" {
		t.Skip("skipping: no kernel package: set $BANGER_TEST_KERNEL_DEB or `apt-get download linux-image-cloud-amd64` into /var/cache/banger-ci")
	}
	return tree, deb
}
