package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/errdefs"
)

func TestRegisterListInspectRemove(t *testing.T) {
	layout, _ := tempLayout(t)
	td := startDaemon(t, layout, Hooks{})
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "root.ext4")
	mkExt4(t, src, "64M")
	importTestKernel(t, td, "k1")

	var events []api.Event
	img, err := td.client.RegisterImage(ctx, api.RegisterImageRequest{Name: "deb", Rootfs: src, KernelRef: "k1"},
		func(ev api.Event) { events = append(events, ev) })
	if err != nil {
		t.Fatal(err)
	}
	if img.Name != "deb" || img.Kernel != "k1" || img.SizeBytes != 64<<20 || img.Managed || img.Ref != src {
		t.Fatalf("unexpected image %+v", img)
	}
	if img.RootfsPath != filepath.Join(layout.ImageDir(img.ID), "rootfs.ext4") {
		t.Fatalf("rootfs path %s", img.RootfsPath)
	}
	if len(events) == 0 || events[len(events)-1].Current != 64<<20 || events[0].Phase != "copy" {
		t.Fatalf("progress events %+v", events)
	}
	assertSameSparseFile(t, src, img.RootfsPath)

	list, err := td.client.ListImages(ctx)
	if err != nil || len(list) != 1 || list[0].ID != img.ID {
		t.Fatalf("list = %+v, %v", list, err)
	}
	got, err := td.client.InspectImage(ctx, "deb")
	if err != nil || got.ID != img.ID || !got.Created.Equal(img.Created) {
		t.Fatalf("inspect = %+v, %v", got, err)
	}
	if err := td.client.RemoveImage(ctx, "deb"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(layout.ImageDir(img.ID)); !os.IsNotExist(err) {
		t.Fatalf("image dir survives rm: %v", err)
	}
	if _, err := td.client.InspectImage(ctx, "deb"); !errors.Is(err, errdefs.ErrNotFound) || err.Error() != `image "deb" not found` {
		t.Fatalf("inspect after rm: %v", err)
	}
	if err := td.client.RemoveImage(ctx, "deb"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("second rm: %v", err)
	}
	assertNoStaging(t, layout.ImagesDir())
}

// assertSameSparseFile checks equal content and that the copy allocates no
// more blocks than the original (holes kept).
func assertSameSparseFile(t *testing.T, a, b string) {
	t.Helper()
	da, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	db, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(da, db) {
		t.Fatal("copy differs from the original")
	}
	var sa, sb syscall.Stat_t
	if err := syscall.Stat(a, &sa); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Stat(b, &sb); err != nil {
		t.Fatal(err)
	}
	if sb.Blocks > sa.Blocks+64 {
		t.Fatalf("copy allocates %d blocks, original %d: holes were filled", sb.Blocks, sa.Blocks)
	}
}

func assertNoStaging(t *testing.T, dir string) {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(dir, "*.staging"))
	if len(matches) > 0 {
		t.Fatalf("staging leftovers: %v", matches)
	}
}

