package kernelcat

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/banger-dev/banger/internal/testutil/kernelfixture"
)

// kernelServer serves files by path, with a few misbehaving routes:
// /truncated/X announces X's full length and closes half way, /flaky/X
// answers 503 twice before serving X, /chunked/X sends X without a length,
// /stall/X sends nothing until the client goes away.
type kernelServer struct {
	*httptest.Server
	mu    sync.Mutex
	files map[string][]byte
	hits  map[string]int
}

func newKernelServer(t *testing.T) *kernelServer {
	ks := &kernelServer{files: make(map[string][]byte), hits: make(map[string]int)}
	ks.Server = httptest.NewServer(http.HandlerFunc(ks.serve))
	t.Cleanup(ks.Close)
	return ks
}

func (ks *kernelServer) add(name string, data []byte) Download {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.files["/"+name] = data
	return Download{URL: ks.URL + "/" + name, Size: int64(len(data)), SHA256: sha256Hex(data)}
}

func (ks *kernelServer) count(path string) int {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.hits[path]
}

func (ks *kernelServer) serve(w http.ResponseWriter, r *http.Request) {
	ks.mu.Lock()
	ks.hits[r.URL.Path]++
	n := ks.hits[r.URL.Path]
	mode, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	data, ok := ks.files["/"+rest]
	if !ok {
		data, ok = ks.files[r.URL.Path]
		mode = ""
	}
	ks.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	switch mode {
	case "truncated":
		w.Header().Set("Content-Length", itoa(len(data)))
		w.Write(data[:len(data)/2])
		return // the server closes the connection: the body is short
	case "flaky":
		if n <= 2 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
	case "chunked":
		w.Write(data[:1])
		w.(http.Flusher).Flush()
		w.Write(data[1:])
		return
	case "stall":
		w.Header().Set("Content-Length", itoa(len(data)))
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		return
	}
	w.Header().Set("Content-Length", itoa(len(data)))
	w.Write(data)
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// via rewrites d to go through one of the server's misbehaving routes.
func via(d Download, mode string) Download {
	i := strings.LastIndex(d.URL, "/")
	d.URL = d.URL[:i] + "/" + mode + d.URL[i:]
	return d
}

func quickOpts() Options { return Options{Backoff: time.Millisecond, Retries: 2} }

// tarGzBundleEntry serves a tar.gz of a Void-like package and returns the entry.
func tarGzBundleEntry(t *testing.T, ks *kernelServer) *Entry {
	data := gzipBytes(t, buildTar(t, kernelTree("./", fakeRelease)))
	d := ks.add("linux.tar.gz", data)
	return &Entry{Name: "test-kernel", Version: "6.1.99", Arch: "amd64", Bundle: &Bundle{
		Download: d, Kernel: "boot/vmlinuz-" + fakeRelease, Config: "boot/config-" + fakeRelease,
		Modules: "lib/modules/" + fakeRelease,
	}}
}

// stagingIn returns a staging path in a fresh parent dir.
func stagingIn(t *testing.T) (parent, staging string) {
	parent = t.TempDir()
	return parent, filepath.Join(parent, "kernel.staging")
}

// assertEmptyDir fails unless dir exists and is empty: nothing left behind.
func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("%s holds %v after a failed operation, want nothing", dir, names)
	}
}

