package store

import (
	"context"
	"encoding/json"

	"github.com/leadrelay/leadrelay/shared/lead"
)

// Buyers' response times. Each delivery attempt's timeline event (type
// attempt, or failed for the last attempt of a buyer given up on; written
// by package delivery) rides on exactly one item: the
// round that settles it (Sell, Release) or the note that records it
// (AppendEvents). That item carries, with the event, the attempt's
// response figures in the order dimension of the ledger —
// "responses:1,response_ms:<latency>" on the day of the answer — which
// the aggregate function folds in once, however often SQS delivers the
// message: a redelivery either finds the round taken and writes nothing,
// or makes an attempt of its own, with an item of its own.
//
// An attempt counts when the buyer answered it (its event has an HTTP
// "status") or when it was written in full and never answered ("unknown":
// a timeout, counted at the time it waited). Failures before the post was
// written (DNS, a refused connection, a render error) say nothing of the
// buyer's response time and are left out. Test leads' attempts count:
// they are real posts to the buyer, timed like any other.

// Ledger counters of the order dimension for response times.
const (
	CountResponses  = "responses"
	CountResponseMS = "response_ms"
)

// responseEntries are the ledger entries of the delivery attempts among
// events that a buyer answered (or let time out).
func (s *Store) responseEntries(ctx context.Context, events []lead.Event) []entry {
	var out []entry
	for _, ev := range events {
		ms, ok := responseMS(ev)
		if !ok {
			continue
		}
		add := counts{CountResponses: 1, CountResponseMS: ms}
		out = append(out, entries(s.day(ctx, ev.At), map[string]string{DimOrder: ev.Buyer + "/" + ev.Order}, add)...)
	}
	return out
}

// responseMS is the response time of an attempt event the buyer answered
// or let time out; ok is false for any other event.
func responseMS(ev lead.Event) (ms int64, ok bool) {
	// The last attempt of a buyer that delivery gives up on is recorded
	// as failed, with the attempt's data.
	if ev.Type != lead.EventAttempt && ev.Type != lead.EventFailed || ev.Buyer == "" || ev.Order == "" {
		return 0, false
	}
	answered := number(ev.Data["status"]) > 0
	unknown, _ := ev.Data["unknown"].(bool)
	if !answered && !unknown {
		return 0, false
	}
	if _, ok := ev.Data["latency_ms"]; !ok {
		return 0, false
	}
	return max(number(ev.Data["latency_ms"]), 0), true
}

// number reads an integer of an event's data, as it is built (int, int64)
// or decoded (float64, json.Number); 0 if it is none.
func number(v any) int64 {
	switch n := v.(type) {
	case int:
		return int64(n)
	case int64:
		return n
	case float64:
		return int64(n)
	case json.Number:
		i, _ := n.Int64()
		return i
	}
	return 0
}
