package agent

import (
	"fmt"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// openPTY allocates a pseudo-terminal through /dev/ptmx (devpts must be
// mounted at /dev/pts). Neither end becomes the caller's controlling tty.
func openPTY(rows, cols uint16) (master, slave *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("opening /dev/ptmx: %w", err)
	}
	var n int
	err = control(master, func(fd int) error {
		if n, err = unix.IoctlGetInt(fd, unix.TIOCGPTN); err != nil {
			return fmt.Errorf("getting pty number: %w", err)
		}
		if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
			return fmt.Errorf("unlocking pty: %w", err)
		}
		return nil
	})
	if err == nil {
		name := "/dev/pts/" + strconv.Itoa(n)
		slave, err = os.OpenFile(name, os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
		if err != nil {
			err = fmt.Errorf("opening %s: %w", name, err)
		}
	}
	if err == nil && (rows != 0 || cols != 0) {
		err = setWinsize(master, rows, cols)
	}
	if err != nil {
		master.Close()
		if slave != nil {
			slave.Close()
		}
		return nil, nil, err
	}
	return master, slave, nil
}

// setWinsize sets the terminal size; the kernel sends SIGWINCH to the
// terminal's foreground process group.
func setWinsize(master *os.File, rows, cols uint16) error {
	return control(master, func(fd int) error {
		ws := &unix.Winsize{Row: rows, Col: cols}
		if err := unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, ws); err != nil {
			return fmt.Errorf("setting window size: %w", err)
		}
		return nil
	})
}

// control runs fn on f's descriptor without f.Fd, which would switch the
// file to blocking mode and break deadlines and Close-unblocks-Read.
func control(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// OpenPTY allocates a pseudo-terminal of rows x cols (0 x 0: left unset)
// through /dev/ptmx, for an init that gives the main process a terminal.
// Neither end becomes the caller's controlling tty; both are close-on-exec.
func OpenPTY(rows, cols uint16) (master, slave *os.File, err error) {
	return openPTY(rows, cols)
}

// SetWinsize sets the size of the terminal whose master is given.
func SetWinsize(master *os.File, rows, cols uint16) error {
	return setWinsize(master, rows, cols)
}
