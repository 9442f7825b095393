package cli

import (
	"fmt"
	"os"
	"sync"

	"github.com/banger-dev/banger/internal/api"
	"golang.org/x/term"
)

// progressPrinter returns a progress callback and a function to call when
// the operation ends. On a terminal it keeps one status line updated on
// stderr; elsewhere it prints nothing (with --debug, every event).
func (a *app) progressPrinter() (api.ProgressFunc, func()) {
	f, ok := a.env.Stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return func(ev api.Event) {
			a.debugf("progress: %s %s %s %d/%d", ev.Phase, ev.Item, ev.Message, ev.Current, ev.Total)
		}, func() {}
	}
	var mu sync.Mutex
	shown := false
	progress := func(ev api.Event) {
		mu.Lock()
		defer mu.Unlock()
		line := ev.Message
		if line == "" {
			line = ev.Phase
		}
		if ev.Total > 0 {
			line += fmt.Sprintf("  %s / %s (%d%%)", humanSize(ev.Current), humanSize(ev.Total), ev.Current*100/ev.Total)
		}
		fmt.Fprintf(f, "\r\x1b[K%s", line)
		shown = true
	}
	done := func() {
		mu.Lock()
		defer mu.Unlock()
		if shown {
			fmt.Fprint(f, "\r\x1b[K")
		}
	}
	return progress, done
}
