package api

import (
	"encoding/json"
)

// EventType tells what an Event carries.
type EventType string

// The event types of a progress stream.
const (
	EventProgress EventType = "progress"
	EventResult   EventType = "result"
	EventError    EventType = "error"
)

// Event is one line of an NDJSON progress stream. Progress events say what
// the operation is doing; the last event is a result or an error.
type Event struct {
	Type EventType `json:"type"`
	// Phase is a short machine-friendly step name ("copy", "fetch", "convert").
	Phase string `json:"phase,omitempty"`
	// Message is a human-readable line about the step.
	Message string `json:"message,omitempty"`
	// Item identifies what the numbers are about (a layer digest, a file).
	Item string `json:"item,omitempty"`
	// Current and Total count bytes (or items) done and expected; Total 0 means unknown.
	Current int64 `json:"current,omitempty"`
	Total   int64 `json:"total,omitempty"`
	// Result is the operation's result object, in a result event.
	Result json.RawMessage `json:"result,omitempty"`
	// Error is set in an error event.
	Error *Error `json:"error,omitempty"`
}

// ProgressFunc receives progress events. It must not block for long: the
// operation waits for it.
type ProgressFunc func(Event)
