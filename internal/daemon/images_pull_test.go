package daemon

import (
	"archive/tar"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/errdefs"
	"github.com/banger-dev/banger/internal/testutil/busyboximage"
	"github.com/banger-dev/banger/internal/testutil/ext4check"
	"github.com/banger-dev/banger/internal/testutil/registrytest"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

var epoch = time.Date(2023, 5, 6, 7, 8, 9, 0, time.UTC)

type file = busyboximage.File

func dir(n string, mode int64) file { return busyboximage.Dir(n, mode, epoch) }
func reg(n string, mode int64, data string) file {
	return busyboximage.Reg(n, mode, []byte(data), epoch)
}
func owned(f file, uid, gid int) file { f.Header.Uid, f.Header.Gid = uid, gid; return f }
func hdr(h tar.Header) file           { h.ModTime = epoch; return file{Header: h} }
func whiteout(n string) file          { return reg(n, 0o644, "") }

// edgeLayers exercises every layer rule DESIGN.md names: whiteouts and
// opaque markers hiding lower layers only, type swaps, hardlinks into a
// lower layer whose target is then whited out, duplicates, odd names,
// parents declared late or never, setuid, 32-bit ids, xattrs, devices.
func edgeLayers() [][]file {
	capability := "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	xattrFile := reg("x/cap", 0o755, "ping")
	xattrFile.Header.PAXRecords = map[string]string{
		"SCHILY.xattr.security.capability": capability,
		"SCHILY.xattr.user.note":           "hello",
		"SCHILY.xattr.user.big":            strings.Repeat("b", 3000),
	}
	return [][]file{{
		dir("etc", 0o755), reg("etc/passwd", 0o644, "root:x:0:0::/root:/bin/sh\n"),
		dir("a", 0o755), reg("a/keep.txt", 0o644, "keep"), reg("a/gone.txt", 0o644, "gone"),
		dir("a/sub", 0o755), reg("a/sub/deep.txt", 0o644, "deep"),
		dir("opq", 0o755), reg("opq/old1", 0o644, "o1"), dir("opq/olddir", 0o755), reg("opq/olddir/x", 0o644, "x"),
		dir("bin", 0o755), reg("bin/tool", 0o4755, "tool"),
		dir("data", 0o755), owned(reg("data/orig", 0o640, "original"), 1000, 1000),
		dir("swap", 0o755), reg("swap/fileToDir", 0o644, "f"), dir("swap/dirToFile", 0o755), reg("swap/dirToFile/c", 0o644, "c"),
		dir("x", 0o755), xattrFile,
		hdr(tar.Header{Typeflag: tar.TypeFifo, Name: "x/fifo", Mode: 0o600}),
		hdr(tar.Header{Typeflag: tar.TypeSymlink, Name: "x/link", Linkname: "../etc/passwd", Mode: 0o777}),
		dir("dev", 0o755), hdr(tar.Header{Typeflag: tar.TypeChar, Name: "dev/null", Mode: 0o666, Devmajor: 1, Devminor: 3}),
		hdr(tar.Header{Typeflag: tar.TypeBlock, Name: "dev/vdz", Mode: 0o660, Gid: 6, Devmajor: 259, Devminor: 300}),
		dir("tmp", 0o1777),
	}, {
		whiteout("a/.wh.gone.txt"),
		reg("opq/new1", 0o644, "n1"), whiteout("opq/.wh..wh..opq"),
		hdr(tar.Header{Typeflag: tar.TypeLink, Name: "data/link", Linkname: "data/orig"}),
		whiteout("data/.wh.orig"),
		dir("swap/fileToDir", 0o755), reg("swap/fileToDir/inner", 0o644, "i"), reg("swap/dirToFile", 0o600, "now a file"),
		reg("dup.txt", 0o644, "first"), reg("dup.txt", 0o644, "second"),
		reg("late/declared/file.txt", 0o644, "late"), owned(dir("late", 0o700), 5, 5),
		reg("./dotslash.txt", 0o644, "dot"), reg("/abs.txt", 0o644, "abs"),
		owned(reg("owner", 0o600, "big ids"), 123456789, 987654321),
	}, {
		whiteout("a/.wh.sub"),
		reg("data2/linkA", 0o644, "shared"),
		hdr(tar.Header{Typeflag: tar.TypeLink, Name: "data2/linkB", Linkname: "data2/linkA"}),
		reg(strings.Repeat("n", 255), 0o644, "long name"),
	}}
}

// edgeWant is the tree edgeLayers must produce.
func edgeWant() map[string]ext4check.Node {
	d := func(mode uint32) ext4check.Node { return ext4check.Node{Type: "dir", Mode: mode} }
	f := func(mode uint32, data string) ext4check.Node {
		return ext4check.Node{Type: "file", Mode: mode, Size: int64(len(data)), SHA256: ext4check.SHA256(data), Nlink: 1}
	}
	withOwner := func(n ext4check.Node, uid, gid uint32) ext4check.Node { n.UID, n.GID = uid, gid; return n }
	withLinks := func(n ext4check.Node, links uint64) ext4check.Node { n.Nlink = links; return n }
	cap := f(0o755, "ping")
	cap.Xattrs = map[string]string{
		"security.capability": "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
		"user.note":           "hello",
		"user.big":            strings.Repeat("b", 3000),
	}
	return map[string]ext4check.Node{
		"etc": d(0o755), "etc/passwd": f(0o644, "root:x:0:0::/root:/bin/sh\n"),
		"a": d(0o755), "a/keep.txt": f(0o644, "keep"),
		"opq": d(0o755), "opq/new1": f(0o644, "n1"),
		"bin": d(0o755), "bin/tool": f(0o4755, "tool"),
		"data": d(0o755), "data/link": withOwner(f(0o640, "original"), 1000, 1000),
		"swap": d(0o755), "swap/fileToDir": d(0o755), "swap/fileToDir/inner": f(0o644, "i"),
		"swap/dirToFile": f(0o600, "now a file"),
		"x":              d(0o755), "x/cap": cap, "x/fifo": {Type: "fifo", Mode: 0o600},
		"x/link": {Type: "symlink", Target: "../etc/passwd"},
		"dev":    d(0o755), "dev/null": {Type: "char", Mode: 0o666, Rdev: [2]uint32{1, 3}},
		"dev/vdz": {Type: "block", Mode: 0o660, GID: 6, Rdev: [2]uint32{259, 300}},
		"tmp":     d(0o1777),
		"dup.txt": f(0o644, "second"),
		"late":    withOwner(d(0o700), 5, 5), "late/declared": d(0o755), "late/declared/file.txt": f(0o644, "late"),
		"dotslash.txt": f(0o644, "dot"), "abs.txt": f(0o644, "abs"),
		"owner": withOwner(f(0o600, "big ids"), 123456789, 987654321),
		"data2": d(0o755), "data2/linkA": withLinks(f(0o644, "shared"), 2), "data2/linkB": withLinks(f(0o644, "shared"), 2),
		strings.Repeat("n", 255): f(0o644, "long name"),
	}
}

// pushImage pushes an image of the given layers (and config) to ref.
func pushImage(t *testing.T, ref string, layers [][]file, cfg v1.Config) v1.Image {
	t.Helper()
	img, err := busyboximage.FromLayers(layers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	return img
}

func pull(ctx context.Context, td *testDaemon, req api.PullImageRequest) (api.PullResult, error) {
	var mu sync.Mutex
	var phases []string
	res, err := td.client.PullImage(ctx, req, func(ev api.Event) {
		mu.Lock()
		phases = append(phases, ev.Phase)
		mu.Unlock()
	})
	return res, err
}

func TestPullFaithfulTree(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	layout, _ := tempLayout(t)
	td := startDaemon(t, layout, Hooks{})
	ctx := context.Background()
	ref := reg.Host + "/edge/cases:v1"
	cfg := v1.Config{Entrypoint: []string{"/bin/tool"}, Cmd: []string{"--flag"}, Env: []string{"A=b"}, WorkingDir: "/data", User: "1000:1000"}
	img := pushImage(t, ref, edgeLayers(), cfg)

	res, err := pull(ctx, td, api.PullImageRequest{Ref: ref})
	if err != nil {
		t.Fatalf("pull: %v", err)
	}
	digest, _ := img.Digest()
	got := res.Image
	if got.Name != "cases-v1" || got.Digest != digest.String() || got.Platform != "linux/amd64" || !got.Managed {
		t.Errorf("image record = %+v", got)
	}
	if got.Config.WorkingDir != "/data" || got.Config.User != "1000:1000" || got.Config.Entrypoint[0] != "/bin/tool" {
		t.Errorf("config = %+v", got.Config)
	}
	if got.SizeBytes < 1<<30 {
		t.Errorf("size %d below the 1 GiB floor", got.SizeBytes)
	}
	ext4check.GateUntouched(t, got.RootfsPath)
	tree := ext4check.Tree(t, ext4check.MountRO(t, got.RootfsPath))
	ext4check.Compare(t, tree, edgeWant())
	if tree["data2/linkA"].Ino != tree["data2/linkB"].Ino {
		t.Error("data2/linkA and data2/linkB are not one inode")
	}

	again, err := pull(ctx, td, api.PullImageRequest{Ref: ref})
	if err != nil || !again.UpToDate || again.Image.ID != got.ID {
		t.Fatalf("re-pull: up_to_date=%v id %s→%s err %v", again.UpToDate, got.ID, again.Image.ID, err)
	}
}

func TestPullReplacesChangedDigestAndPrunes(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	layout, _ := tempLayout(t)
	td := startDaemon(t, layout, Hooks{})
	ctx := context.Background()
	ref := reg.Host + "/app/thing:latest"
	pushImage(t, ref, [][]file{{reg2("v1.txt", "one")}}, v1.Config{Cmd: []string{"sh"}})
	first, err := pull(ctx, td, api.PullImageRequest{Ref: ref, Name: "thing"})
	if err != nil {
		t.Fatal(err)
	}
	pushImage(t, ref, [][]file{{reg2("v2.txt", "two")}}, v1.Config{Cmd: []string{"sh"}})
	second, err := pull(ctx, td, api.PullImageRequest{Ref: ref, Name: "thing"})
	if err != nil {
		t.Fatal(err)
	}
	if second.UpToDate || second.Replaced != first.Image.Digest || second.Image.Digest == first.Image.Digest {
		t.Fatalf("second pull = %+v", second)
	}
	if _, err := os.Stat(filepath.Dir(first.Image.RootfsPath)); !os.IsNotExist(err) {
		t.Errorf("old image directory still there: %v", err)
	}
	images, err := td.client.ListImages(ctx)
	if err != nil || len(images) != 1 || images[0].Digest != second.Image.Digest {
		t.Fatalf("images after replace = %+v, %v", images, err)
	}
	tree := ext4check.Tree(t, ext4check.MountRO(t, second.Image.RootfsPath))
	if _, ok := tree["v2.txt"]; !ok || len(tree) != 1 {
		t.Errorf("replaced image holds %v", tree)
	}

	before, err := td.client.CacheUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pruned, err := td.client.PruneCache(ctx, api.PruneCacheRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if pruned.FreedBytes <= 0 || pruned.Blobs != before.Blobs-1 {
		t.Errorf("prune: before %+v after %+v", before, pruned)
	}
	again, err := pull(ctx, td, api.PullImageRequest{Ref: ref, Name: "thing"})
	if err != nil || !again.UpToDate {
		t.Fatalf("pull after prune: %+v %v", again, err)
	}
	all, err := td.client.PruneCache(ctx, api.PruneCacheRequest{All: true})
	if err != nil || all.Blobs != 0 {
		t.Fatalf("prune --all: %+v %v", all, err)
	}
}

func reg2(n, data string) file { return reg(n, 0o644, data) }

// TestPullHostileImages: names that climb out of the root are refused with
// a clear error, and the refusal leaves nothing behind; absolute names and
// paths through symlinks stay inside the image.
func TestPullHostileImages(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	layout, _ := tempLayout(t)
	td := startDaemon(t, layout, Hooks{})
	ctx := context.Background()
	outside := t.TempDir()
	for _, tc := range []struct {
		name  string
		files []file
	}{
		{"dotdot", []file{reg2("a/../../../"+outside+"/escaped", "x")}},
		{"hardlink", []file{reg2("f", "x"), hdr(tar.Header{Typeflag: tar.TypeLink, Name: "l", Linkname: "../../etc/shadow"})}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := reg.Host + "/hostile/" + tc.name + ":1"
			pushImage(t, ref, [][]file{tc.files}, v1.Config{})
			_, err := pull(ctx, td, api.PullImageRequest{Ref: ref})
			if err == nil || !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), "root") {
				t.Fatalf("pull of %s: err = %v, want an invalid-image error about the root", tc.name, err)
			}
			if _, err := td.client.InspectImage(ctx, tc.name+"-1"); errdefs.CategoryOf(err) != errdefs.ErrNotFound {
				t.Errorf("refused image was recorded: %v", err)
			}
			entries, _ := os.ReadDir(layout.ImagesDir())
			if len(entries) != 0 {
				t.Errorf("images dir holds %v after a refused pull", entries)
			}
			if left, _ := os.ReadDir(outside); len(left) != 0 {
				t.Errorf("something was written outside: %v", left)
			}
		})
	}

	ref := reg.Host + "/hostile/confined:1"
	pushImage(t, ref, [][]file{{
		dir("etc", 0o755), reg2("/etc/abs", "absolute"),
		hdr(tar.Header{Typeflag: tar.TypeSymlink, Name: "escape", Linkname: "/etc", Mode: 0o777}),
		reg2("escape/through", "via symlink"),
	}}, v1.Config{})
	res, err := pull(ctx, td, api.PullImageRequest{Ref: ref})
	if err != nil {
		t.Fatalf("pull: %v", err)
	}
	ext4check.GateUntouched(t, res.Image.RootfsPath)
	tree := ext4check.Tree(t, ext4check.MountRO(t, res.Image.RootfsPath))
	if tree["etc/abs"].SHA256 != ext4check.SHA256("absolute") || tree["etc/through"].SHA256 != ext4check.SHA256("via symlink") {
		t.Errorf("confined names landed elsewhere: %v", tree)
	}
}

