package imagepull

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/banger-dev/banger/internal/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

var amd64 = Platform{OS: "linux", Architecture: "amd64"}
var arm64 = Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}

func TestParseReferenceAndDefaultName(t *testing.T) {
	for in, want := range map[string][2]string{
		"debian:bookworm":                   {"index.docker.io/library/debian:bookworm", "debian-bookworm"},
		"docker.io/library/debian:bookworm": {"index.docker.io/library/debian:bookworm", "debian-bookworm"},
		"ghcr.io/org/tool:v1.2":             {"ghcr.io/org/tool:v1.2", "tool-v1.2"},
		"nginx":                             {"index.docker.io/library/nginx:latest", "nginx-latest"},
		"127.0.0.1:5443/My_Repo:Tag+1":      {"127.0.0.1:5443/My_Repo:Tag+1", ""},
		"quay.io/a/repo@sha256:abcdef1234567890abcdef1234567890abcdef1234567890abcdef1234567890": {
			"quay.io/a/repo@sha256:abcdef1234567890abcdef1234567890abcdef1234567890abcdef1234567890", "repo-abcdef123456"},
	} {
		ref, err := ParseReference(in, false)
		if err != nil {
			if want[1] == "" {
				continue // invalid upper-case repository: rejected, fine
			}
			t.Fatalf("ParseReference(%q): %v", in, err)
		}
		if got := ref.Name(); got != want[0] {
			t.Errorf("ParseReference(%q) = %q, want %q", in, got, want[0])
		}
		if got := DefaultName(ref); got != want[1] {
			t.Errorf("DefaultName(%q) = %q, want %q", in, got, want[1])
		}
	}
	if _, err := ParseReference("UPPER/case::bad", false); !errors.Is(err, ErrInvalidReference) || !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("bad reference: %v", err)
	}
	if got := sanitizeName("My Tool__v1.2+build!"); got != "my-tool__v1.2-build" {
		t.Errorf("sanitizeName = %q", got)
	}
	ref, _ := ParseReference("registry.lan:5000/x:1", true)
	if ref.Context().Scheme() != "http" {
		t.Errorf("--insecure did not allow http")
	}
}

