package imagepull

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/banger-dev/banger/internal/testutil/registrytest"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// startRealRegistry runs Debian's docker-registry with TLS and htpasswd and
// pushes a two-layer image (gzip and zstd) to it.
func startRealRegistry(t *testing.T) (*registrytest.Registry, string) {
	t.Helper()
	reg := registrytest.Start(t, registrytest.Options{TLS: true, User: "ci", Password: "s3cret"})
	img := buildImage(t, amd64, gzipLayer(t, tarLayer(t, "etc/os-release", "ID=test\n")), zstdLayer(t, tarLayer(t, "srv/app", "app")))
	ref := reg.Host + "/team/app:1"
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, remote.WithAuth(&authn.Basic{Username: "ci", Password: "s3cret"}), remote.WithTransport(reg.Transport(t))); err != nil {
		t.Fatalf("pushing to docker-registry: %v", err)
	}
	return reg, ref
}

func TestRealRegistry(t *testing.T) {
	reg, ref := startRealRegistry(t)
	dc := isolateAuth(t)
	reg.WriteDockerConfig(t, dc, "ci", "s3cret")
	opts := Options{CAFile: reg.CAFile, Retry: RetryPolicy{Attempts: 2, Initial: 10 * time.Millisecond}}

	cl, err := NewClient(opts)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := ParseReference(ref, false)
	res, err := cl.Resolve(context.Background(), r)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	cache := newCache(t)
	if err := cache.FetchAll(context.Background(), cl, res, nil); err != nil {
		t.Fatalf("FetchAll: %v", err)
	}
	var got []string
	for _, l := range res.Layers {
		rc, err := cache.Open(context.Background(), l.Digest)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, readTar(t, rc)...)
		rc.Close()
	}
	if !slices.Equal(got, []string{"etc/os-release=ID=test\n", "srv/app=app"}) {
		t.Errorf("layers hold %q", got)
	}

	reg.WriteDockerConfig(t, dc, "ci", "wrong")
	_, err = Resolve(context.Background(), ref, opts)
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "run: banger login "+reg.Host) {
		t.Errorf("wrong password: want ErrUnauthorized naming the fix, got %v", err)
	}

	reg.WriteDockerConfig(t, dc, "ci", "s3cret")
	_, err = Resolve(context.Background(), ref, Options{})
	if !errors.Is(err, ErrTLS) || !strings.Contains(err.Error(), "unknown authority") {
		t.Errorf("no CA: want ErrTLS, got %v", err)
	}

	if err := Login(context.Background(), reg.Host, "ci", "bad", opts); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("Login with a wrong password: %v", err)
	}
	if err := Login(context.Background(), reg.Host, "ci", "s3cret", opts); err != nil {
		t.Errorf("Login: %v", err)
	}
}

// TestRealRegistrySSLCertFile checks that SSL_CERT_FILE is honoured. Go
// reads the system roots once per process, so the check runs in a child.
func TestRealRegistrySSLCertFile(t *testing.T) {
	if ref := os.Getenv("BANGER_TEST_SSL_CHILD"); ref != "" {
		if _, err := Resolve(context.Background(), ref, Options{}); err != nil {
			t.Fatalf("Resolve with SSL_CERT_FILE: %v", err)
		}
		return
	}
	reg, ref := startRealRegistry(t)
	dc := isolateAuth(t)
	reg.WriteDockerConfig(t, dc, "ci", "s3cret")
	cmd := exec.Command(os.Args[0], "-test.run=^TestRealRegistrySSLCertFile$", "-test.count=1")
	cmd.Env = append(os.Environ(), "BANGER_TEST_SSL_CHILD="+ref, "SSL_CERT_FILE="+reg.CAFile)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
}
