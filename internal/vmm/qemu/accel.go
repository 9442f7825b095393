package qemu

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Accelerators.
const (
	AccelAuto = "auto"
	AccelKVM  = "kvm"
	AccelTCG  = "tcg"
)

const (
	kvmGetAPIVersion = 0xAE00
	kvmCreateVM      = 0xAE01
	kvmAPIVersion    = 12
)

// probeKVM reports whether /dev/kvm can run a stock kernel, and if not, why.
// Some hosts expose a PVM-flavoured /dev/kvm (kvm_pvm) on which QEMU aborts
// setting MSRs; only the hardware flavours (kvm_intel, kvm_amd) count.
func probeKVM() (bool, string) {
	fd, err := unix.Open("/dev/kvm", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, fmt.Sprintf("/dev/kvm unusable (%v)", err)
	}
	defer unix.Close(fd)
	v, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), kvmGetAPIVersion, 0)
	if errno != 0 || v != kvmAPIVersion {
		return false, fmt.Sprintf("/dev/kvm reports API version %d (%v)", v, errno)
	}
	vm, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), kvmCreateVM, 0)
	if errno != 0 {
		return false, fmt.Sprintf("/dev/kvm cannot create a VM (%v)", errno)
	}
	unix.Close(int(vm))
	for _, m := range []string{"kvm_intel", "kvm_amd"} {
		if _, err := os.Stat("/sys/module/" + m); err == nil {
			return true, ""
		}
	}
	if _, err := os.Stat("/sys/module/kvm_pvm"); err == nil {
		return false, "/dev/kvm is PVM-flavoured (kvm_pvm) and cannot run a stock kernel"
	}
	return false, "/dev/kvm has no hardware backend (neither kvm_intel nor kvm_amd loaded)"
}

// hostTSCkHz returns the host's TSC frequency in kHz, or 0 when unknown. A
// TCG guest told this on its command line (tsc_early_khz) skips the TSC
// calibration that hangs a good share of emulated boots.
func hostTSCkHz() int {
	if b, err := os.ReadFile("/sys/devices/system/cpu/cpu0/tsc_freq_khz"); err == nil {
		if v, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && v > 0 {
			return v
		}
	}
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "cpu MHz" {
			mhz, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil && mhz > 0 {
				return int(mhz * 1000)
			}
		}
	}
	return 0
}