func TestParsePlatform(t *testing.T) {
	for in, want := range map[string]Platform{
		"linux/arm64/v8": {"linux", "arm64", "v8"},
		"linux/amd64":    {"linux", "amd64", ""},
		"aarch64":        {"linux", "arm64", ""},
		"linux/x86_64":   {"linux", "amd64", ""},
	} {
		got, err := ParsePlatform(in)
		if err != nil || got != want {
			t.Errorf("ParsePlatform(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "linux/", "a/b/c/d"} {
		if _, err := ParsePlatform(bad); err == nil {
			t.Errorf("ParsePlatform(%q) accepted", bad)
		}
	}
}

func TestResolveImage(t *testing.T) {
	tr := newTestRegistry(t)
	layers := []v1.Layer{gzipLayer(t, tarLayer(t, "a", "gz")), zstdLayer(t, tarLayer(t, "b", "zst")), plainLayer(tarLayer(t, "c", "plain"))}
	want := tr.push(t, "app:1", buildImage(t, amd64, layers...))

	res, err := Resolve(context.Background(), tr.host+"/app:1", fastOpts(t))
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != want || res.ManifestDigest != want || res.Pinned.DigestStr() != want.String() {
		t.Errorf("digests %s/%s/%s, want %s", res.Digest, res.ManifestDigest, res.Pinned, want)
	}
	if res.Platform != amd64 || len(res.Layers) != 3 {
		t.Errorf("platform %v, %d layers", res.Platform, len(res.Layers))
	}
	c := res.Config
	if !slices.Equal(c.Entrypoint, []string{"/bin/app"}) || !slices.Equal(c.Cmd, []string{"--serve"}) || c.WorkingDir != "/srv" ||
		c.User != "1000:1000" || !slices.Equal(c.Env, []string{"PATH=/bin", "A=b"}) || !slices.Equal(c.ExposedPorts, []string{"80/tcp"}) {
		t.Errorf("config %+v", c)
	}
	byDigest, err := Resolve(context.Background(), res.Pinned.String(), fastOpts(t))
	if err != nil || byDigest.Digest != want || DefaultName(byDigest.Ref) != "app-"+want.Hex[:12] {
		t.Errorf("by digest %s: %v, %v", res.Pinned, byDigest, err)
	}
	for i, l := range layers {
		if res.Layers[i].Digest != digestOf(t, l) {
			t.Errorf("layer %d digest %s", i, res.Layers[i].Digest)
		}
		if sz, _ := l.Size(); res.Layers[i].Size != sz {
			t.Errorf("layer %d size %d, want %d", i, res.Layers[i].Size, sz)
		}
	}
}

func TestResolveIndex(t *testing.T) {
	tr := newTestRegistry(t)
	imgAmd := buildImage(t, amd64, gzipLayer(t, tarLayer(t, "arch", "amd64")))
	imgArm := buildImage(t, arm64, gzipLayer(t, tarLayer(t, "arch", "arm64")))
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: imgAmd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: imgArm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
	)
	ref, _ := name.ParseReference(tr.host + "/multi:1")
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	idxDigest, _ := idx.Digest()
	amdDigest, _ := imgAmd.Digest()
	armDigest, _ := imgArm.Digest()

	opts := fastOpts(t)
	opts.Platform = amd64
	res, err := Resolve(context.Background(), ref.String(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != idxDigest || res.ManifestDigest != amdDigest || res.Platform != amd64 {
		t.Errorf("amd64: got %s → %s (%v)", res.Digest, res.ManifestDigest, res.Platform)
	}
	opts.Platform, _ = ParsePlatform("linux/arm64/v8")
	if res, err = Resolve(context.Background(), ref.String(), opts); err != nil || res.ManifestDigest != armDigest {
		t.Errorf("arm64: %v, %v", res, err)
	}
	opts.Platform = Platform{OS: "linux", Architecture: "s390x"}
	_, err = Resolve(context.Background(), ref.String(), opts)
	if !errors.Is(err, ErrPlatform) || !strings.Contains(err.Error(), "available: linux/amd64, linux/arm64/v8") {
		t.Errorf("missing platform: %v", err)
	}
}

func TestResolveWrongArchitecture(t *testing.T) {
	tr := newTestRegistry(t)
	tr.push(t, "single:1", buildImage(t, amd64, gzipLayer(t, tarLayer(t, "x", "y"))))
	opts := fastOpts(t)
	opts.Platform = Platform{OS: "linux", Architecture: "arm64"}
	_, err := Resolve(context.Background(), tr.host+"/single:1", opts)
	if !errors.Is(err, ErrPlatform) || !strings.Contains(err.Error(), "image is linux/amd64, asked for linux/arm64") {
		t.Fatalf("want a platform error, got %v", err)
	}
}

func TestResolveSchema1(t *testing.T) {
	tr := newTestRegistry(t)
	body := `{"schemaVersion":1,"name":"old","tag":"1","architecture":"amd64","fsLayers":[],"history":[]}`
	req, _ := http.NewRequest(http.MethodPut, "http://"+tr.host+"/v2/old/manifests/1", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/vnd.docker.distribution.manifest.v1+prettyjws")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, err = Resolve(context.Background(), tr.host+"/old:1", fastOpts(t))
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "unsupported (schema 1)") || !strings.Contains(err.Error(), "re-push") {
		t.Fatalf("want a schema 1 error, got %v", err)
	}
}

func TestResolveNotFound(t *testing.T) {
	tr := newTestRegistry(t)
	tr.push(t, "there:1", buildImage(t, amd64))
	_, err := Resolve(context.Background(), tr.host+"/there:2", fastOpts(t))
	if !errors.Is(err, ErrNotFound) || !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), `"2" not found`) {
		t.Errorf("missing tag: %v", err)
	}
	_, err = Resolve(context.Background(), tr.host+"/nothere:1", fastOpts(t))
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "repository nothere not found") {
		t.Errorf("missing repository: %v", err)
	}
}

func TestResolveConnectionRefused(t *testing.T) {
	// Port 1 (tcpmux) has no listener here.
	_, err := Resolve(context.Background(), "127.0.0.1:1/x:1", fastOpts(t))
	if !errors.Is(err, ErrConnRefused) || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("want connection refused, got %v", err)
	}
}
