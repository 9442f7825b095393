package cli

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/banger-dev/banger/internal/model"
	"github.com/banger-dev/banger/internal/testutil/busyboximage"
	"github.com/banger-dev/banger/internal/testutil/registrytest"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// withBusyboxInit adds /sbin/init (busybox) and an inittab printing a
// marker and the hostname on the console.
func withBusyboxInit(t *testing.T, img v1.Image) v1.Image {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	inittab := "::sysinit:/bin/echo INIT-IMAGE-BOOTED\n::once:/bin/sh -c 'echo host=$(hostname)'\n"
	for _, h := range []*tar.Header{
		{Typeflag: tar.TypeDir, Name: "sbin/", Mode: 0o755},
		{Typeflag: tar.TypeSymlink, Name: "sbin/init", Linkname: "/bin/busybox", Mode: 0o777},
		{Typeflag: tar.TypeReg, Name: "etc/inittab", Mode: 0o644, Size: int64(len(inittab))},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	tw.Write([]byte(inittab))
	tw.Close()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.AppendLayers(img, layer)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestVMRunInitImage boots an image's own init: vm run returns at once,
// vm exec is refused, the console shows the init's output and vm stop
// ends the VM (busybox init ignores the power button: killed after 5 s).
// It is a third boot on top of TestVMRun's and TestVMAttach's, so it runs
// only with BANGER_TEST_EXTRA_BOOTS=1.
func TestVMRunInitImage(t *testing.T) {
	if os.Getenv("BANGER_TEST_EXTRA_BOOTS") != "1" {
		t.Skip("an extra VM boot: set BANGER_TEST_EXTRA_BOOTS=1")
	}
	te, _ := vmSetup(t)
	reg := registrytest.Start(t, registrytest.Options{})
	img, err := busyboximage.Build(busyboximage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(reg.Host + "/test/bbinit:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, withBusyboxInit(t, img), remote.WithTransport(reg.Transport(t))); err != nil {
		t.Fatal(err)
	}
	te.ok(t, "image", "pull", r.String())
	if stderr := te.fails(t, "vm", "run", "--init=image", "--kernel", "cloud", "bbinit-1", "--", "sh"); !strings.Contains(stderr, "takes no command") {
		t.Errorf("--init=image with a command: %q", stderr)
	}
	if out := te.ok(t, "vm", "run", "--init=image", "--kernel", "cloud", "--name", "sysd", "bbinit-1"); out != "sysd\n" {
		t.Errorf("vm run --init=image printed %q", out)
	}
	if stderr := te.fails(t, "vm", "exec", "sysd", "--", "true"); !strings.Contains(stderr, "no banger agent") {
		t.Errorf("exec without an agent: %q", stderr)
	}
	var logs string
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(logs, "host=sysd"); time.Sleep(500 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("console: %q", logs)
		}
		logs = te.ok(t, "vm", "logs", "sysd")
	}
	if !strings.Contains(logs, "INIT-IMAGE-BOOTED") {
		t.Errorf("console lacks the inittab's marker: %q", logs)
	}
	start := time.Now()
	te.ok(t, "vm", "stop", "sysd")
	var vm model.VM
	if err := json.Unmarshal([]byte(te.ok(t, "vm", "inspect", "sysd")), &vm); err != nil {
		t.Fatal(err)
	}
	if vm.State != model.VMStopped || time.Since(start) > 12*time.Second {
		t.Errorf("after stop (%v): %+v", time.Since(start), vm)
	}
}
