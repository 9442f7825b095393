package daemon

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// killOrphanBuilds kills the QEMU of builds a previous daemon left running
// (it died mid-build): only build machines boot a disk inside an image
// staging directory, which startup recovery has already removed.
func (d *Daemon) killOrphanBuilds() {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	marker := []byte(d.layout.ImagesDir() + "/")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err != nil {
			continue
		}
		argv := bytes.Split(b, []byte{0})
		if !bytes.HasPrefix([]byte(filepath.Base(string(argv[0]))), []byte("qemu-system")) ||
			!bytes.Contains(b, marker) || !bytes.Contains(b, []byte(".staging/"+rootfsName)) {
			continue
		}
		d.log.Warn("killing the machine of a build left by a previous daemon", "pid", pid)
		syscall.Kill(pid, syscall.SIGKILL)
	}
}
