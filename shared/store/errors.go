package store

import (
	"errors"
	"fmt"

	"github.com/leadrelay/leadrelay/shared/lead"
)

// ErrNotFound is returned when an item does not exist.
var ErrNotFound = errors.New("not found")

// DuplicateError reports a lead whose dedupe key was seen within the window.
type DuplicateError struct {
	Field string
	Of    string // the earlier lead
}

func (e *DuplicateError) Error() string {
	return fmt.Sprintf("duplicate of lead %s by %s", e.Of, e.Field)
}

// ReplayError reports an Idempotency-Key used before: Response is what the
// first request was answered.
type ReplayError struct {
	LeadID   string
	Response []byte
}

func (e *ReplayError) Error() string { return "idempotency key already used by lead " + e.LeadID }

// StaleError reports a message about a routing round the lead has moved on
// from (a redelivered or duplicate message). Current is the lead as stored.
type StaleError struct {
	Current *lead.Record
}

func (e *StaleError) Error() string {
	if e.Current == nil {
		return "lead not found"
	}
	return fmt.Sprintf("lead %s is at round %d (%s)", e.Current.ID, e.Current.Seq, e.Current.Status)
}

// CapFullError reports a reservation that found a cap without room (or a
// buyer dedupe key taken). Index is the position in the reservation's
// Caps, or -1 with Dedupe set.
type CapFullError struct {
	Index  int
	Key    string
	Dedupe bool
}

func (e *CapFullError) Error() string {
	if e.Dedupe {
		return "buyer already bought this lead's " + e.Key
	}
	return "cap full: " + e.Key
}
