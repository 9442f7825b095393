package daemon

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/banger-dev/banger/internal/api"
)

// progressInterval is the least time between two sent progress events about
// the same phase and item; the events in between are dropped (the first,
// and the one completing Total, always go out).
const progressInterval = 100 * time.Millisecond

// eventStream writes NDJSON events. The 200 header goes out with the first
// event, so an operation failing before it reports anything still answers
// with a proper error status. Safe for concurrent use.
type eventStream struct {
	w    http.ResponseWriter
	rc   *http.ResponseController
	hook func(api.Event) // Hooks.Progress bound to the request, or nil

	mu   sync.Mutex
	sent bool
	last map[string]time.Time // by phase+item
}

func newEventStream(w http.ResponseWriter, r *http.Request, hook func(context.Context, api.Event)) *eventStream {
	s := &eventStream{w: w, rc: http.NewResponseController(w), last: map[string]time.Time{}}
	if hook != nil {
		s.hook = func(ev api.Event) { hook(r.Context(), ev) }
	}
	return s
}

// progress is the operation's api.ProgressFunc.
func (s *eventStream) progress(ev api.Event) {
	ev.Type = api.EventProgress
	if s.hook != nil {
		s.hook(ev)
	}
	key := ev.Phase + "\x00" + ev.Item
	s.mu.Lock()
	prev, seen := s.last[key]
	partial := ev.Total > 0 && ev.Current < ev.Total
	if seen && partial && time.Since(prev) < progressInterval {
		s.mu.Unlock()
		return
	}
	s.last[key] = time.Now()
	s.mu.Unlock()
	s.send(ev)
}

func (s *eventStream) started() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent
}

// send writes one event and flushes it. Write errors are ignored: a gone
// client cancels the request context, which the operation notices.
func (s *eventStream) send(ev api.Event) {
	line, err := json.Marshal(ev)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.sent {
		s.sent = true
		s.w.Header().Set("Content-Type", api.ContentTypeNDJSON)
		s.w.WriteHeader(http.StatusOK)
	}
	s.w.Write(append(line, '\n'))
	s.rc.Flush()
}
