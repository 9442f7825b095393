package guestinit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// loadModules inserts the modules listed (one path a line, in dependency
// order) in listPath. A missing list means a kernel with everything built in.
func loadModules(listPath string) error {
	data, err := os.ReadFile(listPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading module list: %w", err)
	}
	for _, p := range strings.Fields(string(data)) {
		if err := insmod(p); err != nil {
			return err
		}
	}
	return nil
}

func insmod(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("loading module: %w", err)
	}
	defer f.Close()
	err = unix.FinitModule(int(f.Fd()), "", 0)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("loading module %s: %w", path, err)
	}
	return nil
}