func TestPullErrorsLeaveNothing(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	layout, _ := tempLayout(t)
	td := startDaemon(t, layout, Hooks{})
	ctx := context.Background()
	for _, tc := range []struct {
		req  api.PullImageRequest
		cat  errdefs.Category
		text string
	}{
		{api.PullImageRequest{Ref: reg.Host + "/nope/nothing:1"}, errdefs.ErrNotFound, "not found"},
		{api.PullImageRequest{Ref: "Bad Ref!"}, errdefs.ErrInvalid, "reference"},
		{api.PullImageRequest{Ref: "127.0.0.1:1/x:1"}, errdefs.ErrUnavailable, "refused"},
		{api.PullImageRequest{Ref: reg.Host + "/nope/nothing:1", KernelRef: "no-such-kernel"}, errdefs.ErrNotFound, "kernel"},
	} {
		_, err := pull(ctx, td, tc.req)
		if errdefs.CategoryOf(err) != tc.cat || !strings.Contains(strings.ToLower(err.Error()), tc.text) {
			t.Errorf("pull %+v: err = %v (category %q), want %q mentioning %q", tc.req, err, errdefs.CategoryOf(err), tc.cat, tc.text)
		}
	}
	ref := reg.Host + "/small/one:1"
	pushImage(t, ref, [][]file{{reg2("big", strings.Repeat("z", 1<<20))}}, v1.Config{})
	_, err := pull(ctx, td, api.PullImageRequest{Ref: ref, MaxBytes: 64 << 10})
	if errdefs.CategoryOf(err) != errdefs.ErrInvalid || !strings.Contains(err.Error(), "--max-size") {
		t.Errorf("oversized pull: %v", err)
	}
	_, err = pull(ctx, td, api.PullImageRequest{Ref: ref, SizeBytes: 1 << 20})
	if errdefs.CategoryOf(err) != errdefs.ErrInvalid {
		t.Errorf("too-small --size: %v", err)
	}
	if entries, _ := os.ReadDir(layout.ImagesDir()); len(entries) != 0 {
		t.Errorf("images dir holds %v after failed pulls", entries)
	}
}

func TestConcurrentPulls(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	layout, _ := tempLayout(t)
	td := startDaemon(t, layout, Hooks{})
	ctx := context.Background()
	refs := []string{reg.Host + "/c/one:1", reg.Host + "/c/two:1"}
	for i, ref := range refs {
		pushImage(t, ref, [][]file{{reg2("shared", strings.Repeat("s", 1<<20))}, {reg2("own", ref)}}, v1.Config{Cmd: []string{"x" + string(rune('0'+i))}})
	}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = pull(ctx, td, api.PullImageRequest{Ref: refs[i%2]})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("pull %d: %v", i, err)
		}
	}
	images, err := td.client.ListImages(ctx)
	if err != nil || len(images) != 2 {
		t.Fatalf("images = %+v, %v", images, err)
	}
	u, err := td.client.CacheUsage(ctx)
	if err != nil || u.Blobs != 3 {
		t.Errorf("cache holds %+v, want 3 blobs (one shared layer), %v", u, err)
	}
	for _, img := range images {
		ext4check.GateUntouched(t, img.RootfsPath)
	}
}
