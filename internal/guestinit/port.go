package guestinit

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// agentPortName is the virtio-serial port the host's agent connects to.
const agentPortName = "org.banger.agent"

// findPort waits for the virtio-serial port called name and returns its
// device path. The port's name file reads empty for a few milliseconds after
// its node appears, so it is polled.
func findPort(name string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		dirs, _ := filepath.Glob("/sys/class/virtio-ports/*")
		for _, d := range dirs {
			b, err := os.ReadFile(filepath.Join(d, "name"))
			if err == nil && strings.TrimSpace(string(b)) == name {
				dev := "/dev/" + filepath.Base(d)
				if _, err := os.Stat(dev); err == nil {
					return dev, nil
				}
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("finding virtio port %s: not present after %v", name, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
