package daemon

import (
	"fmt"
	"io"
	"log/slog"
	"os"
)

// openLog opens <state>/daemon.log for appending and points d.log at it
// (and at cfg.Stderr, unless that is the same file, as when the CLI started
// the daemon with its output redirected to the log).
func (d *Daemon) openLog() (*os.File, error) {
	f, err := os.OpenFile(d.layout.LogPath(), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening daemon log: %w", err)
	}
	var w io.Writer = f
	if d.cfg.Stderr != nil && !sameFile(d.cfg.Stderr, f) {
		w = io.MultiWriter(f, d.cfg.Stderr)
	}
	level := slog.LevelInfo
	if d.cfg.Debug {
		level = slog.LevelDebug
	}
	d.log = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
	return f, nil
}

func sameFile(w io.Writer, f *os.File) bool {
	other, ok := w.(*os.File)
	if !ok {
		return false
	}
	a, err1 := other.Stat()
	b, err2 := f.Stat()
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}