func TestRegisterErrors(t *testing.T) {
	layout, _ := tempLayout(t)
	td := startDaemon(t, layout, Hooks{})
	ctx := context.Background()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.ext4")
	mkExt4(t, good, "16M")
	notExt4 := filepath.Join(dir, "junk.img")
	if err := os.WriteFile(notExt4, bytes.Repeat([]byte{1}, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := td.client.RegisterImage(ctx, api.RegisterImageRequest{Name: "a", Rootfs: good}, nil); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		req  api.RegisterImageRequest
		cat  errdefs.Category
		msg  string
	}{
		{"duplicate", api.RegisterImageRequest{Name: "a", Rootfs: good}, errdefs.ErrExists, `image "a" already exists`},
		{"missing", api.RegisterImageRequest{Name: "b", Rootfs: dir + "/nope"}, errdefs.ErrNotFound,
			"rootfs file " + dir + "/nope does not exist"},
		{"not ext4", api.RegisterImageRequest{Name: "b", Rootfs: notExt4}, errdefs.ErrInvalid,
			"rootfs " + notExt4 + " is not an ext4 filesystem (no superblock magic 0xEF53 at byte 1080)"},
		{"directory", api.RegisterImageRequest{Name: "b", Rootfs: dir}, errdefs.ErrInvalid, "rootfs " + dir + " is not a regular file"},
		{"relative", api.RegisterImageRequest{Name: "b", Rootfs: "x.ext4"}, errdefs.ErrInvalid, `rootfs path "x.ext4" is not absolute`},
		{"bad name", api.RegisterImageRequest{Name: "../x", Rootfs: good}, errdefs.ErrInvalid, ""},
		{"bad kernel", api.RegisterImageRequest{Name: "b", Rootfs: good, KernelRef: "a/b"}, errdefs.ErrInvalid, ""},
	}
	for _, c := range cases {
		_, err := td.client.RegisterImage(ctx, c.req, nil)
		if !errors.Is(err, c.cat) || (c.msg != "" && err.Error() != c.msg) {
			t.Errorf("%s: got %v, want %s %q", c.name, err, c.cat, c.msg)
		}
	}
	if list, _ := td.client.ListImages(ctx); len(list) != 1 {
		t.Fatalf("failed registers left rows: %+v", list)
	}
	entries, _ := os.ReadDir(layout.ImagesDir())
	if len(entries) != 1 {
		t.Fatalf("failed registers left directories: %v", entries)
	}
}

func TestRegisterParallel(t *testing.T) {
	layout, _ := tempLayout(t)
	td := startDaemon(t, layout, Hooks{})
	src := filepath.Join(t.TempDir(), "root.ext4")
	mkExt4(t, src, "32M")
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 8 {
		wg.Add(2)
		go func() { // eight different names: all succeed
			defer wg.Done()
			req := api.RegisterImageRequest{Name: fmt.Sprintf("img-%d", i), Rootfs: src}
			if _, err := td.client.RegisterImage(context.Background(), req, nil); err != nil {
				errs <- err
			}
		}()
		go func() { // eight times one name: exactly one succeeds
			defer wg.Done()
			req := api.RegisterImageRequest{Name: "same", Rootfs: src}
			if _, err := td.client.RegisterImage(context.Background(), req, nil); !errors.Is(err, errdefs.ErrExists) {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	var nils int
	for err := range errs {
		if err != nil {
			t.Error(err)
		} else {
			nils++
		}
	}
	if nils != 1 {
		t.Errorf("%d registers of one name succeeded, want 1", nils)
	}
	list, err := td.client.ListImages(context.Background())
	if err != nil || len(list) != 9 {
		t.Fatalf("list has %d images (%v), want 9", len(list), err)
	}
	assertNoStaging(t, layout.ImagesDir())
}

func TestRegisterMove(t *testing.T) {
	layout, _ := tempLayout(t)
	td := startDaemon(t, layout, Hooks{})
	src := filepath.Join(layout.TmpDir(), "..", "move.ext4") // same filesystem: hard link path
	mkExt4(t, src, "16M")
	img, err := td.client.RegisterImage(context.Background(), api.RegisterImageRequest{Name: "m", Rootfs: src, Move: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(src); !os.IsNotExist(err) {
		t.Fatalf("source still there after --move: %v", err)
	}
	if info, err := os.Stat(img.RootfsPath); err != nil || info.Size() != 16<<20 {
		t.Fatalf("moved rootfs: %v", err)
	}
}

// A client that goes away cancels the operation: nothing stays behind.
func TestRegisterCanceledRollsBack(t *testing.T) {
	layout, _ := tempLayout(t)
	stalled := make(chan struct{}, 1)
	td := startDaemon(t, layout, Hooks{Progress: func(ctx context.Context, ev api.Event) {
		if ev.Current > 0 {
			stalled <- struct{}{}
			<-ctx.Done()
		}
	}})
	src := filepath.Join(t.TempDir(), "root.ext4")
	mkExt4(t, src, "64M")
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-stalled; cancel() }()
	_, err := td.client.RegisterImage(ctx, api.RegisterImageRequest{Name: "c", Rootfs: src}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("register: %v", err)
	}
	// The staging directory existed when the hook stalled; the rollback removes it.
	waitFor(t, "rollback", func() bool {
		entries, _ := os.ReadDir(layout.ImagesDir())
		return len(entries) == 0
	})
	if list, _ := td.client.ListImages(context.Background()); len(list) != 0 {
		t.Fatalf("canceled register left rows: %+v", list)
	}
}

// Stopping the daemon cancels a running register, which rolls back.
func TestShutdownRollsBackRunningRegister(t *testing.T) {
	layout, _ := tempLayout(t)
	stalled := make(chan struct{}, 1)
	td := startDaemon(t, layout, Hooks{Progress: func(ctx context.Context, ev api.Event) {
		if ev.Current > 0 {
			stalled <- struct{}{}
			<-ctx.Done()
		}
	}})
	src := filepath.Join(t.TempDir(), "root.ext4")
	mkExt4(t, src, "64M")
	regErr := make(chan error, 1)
	go func() {
		_, err := td.client.RegisterImage(context.Background(), api.RegisterImageRequest{Name: "s", Rootfs: src}, nil)
		regErr <- err
	}()
	<-stalled
	if err := td.client.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-td.done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	close(td.done)
	if err := <-regErr; !errors.Is(err, errdefs.ErrCanceled) {
		t.Fatalf("register during shutdown: %v", err)
	}
	if entries, _ := os.ReadDir(layout.ImagesDir()); len(entries) != 0 {
		t.Fatalf("shutdown left %v", entries)
	}
}
