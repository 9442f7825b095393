package guestinit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// newRoot is where the VM's disk is mounted before it becomes "/".
const newRoot = "/newroot"

type mountSpec struct {
	source, target, fstype string
	flags                  uintptr
	data                   string
}

func mountAll(ms []mountSpec) error {
	for _, m := range ms {
		if err := os.MkdirAll(m.target, 0o755); err != nil {
			return fmt.Errorf("creating mount point %s: %w", m.target, err)
		}
		if err := unix.Mount(m.source, m.target, m.fstype, m.flags, m.data); err != nil {
			return fmt.Errorf("mounting %s on %s: %w", m.fstype, m.target, err)
		}
	}
	return nil
}

// mountEarly mounts what the initramfs needs: /proc, /sys and a devtmpfs
// /dev (the kernel does not mount it by itself here).
func mountEarly() error {
	const nodev = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	return mountAll([]mountSpec{
		{"proc", "/proc", "proc", nodev, ""},
		{"sysfs", "/sys", "sysfs", nodev, ""},
		{"devtmpfs", "/dev", "devtmpfs", unix.MS_NOSUID, "mode=0755"},
	})
}

// waitForFile polls for path, as device nodes appear when drivers probe.
func waitForFile(path string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		_, err := os.Stat(path)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waiting for %s: %w", path, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// mountRoot mounts the VM's ext4 disk at /newroot and creates the mount
// points the system needs, in the VM's copy only, when the image lacks them.
// noinit_itable stops the kernel zeroing inode tables in the background,
// which would burn emulated CPU and fill the holes of a sparse disk copy.
func mountRoot(dev string) error {
	if err := waitForFile(dev, 5*time.Second); err != nil {
		return err
	}
	if err := mountAll([]mountSpec{{dev, newRoot, "ext4", 0, "noinit_itable"}}); err != nil {
		return err
	}
	for _, d := range []struct {
		name string
		perm fs.FileMode
	}{{"dev", 0o755}, {"proc", 0o555}, {"sys", 0o555}, {"tmp", 0o1777}, {"run", 0o755}, {"etc", 0o755}} {
		p := filepath.Join(newRoot, d.name)
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			if err := os.Mkdir(p, d.perm); err != nil {
				return fmt.Errorf("creating %s in the root filesystem: %w", d.name, err)
			}
			os.Chmod(p, d.perm) // Mkdir applies the umask; sticky bit needs Chmod
		}
	}
	return nil
}

// switchRoot makes /newroot the root: it moves /dev, /proc and /sys into it,
// then moves the new root over "/" and chroots (pivot_root cannot leave an
// initramfs). The initramfs stays in memory beneath, so /proc/1/exe keeps
// reaching banger-init.
func switchRoot() error {
	for _, d := range []string{"/dev", "/proc", "/sys"} {
		if err := unix.Mount(d, newRoot+d, "", unix.MS_MOVE, ""); err != nil {
			return fmt.Errorf("moving %s into the new root: %w", d, err)
		}
	}
	if err := unix.Chdir(newRoot); err != nil {
		return fmt.Errorf("entering the new root: %w", err)
	}
	if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("moving the new root to /: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("changing root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("changing root: %w", err)
	}
	return mountAll([]mountSpec{
		{"devpts", "/dev/pts", "devpts", unix.MS_NOSUID | unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5"},
		{"shm", "/dev/shm", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=1777"},
	})
}
