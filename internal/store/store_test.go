package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/banger-dev/banger/internal/errdefs"
	"github.com/banger-dev/banger/internal/model"
)

// openTemp opens a store on a real database file in a temp directory.
func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "banger.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func sampleImage(name string) model.Image {
	return model.Image{
		ID: "id-" + name, Name: name, Ref: "docker.io/library/" + name + ":latest",
		Digest: "sha256:abcd", Platform: "linux/amd64", RootfsPath: "/x/" + name + "/rootfs.ext4",
		SizeBytes: 64 << 20, Managed: true, Kernel: "k1", Parent: "base",
		Config: model.ImageConfig{Entrypoint: []string{"/bin/sh"}, Cmd: []string{"-c", "true"},
			Env: []string{"A=1"}, WorkingDir: "/w", User: "1000:1000"},
		Created: time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC),
	}
}

func TestOpenIsIdempotentAndUsesWAL(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if v, err := s.SchemaVersion(ctx); err != nil || v != len(ms) {
		t.Fatalf("schema version = %d, %v; want %d", v, err, len(ms))
	}
	var mode string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v", mode, err)
	}
	if err := s.CreateImage(ctx, sampleImage("a")); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("reopening: %v", err)
	}
	defer s2.Close()
	if _, err := s2.GetImage(ctx, "a"); err != nil {
		t.Fatalf("row lost on reopen: %v", err)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	if _, err := s.db.ExecContext(ctx, `INSERT INTO schema_version VALUES (999, 'x')`); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, path); err == nil {
		t.Fatal("want an error opening a database from a newer banger")
	}
}

func TestImageRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	want := sampleImage("deb")
	if err := s.CreateImage(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetImage(ctx, "deb")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	byID, err := s.GetImageByID(ctx, want.ID)
	if err != nil || byID.Name != "deb" {
		t.Fatalf("GetImageByID = %+v, %v", byID, err)
	}
	want.Kernel, want.SizeBytes = "k2", 1
	if err := s.UpdateImage(ctx, want); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetImage(ctx, "deb"); got.Kernel != "k2" || got.SizeBytes != 1 {
		t.Fatalf("update not stored: %+v", got)
	}
}

func TestImageErrors(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	if err := s.CreateImage(ctx, sampleImage("a")); err != nil {
		t.Fatal(err)
	}
	dup := sampleImage("a")
	dup.ID = "other"
	err := s.CreateImage(ctx, dup)
	if !errors.Is(err, errdefs.ErrExists) || err.Error() != `image "a" already exists` {
		t.Fatalf("duplicate name: %v", err)
	}
	sameID := sampleImage("b")
	sameID.ID = "id-a"
	if err := s.CreateImage(ctx, sameID); !errors.Is(err, errdefs.ErrExists) {
		t.Fatalf("duplicate id: %v", err)
	}
	if _, err := s.GetImage(ctx, "nope"); !errors.Is(err, errdefs.ErrNotFound) || err.Error() != `image "nope" not found` {
		t.Fatalf("get missing: %v", err)
	}
	if err := s.DeleteImage(ctx, "nope"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("delete missing: %v", err)
	}
	if err := s.UpdateImage(ctx, sampleImage("nope")); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("update missing: %v", err)
	}
}

func TestListAndDeleteImages(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	if imgs, err := s.ListImages(ctx); err != nil || imgs == nil || len(imgs) != 0 {
		t.Fatalf("empty list = %#v, %v (want empty non-nil)", imgs, err)
	}
	for _, n := range []string{"c", "a", "b"} {
		if err := s.CreateImage(ctx, sampleImage(n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteImage(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	imgs, err := s.ListImages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, img := range imgs {
		names = append(names, img.Name)
	}
	if !reflect.DeepEqual(names, []string{"a", "c"}) {
		t.Fatalf("names = %v", names)
	}
}

func TestKernelCRUD(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	k := model.Kernel{Name: "k1", Version: "6.1", Arch: "amd64", Source: "catalog", Digest: "sha256:1",
		Dir: "/k/k1", SizeBytes: 10, Created: time.Date(2025, 5, 5, 0, 0, 0, 0, time.UTC)}
	if err := s.CreateKernel(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateKernel(ctx, k); !errors.Is(err, errdefs.ErrExists) {
		t.Fatalf("duplicate kernel: %v", err)
	}
	got, err := s.GetKernel(ctx, "k1")
	if err != nil || !reflect.DeepEqual(got, k) {
		t.Fatalf("got %+v, %v", got, err)
	}
	k.Version = "6.2"
	if err := s.UpdateKernel(ctx, k); err != nil {
		t.Fatal(err)
	}
	if ks, err := s.ListKernels(ctx); err != nil || len(ks) != 1 || ks[0].Version != "6.2" {
		t.Fatalf("list = %+v, %v", ks, err)
	}
	if err := s.DeleteKernel(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetKernel(ctx, "k1"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}

// Two handles on one file (as a daemon restart overlapping a reader would
// have) writing concurrently must all succeed thanks to WAL + busy_timeout.
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	s1, path := openTemp(t)
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := s1
			if i%2 == 1 {
				st = s2
			}
			img := sampleImage(fmt.Sprintf("img%02d", i))
			if err := st.CreateImage(ctx, img); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if imgs, err := s1.ListImages(ctx); err != nil || len(imgs) != 40 {
		t.Fatalf("listed %d images, %v", len(imgs), err)
	}
}
