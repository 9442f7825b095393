package daemon

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/client"
	"github.com/banger-dev/banger/internal/model"
	"github.com/banger-dev/banger/internal/store"
)

// A daemon killed (SIGKILL) in the middle of a copy leaves a staging
// directory; the next daemon removes it, and no row exists.
func TestKilledRegisterLeavesNothing(t *testing.T) {
	layout, env := tempLayout(t)
	src := filepath.Join(t.TempDir(), "root.ext4")
	mkExt4(t, src, "64M")

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), append(env, childEnv+"=1")...)
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()
	c := &client.Client{SocketPath: layout.SocketPath()}
	waitFor(t, "child daemon", func() bool { _, err := c.Ping(context.Background()); return err == nil })

	regErr := make(chan error, 1)
	go func() {
		_, err := c.RegisterImage(context.Background(), api.RegisterImageRequest{Name: "k", Rootfs: src}, nil)
		regErr <- err
	}()
	var staging []string
	waitFor(t, "copy in progress", func() bool {
		staging, _ = filepath.Glob(filepath.Join(layout.ImagesDir(), "*.staging", "rootfs.ext4"))
		return len(staging) == 1
	})
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	if err := <-regErr; err == nil || !strings.Contains(err.Error(), "closed the stream") {
		t.Fatalf("register against a killed daemon: %v", err)
	}
	if _, err := os.Stat(staging[0]); err != nil {
		t.Fatalf("the kill should have left the staging file: %v", err)
	}

	td := startDaemon(t, layout, Hooks{})
	entries, _ := os.ReadDir(layout.ImagesDir())
	if len(entries) != 0 {
		t.Fatalf("leftovers after restart: %v", entries)
	}
	if list, err := td.client.ListImages(context.Background()); err != nil || len(list) != 0 {
		t.Fatalf("rows after restart: %+v, %v", list, err)
	}
	// The name is free again.
	if _, err := td.client.RegisterImage(context.Background(), api.RegisterImageRequest{Name: "k", Rootfs: src}, nil); err != nil {
		t.Fatal(err)
	}
}

func TestRecoveryCleansAndReports(t *testing.T) {
	layout, _ := tempLayout(t)
	if err := layout.EnsureState(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, layout.DBPath())
	if err != nil {
		t.Fatal(err)
	}
	err = st.CreateImage(ctx, model.Image{ID: "gone", Name: "ghost", RootfsPath: layout.ImageDir("gone") + "/rootfs.ext4", Created: time.Now()})
	if err == nil {
		err = st.CreateKernel(ctx, model.Kernel{Name: "k-gone", Dir: layout.KernelDir("k-gone"), Created: time.Now()})
	}
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{
		layout.ImageDir("orphan"), layout.ImageDir("x") + ".staging/sub", layout.KernelDir("k") + ".staging",
		layout.KernelDir("k-orphan"), layout.TmpDir() + "/scratch", layout.VMDir("orphanvm"),
	} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	startDaemon(t, layout, Hooks{})

	for _, gone := range []string{layout.ImageDir("x") + ".staging", layout.KernelDir("k") + ".staging", layout.TmpDir() + "/scratch", layout.ImageDir("orphan"), layout.VMDir("orphanvm")} {
		if _, err := os.Stat(gone); !os.IsNotExist(err) {
			t.Errorf("%s survived recovery: %v", gone, err)
		}
	}
	if _, err := os.Stat(layout.KernelDir("k-orphan")); err != nil {
		t.Errorf("recovery must only report unrecorded kernel directories: %v", err)
	}
	logged, err := os.ReadFile(layout.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"image rootfs is missing", "image=ghost", "removing unrecorded image directory",
		"/images/orphan", "kernel directory is missing", "kernel=k-gone", "/kernels/k-orphan", "removing leftover staging"} {
		if !strings.Contains(string(logged), want) {
			t.Errorf("log lacks %q:\n%s", want, logged)
		}
	}
}

// TestRecoveryRestoresAsideKernel: a daemon that died after moving a
// replaced kernel aside but before publishing its successor gets the old
// kernel back at the next start, instead of losing it with the staging
// leftovers.
func TestRecoveryRestoresAsideKernel(t *testing.T) {
	layout, _ := tempLayout(t)
	if err := layout.EnsureState(); err != nil {
		t.Fatal(err)
	}
	aside := layout.KernelDir("k") + asideSuffix
	if err := os.MkdirAll(aside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(aside, "vmlinuz"), []byte("old kernel"), 0o644); err != nil {
		t.Fatal(err)
	}
	startDaemon(t, layout, Hooks{})
	if data, err := os.ReadFile(filepath.Join(layout.KernelDir("k"), "vmlinuz")); err != nil || string(data) != "old kernel" {
		t.Errorf("old kernel not restored: %q, %v", data, err)
	}
	if _, err := os.Stat(aside); !os.IsNotExist(err) {
		t.Errorf("aside copy still there: %v", err)
	}
}
