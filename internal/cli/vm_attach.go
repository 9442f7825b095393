package cli

import (
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/banger-dev/banger/internal/client"
	"github.com/banger-dev/banger/internal/errdefs"
	"golang.org/x/term"
)

// attachOptions says how drive wires the local side of an attach stream.
type attachOptions struct {
	stdin bool // forward stdin, closing it at EOF
	tty   bool // the process has a terminal: follow the local size
	// fd is the local terminal with tty (-1: none); raw puts it in raw mode.
	fd         int
	raw        bool
	rows, cols uint16
	// detachNote says what a second Ctrl-C leaves behind.
	detachNote string
}

// attachTerminal works out the terminal side of vm exec -i/-t: with both,
// stdin must be a terminal, which goes raw; with -t alone the size comes
// from whichever of stdin and stdout is a terminal (else 24x80).
func (a *app) attachTerminal(stdin, tty bool) (attachOptions, error) {
	o := attachOptions{stdin: stdin, tty: tty, fd: -1}
	if !tty {
		return o, nil
	}
	o.rows, o.cols = 24, 80
	o.fd = terminalFd(a.env.Stdin)
	if o.fd < 0 && !stdin {
		o.fd = terminalFd(a.env.Stdout)
	}
	if o.fd < 0 {
		if stdin {
			return o, errdefs.Newf(errdefs.ErrInvalid, "-it needs a terminal on stdin; drop -t to pipe stdin")
		}
		return o, nil
	}
	o.raw = stdin
	if cols, rows, err := term.GetSize(o.fd); err == nil && rows > 0 && cols > 0 {
		o.rows, o.cols = uint16(rows), uint16(cols)
	}
	return o, nil
}

// terminalFd returns the descriptor behind v if it is a terminal, else -1.
func terminalFd(v any) int {
	f, ok := v.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return -1
	}
	return int(f.Fd())
}

type attachEnd struct {
	code int
	err  error
}

// drive relays at until the process exits and returns its exit code as the
// command's result. SIGINT and SIGTERM go to the process; a second one hangs
// up (exit 130). The command's context is not watched: a SIGINT cancels it.
func (a *app) drive(at *client.Attachment, o attachOptions) error {
	defer at.Close()
	restore := func() {}
	if o.raw {
		state, err := term.MakeRaw(o.fd)
		if err != nil {
			return fmt.Errorf("putting the terminal in raw mode: %w", err)
		}
		restore = sync.OnceFunc(func() { term.Restore(o.fd, state) }) //nolint:errcheck // best effort
		defer restore()
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	if o.fd >= 0 {
		signal.Notify(sigs, syscall.SIGWINCH)
	}
	defer signal.Stop(sigs)
	if o.stdin {
		go at.CopyStdin(a.env.Stdin) //nolint:errcheck // the exit or the hang-up ends the stream anyway
	}
	done := make(chan attachEnd, 1)
	go func() {
		code, err := at.Wait(a.env.Stdout, a.env.Stderr)
		done <- attachEnd{code, err}
	}()
	forwarded := false
	for {
		select {
		case end := <-done:
			if end.err != nil {
				return end.err
			}
			return processExit(end.code)
		case sig := <-sigs:
			switch {
			case sig == syscall.SIGWINCH:
				if cols, rows, err := term.GetSize(o.fd); err == nil {
					at.Resize(uint16(rows), uint16(cols)) //nolint:errcheck // the Wait reports a broken stream
				}
			case !forwarded:
				forwarded = true
				at.Signal(sig.(syscall.Signal)) //nolint:errcheck
			default:
				at.Close()
				restore()
				fmt.Fprintf(a.env.Stderr, "banger: detached; %s\n", o.detachNote)
				return exitError{130}
			}
		}
	}
}
