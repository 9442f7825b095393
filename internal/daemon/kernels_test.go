package daemon

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/errdefs"
	"github.com/banger-dev/banger/internal/testutil/kernelfixture"
)

func TestKernelPullUpToDateAndReplace(t *testing.T) {
	layout, _ := tempLayout(t)
	td := startDaemon(t, layout, Hooks{})
	ctx := context.Background()
	cs := newCatalogServer(t)
	v1 := kernelBundle(t, "6.1.0-1-test")
	cs.put("/k1.tar.gz", v1)
	catalog := cs.putCatalog(t, bundleEntry(cs, "test-k", "/k1.tar.gz", "6.1.0-1-test", v1, ""))

	var events []api.Event
	req := api.PullKernelRequest{Name: "test-k", Catalog: catalog, Arch: "amd64"}
	res, err := td.client.PullKernel(ctx, req, func(ev api.Event) { events = append(events, ev) })
	if err != nil {
		t.Fatal(err)
	}
	k := res.Kernel
	if res.UpToDate || k.Name != "test-k" || k.Release != "6.1.0-1-test" || k.Format != "bzImage" || k.Arch != "amd64" ||
		k.Version != "6.1.99" || !k.Boots || k.Dir != layout.KernelDir("test-k") {
		t.Fatalf("pulled %+v", res)
	}
	if k.Image != filepath.Join(k.Dir, "vmlinuz") || k.Config != filepath.Join(k.Dir, "config") ||
		k.Modules != filepath.Join(k.Dir, "modules", "6.1.0-1-test") || k.Initrd != "" {
		t.Fatalf("paths %+v", k)
	}
	if !strings.HasPrefix(k.Digest, "sha256:") || k.SizeBytes < 16<<10 || !strings.Contains(k.Source, "/k1.tar.gz") {
		t.Fatalf("digest/size/source %+v", k)
	}
	last := events[len(events)-1]
	if last.Phase != "fetch" || last.Current != int64(len(v1)) || last.Total != int64(len(v1)) {
		t.Fatalf("last progress event %+v of %d", last, len(events))
	}

	again, err := td.client.PullKernel(ctx, req, nil)
	if err != nil || !again.UpToDate || again.Kernel.Digest != k.Digest || !again.Kernel.Created.Equal(k.Created) {
		t.Fatalf("re-pull = %+v, %v", again, err)
	}
	if n := cs.count("/k1.tar.gz"); n != 1 {
		t.Fatalf("bundle fetched %d times, want 1", n)
	}

	v2 := kernelBundle(t, "6.1.0-2-test")
	cs.put("/k2.tar.gz", v2)
	cs.putCatalog(t, bundleEntry(cs, "test-k", "/k2.tar.gz", "6.1.0-2-test", v2, ""))
	upd, err := td.client.PullKernel(ctx, req, nil)
	if err != nil || upd.UpToDate || upd.Replaced != k.Digest || upd.Kernel.Release != "6.1.0-2-test" {
		t.Fatalf("update = %+v, %v", upd, err)
	}
	if _, err := os.Stat(filepath.Join(k.Dir, "modules", "6.1.0-1-test")); !os.IsNotExist(err) {
		t.Fatalf("old modules survive the update: %v", err)
	}
	list, err := td.client.ListKernels(ctx)
	if err != nil || len(list) != 1 || list[0].Release != "6.1.0-2-test" || !list[0].Boots {
		t.Fatalf("list = %+v, %v", list, err)
	}
	assertNoStaging(t, layout.KernelsDir())
}

func TestKernelPullFailuresLeaveNothing(t *testing.T) {
	layout, _ := tempLayout(t)
	td := startDaemon(t, layout, Hooks{})
	ctx := context.Background()
	cs := newCatalogServer(t)
	good := kernelBundle(t, "6.1.0-1-test")
	cs.put("/k.tar.gz", good)
	cs.put("/truncated/k.tar.gz", good)
	catalog := cs.putCatalog(t,
		bundleEntry(cs, "bad-sha", "/k.tar.gz", "6.1.0-1-test", good, strings.Repeat("ab", 32)),
		bundleEntry(cs, "gone", "/missing.tar.gz", "6.1.0-1-test", good, ""),
		bundleEntry(cs, "short", "/truncated/k.tar.gz", "6.1.0-1-test", good, ""))
	cases := []struct {
		name string
		cat  errdefs.Category
		msg  string
	}{
		{"bad-sha", errdefs.ErrInvalid, "sha256 mismatch"},
		{"gone", errdefs.ErrNotFound, "404 Not Found"},
		{"short", errdefs.ErrUnavailable, "download truncated"}, // after 3 retries: 3.5 s
		{"nope", errdefs.ErrNotFound, `kernel "nope" for amd64 is not in ` + catalog},
	}
	for _, c := range cases {
		_, err := td.client.PullKernel(ctx, api.PullKernelRequest{Name: c.name, Catalog: catalog, Arch: "amd64"}, nil)
		if !errors.Is(err, c.cat) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("pull %s: %v; want %s containing %q", c.name, err, c.cat, c.msg)
		}
		t.Logf("pull %s: %v", c.name, err)
		assertNoKernel(t, td, c.name)
	}
	_, err := td.client.PullKernel(ctx, api.PullKernelRequest{Name: "x", Catalog: "relative.json"}, nil)
	if !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("relative catalog: %v", err)
	}
	if _, err := td.client.PullKernel(ctx, api.PullKernelRequest{Name: "x.staging"}, nil); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("staging-like name: %v", err)
	}
}