func TestPullTarGzBundle(t *testing.T) {
	ks := newKernelServer(t)
	e := tarGzBundleEntry(t, ks)
	_, dir := stagingIn(t)
	var last, total int64
	opts := quickOpts()
	opts.Progress = func(d, tot int64) { last, total = d, tot }

	k, err := Pull(context.Background(), e, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if last != e.Bundle.Size || total != e.Bundle.Size {
		t.Errorf("progress ended at %d/%d, want %d/%d", last, total, e.Bundle.Size, e.Bundle.Size)
	}
	want := Kernel{Name: "test-kernel", Version: "6.1.99", Release: fakeRelease, Arch: "amd64", Format: FormatBzImage,
		Image: "vmlinuz", ImageSHA256: sha256Hex(kernelfixture.BzImage(fakeRelease)), Modules: "modules/" + fakeRelease,
		Config: "config", ConfigSource: "artifact", Source: e.Bundle.URL}
	if *k != want {
		t.Fatalf("kernel = %+v\nwant      %+v", *k, want)
	}
	onDisk, err := ReadManifest(dir)
	if err != nil || *onDisk != want {
		t.Fatalf("kernel.json = %+v, %v", onDisk, err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"config", "kernel.json", "modules", "vmlinuz"}) {
		t.Fatalf("staging dir holds %v; want config, kernel.json, modules, vmlinuz only (no temp files)", names)
	}
	r, err := Inspect(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if !r.BootsUnderQEMUMicrovm {
		t.Fatalf("verdict: no; reasons %q", r.Reasons)
	}
	checkLoadOrder(t, r.ModulesNeeded)
}

func TestPullDebAndZstdBundles(t *testing.T) {
	ks := newKernelServer(t)
	tree := buildTar(t, kernelTree("./", fakeRelease))
	for name, data := range map[string][]byte{
		"linux-image.deb":   buildDeb(t, tree),
		"linux.xbps":        zstdBytes(t, tree),
		"linux.tar.xz":      xzBytes(t, tree),
		"linux-plain.tar":   tree,
		"linux-zst.tar.zst": zstdBytes(t, tree),
	} {
		t.Run(name, func(t *testing.T) {
			e := &Entry{Name: "k", Version: "1", Arch: "amd64", Bundle: &Bundle{
				Download: ks.add(name, data), Kernel: "boot/vmlinuz-" + fakeRelease, Modules: "lib/modules/" + fakeRelease,
			}}
			_, dir := stagingIn(t)
			k, err := Pull(context.Background(), e, dir, quickOpts())
			if err != nil {
				t.Fatal(err)
			}
			if k.Release != fakeRelease || k.Config != "" {
				t.Fatalf("kernel = %+v; want release %s and no config (none selected)", k, fakeRelease)
			}
			if _, err := os.Stat(filepath.Join(dir, k.Modules, "kernel/drivers/block/virtio_blk.ko")); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestPullRawELFKernelWithEmbeddedConfig(t *testing.T) {
	ks := newKernelServer(t)
	img := fakeVmlinux(t, "6.1.155", kernelfixture.BuiltinConfig, true)
	e := &Entry{Name: "fc", Version: "6.1.155", Arch: "amd64", Kernel: ptr(ks.add("vmlinux-6.1.155", img))}
	_, dir := stagingIn(t)
	k, err := Pull(context.Background(), e, dir, quickOpts())
	if err != nil {
		t.Fatal(err)
	}
	if k.Image != "vmlinux" || k.Format != FormatELF || !k.PVH || k.Release != "6.1.155" || k.ConfigSource != "image" {
		t.Fatalf("kernel = %+v; want an ELF vmlinux with PVH, release 6.1.155, config from the image", k)
	}
	r, err := Inspect(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if !r.BootsUnderQEMUMicrovm || len(r.ModulesNeeded) != 0 {
		t.Fatalf("report = %+v; want boots with no modules", r)
	}
}

func ptr[T any](v T) *T { return &v }

func TestPullFailuresLeaveNothing(t *testing.T) {
	ks := newKernelServer(t)
	img := kernelfixture.BzImage(fakeRelease)
	good := ks.add("vmlinuz", img)
	badSHA := good
	badSHA.SHA256 = sha256Hex([]byte("something else"))
	longer := good
	longer.Size--
	for name, tc := range map[string]struct {
		d    Download
		want error
	}{
		"bad sha":            {badSHA, ErrChecksum},
		"truncated body":     {via(good, "truncated"), ErrTruncated},
		"404":                {ks.add("x", nil), ErrNotFound},
		"longer than listed": {via(longer, "chunked"), ErrSize},
		"length header":      {longer, ErrSize},
	} {
		t.Run(name, func(t *testing.T) {
			if name == "404" {
				tc.d = Download{URL: ks.URL + "/nope", Size: 1, SHA256: good.SHA256}
			}
			parent, dir := stagingIn(t)
			e := &Entry{Name: "k", Version: "1", Arch: "amd64", Kernel: &tc.d}
			_, err := Pull(context.Background(), e, dir, quickOpts())
			if !errors.Is(err, tc.want) {
				t.Fatalf("Pull: %v, want %v", err, tc.want)
			}
			t.Log(err)
			assertEmptyDir(t, parent)
		})
	}
	if n := ks.count("/nope"); n != 1 {
		t.Errorf("404 was requested %d times, want 1 (no retry)", n)
	}
	if n := ks.count("/truncated/vmlinuz"); n != 3 {
		t.Errorf("truncated download was tried %d times, want 3 (2 retries)", n)
	}
}

func TestPullRetries5xx(t *testing.T) {
	ks := newKernelServer(t)
	d := via(ks.add("vmlinuz", kernelfixture.BzImage(fakeRelease)), "flaky")
	_, dir := stagingIn(t)
	if _, err := Pull(context.Background(), &Entry{Name: "k", Version: "1", Arch: "amd64", Kernel: &d}, dir, quickOpts()); err != nil {
		t.Fatal(err)
	}
	if n := ks.count("/flaky/vmlinuz"); n != 3 {
		t.Fatalf("%d requests, want 3 (two 503s, then the file)", n)
	}
}

func TestPullCancelAndStall(t *testing.T) {
	ks := newKernelServer(t)
	d := via(ks.add("vmlinuz", kernelfixture.BzImage(fakeRelease)), "stall")
	e := &Entry{Name: "k", Version: "1", Arch: "amd64", Kernel: &d}

	parent, dir := stagingIn(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := Pull(ctx, e, dir, quickOpts()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Pull with a deadline: %v, want context.DeadlineExceeded", err)
	}
	assertEmptyDir(t, parent)

	parent, dir = stagingIn(t)
	opts := Options{StallTimeout: 100 * time.Millisecond, Retries: -1}
	if _, err := Pull(context.Background(), e, dir, opts); !errors.Is(err, errStalled) {
		t.Fatalf("Pull from a stalled server: %v, want errStalled", err)
	}
	assertEmptyDir(t, parent)
}

func TestPullStagingDirContract(t *testing.T) {
	ks := newKernelServer(t)
	d := ks.add("vmlinuz", kernelfixture.BzImage(fakeRelease))
	e := &Entry{Name: "k", Version: "1", Arch: "amd64", Kernel: &d}
	parent := t.TempDir()
	full := filepath.Join(parent, "full")
	os.Mkdir(full, 0o755)
	os.WriteFile(filepath.Join(full, "x"), nil, 0o644)
	if _, err := Pull(context.Background(), e, full, quickOpts()); !errors.Is(err, ErrStagingNotEmpty) {
		t.Fatalf("Pull into a non-empty dir: %v, want ErrStagingNotEmpty", err)
	}
	empty := filepath.Join(parent, "empty")
	os.Mkdir(empty, 0o755)
	bad := d
	bad.SHA256 = sixtyFourA
	if _, err := Pull(context.Background(), &Entry{Name: "k", Version: "1", Arch: "amd64", Kernel: &bad}, empty, quickOpts()); !errors.Is(err, ErrChecksum) {
		t.Fatalf("Pull: %v, want ErrChecksum", err)
	}
	assertEmptyDir(t, empty) // an adopted dir is emptied, not removed
	if _, err := Pull(context.Background(), e, empty, quickOpts()); err != nil {
		t.Fatalf("Pull into an existing empty dir: %v", err)
	}
	wrongArch := *e
	wrongArch.Arch = "arm64"
	if _, err := Pull(context.Background(), &wrongArch, filepath.Join(parent, "arm"), quickOpts()); err == nil {
		t.Fatal("Pull of an amd64 image listed as arm64 succeeded")
	}
}

func TestPullConcurrentSameKernel(t *testing.T) {
	ks := newKernelServer(t)
	e := tarGzBundleEntry(t, ks)
	parent := t.TempDir()
	const n = 4
	kernels := make([]*Kernel, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			kernels[i], errs[i] = Pull(context.Background(), e, filepath.Join(parent, "k"+itoa(i)), quickOpts())
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("pull %d: %v", i, errs[i])
		}
		if *kernels[i] != *kernels[0] {
			t.Fatalf("pull %d gave %+v, pull 0 gave %+v", i, kernels[i], kernels[0])
		}
		if _, err := os.Stat(filepath.Join(parent, "k"+itoa(i), "vmlinuz")); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPullBundleMissingPath(t *testing.T) {
	ks := newKernelServer(t)
	e := tarGzBundleEntry(t, ks)
	e.Bundle.Initrd = "boot/initrd.img-" + fakeRelease
	parent, dir := stagingIn(t)
	if _, err := Pull(context.Background(), e, dir, quickOpts()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Pull: %v, want ErrNotFound for the missing initrd", err)
	}
	assertEmptyDir(t, parent)
}

func TestPullDecompressionBomb(t *testing.T) {
	ks := newKernelServer(t)
	tree := buildTar(t, []tarEntry{
		{Name: "boot/vmlinuz-" + fakeRelease, Body: kernelfixture.BzImage(fakeRelease)},
		{Name: "lib/modules/" + fakeRelease + "/zeros.ko", Size: 32 << 20},
	})
	bundle := zstdBytes(t, tree)
	e := &Entry{Name: "bomb", Version: "1", Arch: "amd64", Bundle: &Bundle{
		Download: ks.add("bomb.tar.zst", bundle), Kernel: "boot/vmlinuz-" + fakeRelease, Modules: "lib/modules/" + fakeRelease,
	}}
	opts := quickOpts()
	opts.MaxUnpacked = 8 << 20
	parent, dir := stagingIn(t)
	if _, err := Pull(context.Background(), e, dir, opts); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Pull: %v, want ErrTooLarge (bundle of %d bytes unpacks to 32 MiB)", err, len(bundle))
	}
	assertEmptyDir(t, parent)
	opts.MaxUnpacked, opts.MaxEntries = 0, 1
	if _, err := Pull(context.Background(), e, dir, opts); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Pull with MaxEntries 1: %v, want ErrTooLarge", err)
	}
	assertEmptyDir(t, parent)
}

func TestPullBundleWithoutDirEntries(t *testing.T) {
	ks := newKernelServer(t)
	tree := buildTar(t, []tarEntry{
		{Name: "boot/vmlinuz-" + fakeRelease, Body: kernelfixture.BzImage(fakeRelease)},
		{Name: "lib/modules/" + fakeRelease + "/kernel/drivers/virtio/virtio.ko", Body: fakeModule("virtio")},
	})
	e := &Entry{Name: "k", Version: "1", Arch: "amd64", Bundle: &Bundle{
		// Uncleaned paths, as a caller building an Entry by hand may write them.
		Download: ks.add("nodirs.tar.gz", gzipBytes(t, tree)), Kernel: "./boot/vmlinuz-" + fakeRelease, Modules: "./lib/modules/" + fakeRelease + "/",
	}}
	_, dir := stagingIn(t)
	k, err := Pull(context.Background(), e, dir, quickOpts())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, k.Modules, "kernel/drivers/virtio/virtio.ko")); err != nil {
		t.Fatal(err)
	}
}
