package guestinit

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const (
	evKey    = 1   // EV_KEY
	keyPower = 116 // KEY_POWER
	// inputEventSize is sizeof(struct input_event) on 64-bit: a timeval,
	// then type (u16), code (u16) and value (s32).
	inputEventSize = 24
)

// watchPowerButton calls pressed each time the ACPI power button is pressed:
// that is how QEMU's system_powerdown (vmm Machine.Stop) reaches the guest.
// It needs the button and evdev modules; without them it does nothing.
func watchPowerButton(pressed func()) {
	var dev string
	for i := 0; i < 100 && dev == ""; i++ {
		dev = findInputDevice("Power Button")
		if dev == "" {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if dev == "" {
		return
	}
	f, err := os.Open(dev)
	if err != nil {
		logf("watching the power button: %v", err)
		return
	}
	defer f.Close()
	ev := make([]byte, inputEventSize)
	for {
		if _, err := f.Read(ev); err != nil {
			return
		}
		typ := binary.NativeEndian.Uint16(ev[16:])
		code := binary.NativeEndian.Uint16(ev[18:])
		value := int32(binary.NativeEndian.Uint32(ev[20:]))
		if typ == evKey && code == keyPower && value == 1 {
			pressed()
		}
	}
}

// findInputDevice returns the /dev/input/eventN node of the input device
// called name, or "".
func findInputDevice(name string) string {
	dirs, _ := filepath.Glob("/sys/class/input/event*")
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "device", "name"))
		if err == nil && strings.TrimSpace(string(b)) == name {
			return "/dev/input/" + filepath.Base(d)
		}
	}
	return ""
}