// Parallel pulls of one name serialize: one downloads, the others find it
// up to date.
func TestKernelPullParallel(t *testing.T) {
	layout, _ := tempLayout(t)
	td := startDaemon(t, layout, Hooks{})
	cs := newCatalogServer(t)
	data := kernelBundle(t, "6.1.0-1-test")
	cs.put("/k.tar.gz", data)
	catalog := cs.putCatalog(t, bundleEntry(cs, "k", "/k.tar.gz", "6.1.0-1-test", data, ""))
	var wg sync.WaitGroup
	results := make([]api.KernelResult, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			results[i], err = td.client.PullKernel(context.Background(), api.PullKernelRequest{Name: "k", Catalog: catalog, Arch: "amd64"}, nil)
			if err != nil {
				t.Errorf("pull %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	fresh := 0
	for _, r := range results {
		if !r.UpToDate {
			fresh++
		}
	}
	if fresh != 1 || cs.count("/k.tar.gz") != 1 {
		t.Fatalf("%d fresh pulls, %d downloads; want 1 and 1", fresh, cs.count("/k.tar.gz"))
	}
}

func TestKernelImportErrors(t *testing.T) {
	layout, _ := tempLayout(t)
	td := startDaemon(t, layout, Hooks{})
	ctx := context.Background()
	res := importTestKernel(t, td, "mine")
	if !res.Kernel.Boots || res.Kernel.Release != "6.1.0-7-test" || res.Kernel.Digest == "" {
		t.Fatalf("imported %+v", res.Kernel)
	}
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk")
	os.WriteFile(junk, []byte("not a kernel"), 0o644)
	cases := []struct {
		req  api.ImportKernelRequest
		cat  errdefs.Category
		want string
	}{
		{api.ImportKernelRequest{Name: "mine", Kernel: res.Kernel.Image}, errdefs.ErrExists,
			`kernel "mine" already exists (from `},
		{api.ImportKernelRequest{Name: "b", Kernel: dir + "/missing"}, errdefs.ErrNotFound,
			"kernel image " + dir + "/missing does not exist"},
		{api.ImportKernelRequest{Name: "b", Kernel: "rel/vmlinuz"}, errdefs.ErrInvalid, `kernel image path "rel/vmlinuz" is not absolute`},
		{api.ImportKernelRequest{Name: "b", Kernel: junk, Deb: junk}, errdefs.ErrInvalid, "give exactly one of"},
		{api.ImportKernelRequest{Name: "b", Kernel: junk}, errdefs.ErrInvalid, "is not a bzImage, ELF vmlinux or arm64 Image"},
		{api.ImportKernelRequest{Name: "b", Deb: junk}, errdefs.ErrInvalid, "importing kernel b: unpacking"},
		{api.ImportKernelRequest{Name: "b", Kernel: junk, Modules: junk}, errdefs.ErrInvalid, "modules directory " + junk + " is not a directory"},
	}
	for _, c := range cases {
		_, err := td.client.ImportKernel(ctx, c.req, nil)
		if !errors.Is(err, c.cat) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("import %+v: %v; want %s containing %q", c.req, err, c.cat, c.want)
		}
		t.Logf("import: %v", err)
	}
	assertNoKernel(t, td, "b")
}

func TestKernelRemoveAndImageReferences(t *testing.T) {
	layout, _ := tempLayout(t)
	td := startDaemon(t, layout, Hooks{})
	ctx := context.Background()
	rootfs := filepath.Join(t.TempDir(), "root.ext4")
	mkExt4(t, rootfs, "16M")

	for ref, want := range map[string]string{
		"nope":            `kernel "nope" not found; try: banger kernel import nope --deb FILE (or banger kernel pull nope --catalog URL)`,
		"firecracker-6.1": `kernel "firecracker-6.1" not found; try: banger kernel pull firecracker-6.1`,
	} {
		_, err := td.client.RegisterImage(ctx, api.RegisterImageRequest{Name: "a", Rootfs: rootfs, KernelRef: ref}, nil)
		if !errors.Is(err, errdefs.ErrNotFound) || err.Error() != want {
			t.Errorf("register --kernel-ref %s: %v\nwant %s", ref, err, want)
		}
	}
	importTestKernel(t, td, "k1")
	importTestKernel(t, td, "k2")
	for _, name := range []string{"a", "b"} {
		if _, err := td.client.RegisterImage(ctx, api.RegisterImageRequest{Name: name, Rootfs: rootfs, KernelRef: "k1"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	img, err := td.client.SetImageKernel(ctx, "b", "k2")
	if err != nil || img.Kernel != "k2" {
		t.Fatalf("set-kernel = %+v, %v", img, err)
	}
	if _, err := td.client.SetImageKernel(ctx, "b", "nope"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("set-kernel to a missing kernel: %v", err)
	}
	if _, err := td.client.SetImageKernel(ctx, "zz", "k2"); !errors.Is(err, errdefs.ErrNotFound) || err.Error() != `image "zz" not found` {
		t.Fatalf("set-kernel of a missing image: %v", err)
	}

	err = td.client.RemoveKernel(ctx, "k1", false)
	want := `kernel "k1" is used by image(s) a; point them at another kernel (banger image set-kernel IMAGE KERNEL) or use --force`
	if !errors.Is(err, errdefs.ErrConflict) || err.Error() != want {
		t.Fatalf("rm in use: %v", err)
	}
	if _, err := os.Stat(layout.KernelDir("k1")); err != nil {
		t.Fatalf("refused rm touched the kernel: %v", err)
	}
	if err := td.client.RemoveKernel(ctx, "k1", true); err != nil {
		t.Fatalf("rm --force: %v", err)
	}
	assertNoKernel(t, td, "k1")
	if got, _ := td.client.InspectImage(ctx, "a"); got.Kernel != "k1" {
		t.Fatalf("image a after forced rm: %+v", got)
	}
	if err := td.client.RemoveKernel(ctx, "k1", false); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("second rm: %v", err)
	}
}

// A client that goes away mid-download cancels the pull, which leaves
// nothing behind.
func TestKernelPullCanceled(t *testing.T) {
	layout, _ := tempLayout(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	td := startDaemon(t, layout, Hooks{Progress: func(opCtx context.Context, ev api.Event) {
		if ev.Phase == "fetch" {
			cancel()
			<-opCtx.Done()
		}
	}})
	cs := newCatalogServer(t)
	data := kernelBundle(t, "6.1.0-1-test")
	cs.put("/k.tar.gz", data)
	catalog := cs.putCatalog(t, bundleEntry(cs, "k", "/k.tar.gz", "6.1.0-1-test", data, ""))
	_, err := td.client.PullKernel(ctx, api.PullKernelRequest{Name: "k", Catalog: catalog, Arch: "amd64"}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("pull: %v", err)
	}
	waitFor(t, "the canceled pull to roll back", func() bool {
		entries, _ := os.ReadDir(layout.KernelsDir())
		return len(entries) == 0
	})
	assertNoKernel(t, td, "k")
}

// TestVMRunRefusesUnbootableKernel: a kernel whose config lacks what
// microvm needs is refused before anything is copied or started, with the
// reason.
func TestVMRunRefusesUnbootableKernel(t *testing.T) {
	layout, _ := tempLayout(t)
	td := startDaemon(t, layout, Hooks{})
	ctx := context.Background()
	dir := t.TempDir()
	img, cfg := filepath.Join(dir, "vmlinuz-6.1.0-7-test"), filepath.Join(dir, "config")
	if err := os.WriteFile(img, kernelfixture.BzImage("6.1.0-7-test"), 0o644); err != nil {
		t.Fatal(err)
	}
	noBlk := strings.Replace(kernelfixture.BuiltinConfig, "CONFIG_VIRTIO_BLK=y\n", "", 1)
	if err := os.WriteFile(cfg, []byte(noBlk), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := td.client.ImportKernel(ctx, api.ImportKernelRequest{Name: "noblk", Kernel: img, Config: cfg}, nil); err != nil {
		t.Fatal(err)
	}
	rootfs := filepath.Join(dir, "rootfs.ext4")
	mkExt4(t, rootfs, "16M")
	if _, err := td.client.RegisterImage(ctx, api.RegisterImageRequest{Name: "img", Rootfs: rootfs, KernelRef: "noblk"}, nil); err != nil {
		t.Fatal(err)
	}
	_, err := td.client.RunVM(ctx, api.RunVMRequest{Image: "img", Cmd: []string{"true"}}, io.Discard, io.Discard)
	if errdefs.CategoryOf(err) != errdefs.ErrInvalid || !strings.Contains(err.Error(), `kernel "noblk" cannot boot under QEMU microvm`) ||
		!strings.Contains(err.Error(), "VIRTIO_BLK") {
		t.Fatalf("vm run with a kernel lacking virtio_blk: %v", err)
	}
	if entries, _ := os.ReadDir(layout.VMsDir()); len(entries) != 0 {
		t.Errorf("a refused vm run left %v", entries)
	}
}
