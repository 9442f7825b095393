package cli

import (
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/banger-dev/banger/internal/api"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"
)

// pullProgress renders a pull's events: a byte bar per layer and a
// conversion line on a terminal, plain lines otherwise, nothing when quiet.
func (a *app) pullProgress(quiet bool) (api.ProgressFunc, func()) {
	if quiet {
		return func(api.Event) {}, func() {}
	}
	if f, ok := a.env.Stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return newBarProgress(f).handle, func() {}
	}
	p := &lineProgress{w: a.env.Stderr, done: map[string]bool{}}
	return p.handle, func() {}
}

// lineProgress prints one line per step: each layer once when it is
// complete, conversion at the end of each layer.
type lineProgress struct {
	w     io.Writer
	mu    sync.Mutex
	done  map[string]bool
	phase string
}

func (p *lineProgress) handle(ev api.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev.Phase {
	case "fetch":
		if ev.Total > 0 && ev.Current >= ev.Total && !p.done[ev.Item] {
			p.done[ev.Item] = true
			how := "fetched"
			if ev.Message == "cached" {
				how = "cached "
			}
			fmt.Fprintf(p.w, "%s %s (%s)\n", how, shortDigest(ev.Item), humanSize(ev.Total))
		}
	case "convert":
		if p.phase != ev.Phase+ev.Item {
			fmt.Fprintf(p.w, "converting %s\n", ev.Item)
		}
	default:
		if ev.Message != "" && p.phase != ev.Phase {
			fmt.Fprintln(p.w, ev.Message)
		}
	}
	p.phase = ev.Phase + ev.Item
	if ev.Phase != "convert" {
		p.phase = ev.Phase
	}
}

// barProgress draws mpb bars on a terminal.
type barProgress struct {
	mu      sync.Mutex
	p       *mpb.Progress
	bars    map[string]*mpb.Bar
	convert *mpb.Bar
}

func newBarProgress(w io.Writer) *barProgress {
	return &barProgress{p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(40)), bars: map[string]*mpb.Bar{}}
}

func (b *barProgress) handle(ev api.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev.Phase {
	case "fetch":
		bar := b.bars[ev.Item]
		if bar == nil {
			bar = b.p.AddBar(ev.Total,
				mpb.PrependDecorators(decor.Name(shortDigest(ev.Item)+" ", decor.WCSyncSpaceR)),
				mpb.AppendDecorators(decor.CountersKibiByte("% .1f / % .1f"), decor.Name(" "), decor.Percentage()))
			b.bars[ev.Item] = bar
		}
		bar.SetCurrent(ev.Current)
	case "convert":
		if b.convert == nil {
			b.convert = b.p.New(0, mpb.SpinnerStyle(),
				mpb.PrependDecorators(decor.Name("converting ")),
				mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return "" })))
		}
		b.convert.SetTotal(ev.Current+1, false)
		b.convert.SetCurrent(ev.Current)
	case "finish":
		b.finish()
	}
}

// finish completes every bar and waits for the last redraw.
func (b *barProgress) finish() {
	for _, bar := range b.bars {
		bar.SetTotal(-1, true)
	}
	if b.convert != nil {
		b.convert.SetTotal(-1, true)
	}
	b.p.Wait()
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}
