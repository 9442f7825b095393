package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/banger-dev/banger/internal/model"
	"github.com/banger-dev/banger/internal/testutil/busyboximage"
	"github.com/banger-dev/banger/internal/testutil/ext4check"
	"github.com/banger-dev/banger/internal/testutil/registrytest"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestPullFromPrivateTLSRegistry runs the user's path against Debian's
// registry with TLS and htpasswd: refused without credentials, banger login,
// pull, list, up to date on a re-pull, and a certificate error without the CA.
func TestPullFromPrivateTLSRegistry(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{TLS: true, User: "alice", Password: "s3cret"})
	ref := reg.Host + "/team/busybox:1"
	img, err := busyboximage.Build(busyboximage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, remote.WithTransport(reg.Transport(t)),
		remote.WithAuth(&authn.Basic{Username: "alice", Password: "s3cret"})); err != nil {
		t.Fatalf("pushing: %v", err)
	}

	te := newTestEnv(t, "SSL_CERT_FILE="+reg.CAFile, "DOCKER_CONFIG="+t.TempDir())
	stderr := te.fails(t, "image", "pull", ref)
	if !strings.Contains(stderr, "banger login "+reg.Host) {
		t.Errorf("unauthenticated pull: %q does not name the fix", stderr)
	}
	var out, errOut bytes.Buffer
	code := Run(context.Background(), Env{Args: []string{"login", reg.Host, "-u", "alice", "--password-stdin"},
		Stdin: strings.NewReader("wrong\n"), Stdout: &out, Stderr: &errOut, Environ: te.environ, Executable: bangerBinary()})
	if code != 1 || !strings.Contains(errOut.String(), `rejected the password of user "alice"`) {
		t.Errorf("login with a wrong password: exit %d, %q", code, errOut.String())
	}
	out.Reset()
	code = Run(context.Background(), Env{Args: []string{"login", reg.Host, "-u", "alice", "--password-stdin"},
		Stdin: strings.NewReader("s3cret\n"), Stdout: &out, Stderr: &errOut, Environ: te.environ, Executable: bangerBinary()})
	if code != 0 {
		t.Fatalf("login: exit %d, %s", code, errOut.String())
	}

	stdout := te.ok(t, "image", "pull", ref)
	if !strings.Contains(stdout, `pulled image "busybox-1"`) {
		t.Errorf("pull output: %q", stdout)
	}
	var images []model.Image
	if err := json.Unmarshal([]byte(te.ok(t, "image", "list", "--format", "json")), &images); err != nil {
		t.Fatal(err)
	}
	if len(images) != 1 || images[0].Name != "busybox-1" || images[0].Ref != ref || !images[0].Managed {
		t.Fatalf("image list = %+v", images)
	}
	ext4check.GateUntouched(t, images[0].RootfsPath)
	tree := ext4check.Tree(t, ext4check.MountRO(t, images[0].RootfsPath))
	if n := tree["bin/suid-busybox"]; n.Mode != 0o4755 || n.UID != 0 {
		t.Errorf("bin/suid-busybox = %v, want setuid root", n)
	}
	if n := tree["home/app/note.txt"]; n.UID != 1000 || n.Mode != 0o600 {
		t.Errorf("home/app/note.txt = %v, want app's, 0600", n)
	}
	if stdout := te.ok(t, "image", "pull", ref); !strings.Contains(stdout, "up to date") {
		t.Errorf("re-pull output: %q", stdout)
	}
	te.ok(t, "logout", reg.Host)

	noCA := newTestEnv(t, "DOCKER_CONFIG="+t.TempDir())
	if stderr := noCA.fails(t, "image", "pull", ref); !strings.Contains(strings.ToLower(stderr), "certificate") {
		t.Errorf("pull without the CA: %q does not mention the certificate", stderr)
	}
}
