// Package sweeper is the sweeper function: every minute it finds leads
// whose next message was lost — a lead accepted but never queued for
// routing, a round whose delivery or routing message never came — and
// sends that message again, so that nothing accepted is stranded
// (invariant 1). Messages carry the lead, so a lost one is the only way a
// lead could stop; every state change is conditioned on the lead's round,
// so a message sent again for a round that did move on changes nothing.
//
// It reads three lists from the table's index, each since the last sweep:
//
//   - leads created RouteGrace ago: their round 1 must exist (the routing
//     message of a new lead was lost);
//   - leads created SettleAfter ago: their round 2 must exist, or they
//     ended in round 1 (the first offer's delivery message was lost) — a
//     lead whose first offer may still take longer is looked at again
//     when that offer is due;
//   - rounds from 2 on (and the sweeper's own notes) that are due: their
//     next round must exist.
//
// The first two come from the campaign's listing of its leads, which every
// lead is in anyway, so the rounds of a lead sold to its first buyer cost
// no index writes of their own. One BatchGetItem checks a hundred rounds;
// only a lead that looks stuck is read whole.
package sweeper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/queue"
	"github.com/leadrelay/leadrelay/shared/store"
)

// Store is what the sweeper needs of the table.
type Store interface {
	LoadSweepCursor(ctx context.Context) (store.SweepCursor, error)
	SaveSweepCursor(ctx context.Context, c store.SweepCursor) error
	CreatedBetween(ctx context.Context, campaign string, from, to time.Time) ([]string, error)
	DueBetween(ctx context.Context, from, to time.Time) ([]store.RoundRef, error)
	RoundsExist(ctx context.Context, refs []store.RoundRef) (map[store.RoundRef]bool, error)
	GetLead(ctx context.Context, id string, consistent bool) (*lead.Record, error)
	Note(ctx context.Context, id string, seq int, events []lead.Event, due time.Time) error
}

// Queue is what the sweeper needs of the queues.
type Queue interface {
	Route(ctx context.Context, m queue.Route) error
	Deliver(ctx context.Context, m queue.Deliver) error
	DeadLetterRoute(ctx context.Context, m queue.Route, reason string) error
	DeadLetter(ctx context.Context, m queue.Deliver, reason string) error
}

// Configs returns the current configuration.
type Configs interface {
	Get(ctx context.Context) (*config.Index, error)
}

// Defaults of a Handler.
const (
	// DefaultRouteGrace is how long a new lead may wait for its first
	// routing round: past it, its routing message was lost.
	DefaultRouteGrace = time.Minute
	// DefaultSettleAfter is when a lead's first offer is checked: a first
	// offer due later is noted to be checked when it is due.
	DefaultSettleAfter = 10 * time.Minute
	// DefaultRecheck is how long after sending a message again the
	// sweeper looks at the round once more.
	DefaultRecheck = 5 * time.Minute
	// DefaultMaxRecoveries bounds the messages sent again for one round;
	// then the lead's message goes to the queue's DLQ, whose alarm calls
	// an operator.
	DefaultMaxRecoveries = 3
	// DefaultLookback is how far back the first sweep looks.
	DefaultLookback = time.Hour
)

// Handler is the sweeper function.
type Handler struct {
	Store   Store
	Queue   Queue
	Configs Configs
	Now     func() time.Time
	Log     *slog.Logger
	// Zero values take the defaults above.
	RouteGrace    time.Duration
	SettleAfter   time.Duration
	Recheck       time.Duration
	MaxRecoveries int
	Lookback      time.Duration
}

// Result says what a sweep did.
type Result struct {
	// Checked rounds, Stuck among them, messages Resent, leads given up
	// on (DeadLettered).
	Checked, Stuck, Resent, DeadLettered int
}

// Handle runs one sweep (the scheduled event carries nothing it needs).
func (h *Handler) Handle(ctx context.Context, _ events.CloudWatchEvent) error {
	res, err := h.Sweep(ctx)
	if err != nil {
		h.Log.ErrorContext(ctx, "sweep", "error", err)
		return err
	}
	h.Log.InfoContext(ctx, "swept", "checked", res.Checked, "stuck", res.Stuck, "resent", res.Resent, "dead_lettered", res.DeadLettered)
	return nil
}

// Sweep looks at the leads created and the rounds due since the last
// sweep, and sends again the message of every one that is stuck.
func (h *Handler) Sweep(ctx context.Context) (Result, error) {
	var res Result
	ix, err := h.Configs.Get(ctx)
	if err != nil {
		return res, err
	}
	now := h.Now().UTC()
	cur, err := h.Store.LoadSweepCursor(ctx)
	if err != nil {
		return res, err
	}
	lookback := or(h.Lookback, DefaultLookback)
	listed := window(cur.Listed, now.Add(-or(h.RouteGrace, DefaultRouteGrace)), lookback)
	settled := window(cur.Settled, now.Add(-or(h.SettleAfter, DefaultSettleAfter)), lookback)
	due := window(cur.Due, now, lookback)
	// Each round checked is the round whose successor must exist.
	var refs []store.RoundRef
	for _, w := range []struct {
		span
		round int
	}{{listed, 0}, {settled, 1}} {
		if !w.to.After(w.from) {
			continue
		}
		for _, c := range ix.Config.Campaigns {
			ids, err := h.Store.CreatedBetween(ctx, c.ID, w.from, w.to)
			if err != nil {
				return res, err
			}
			for _, id := range ids {
				refs = append(refs, store.RoundRef{LeadID: id, Seq: w.round})
			}
		}
	}
	dueRefs, err := h.Store.DueBetween(ctx, due.from, due.to)
	if err != nil {
		return res, err
	}
	refs = append(refs, dueRefs...)
	stuck, err := h.stuck(ctx, refs)
	if err != nil {
		return res, err
	}
	res.Checked, res.Stuck = len(refs), len(stuck)
	var errs []error
	for _, r := range stuck {
		sent, dead, err := h.recover(ctx, ix, r, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if sent {
			res.Resent++
		}
		if dead {
			res.DeadLettered++
		}
	}
	if len(errs) > 0 {
		// The cursor stays: the next sweep looks at these leads again
		// (and leaves alone those it sent a message for just now).
		return res, fmt.Errorf("%d of %d stuck leads: %w", len(errs), len(stuck), errors.Join(errs...))
	}
	if err := h.Store.SaveSweepCursor(ctx, store.SweepCursor{Listed: listed.to, Settled: settled.to, Due: due.to}); err != nil {
		return res, err
	}
	return res, nil
}

// span is a window of time (from, to].
type span struct{ from, to time.Time }

// window is the span from the cursor (or lookback before to, the first
// time) to to; never backwards.
func window(cursor, to time.Time, lookback time.Duration) span {
	if cursor.IsZero() {
		cursor = to.Add(-lookback)
	}
	if to.Before(cursor) {
		to = cursor
	}
	return span{cursor, to}
}

// stuck keeps the rounds whose next round does not exist, one a lead (a
// lead can be in two lists of one sweep: recover looks at its state).
func (h *Handler) stuck(ctx context.Context, refs []store.RoundRef) ([]store.RoundRef, error) {
	next := make([]store.RoundRef, len(refs))
	for i, r := range refs {
		next[i] = store.RoundRef{LeadID: r.LeadID, Seq: r.Seq + 1}
	}
	exist, err := h.Store.RoundsExist(ctx, next)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []store.RoundRef
	for i, r := range refs {
		if !exist[next[i]] && !seen[r.LeadID] {
			seen[r.LeadID] = true
			out = append(out, r)
		}
	}
	return out, nil
}

// recover sends a stuck round's message again (sent), or after
// MaxRecoveries of them puts it in its queue's DLQ (dead), and notes it
// in the lead's timeline, due for a recheck.
func (h *Handler) recover(ctx context.Context, ix *config.Index, r store.RoundRef, now time.Time) (sent, dead bool, err error) {
	rec, err := h.Store.GetLead(ctx, r.LeadID, true)
	if err != nil {
		return false, false, fmt.Errorf("read stuck lead %s: %w", r.LeadID, err)
	}
	log := h.Log.With("lead_id", rec.ID, "seq", rec.Seq, "status", rec.Status)
	route, deliver := Message(rec, ix)
	switch {
	case route == nil && deliver == nil:
		return false, false, nil // settled
	case rec.Seq > r.Seq:
		return false, false, nil // it moved on since: its new round is watched
	case rec.Due.After(now):
		// Its round may still take longer (a buyer with many slow
		// attempts). Round 1 is in no index: note it, due then.
		if rec.Seq == 1 {
			ev := lead.Event{At: now, Type: lead.EventWatched, Data: map[string]any{"round": rec.Seq},
				Detail: fmt.Sprintf("round %d is due at %s: the sweeper looks again then", rec.Seq, rec.Due.Format(time.RFC3339))}
			return false, false, h.Store.Note(ctx, rec.ID, rec.Seq, []lead.Event{ev}, rec.Due)
		}
		return false, false, nil
	}
	// The lead waits in its round (rec.Seq) past when it was due.
	r.Seq = rec.Seq
	tries, last := recoveries(rec, r.Seq)
	if now.Sub(last) < or(h.Recheck, DefaultRecheck) {
		return false, false, nil // sent again lately: its recheck comes
	}
	if tries >= or(h.MaxRecoveries, DefaultMaxRecoveries) {
		reason := fmt.Sprintf("the message of round %d was sent again %d times and the lead has not moved: stranded", r.Seq, tries)
		log.ErrorContext(ctx, "lead stranded; its message goes to the DLQ for an operator", "recoveries", tries)
		if deliver != nil {
			err = h.Queue.DeadLetter(ctx, *deliver, reason)
		} else {
			err = h.Queue.DeadLetterRoute(ctx, *route, reason)
		}
		if err != nil {
			return false, false, err
		}
		ev := lead.Event{At: now, Type: lead.EventStranded, Detail: reason, Data: map[string]any{"round": r.Seq}}
		return false, true, h.Store.Note(ctx, rec.ID, r.Seq, []lead.Event{ev}, time.Time{})
	}
	what := "routing"
	if deliver != nil {
		what = "delivery"
		err = h.Queue.Deliver(ctx, *deliver)
	} else {
		err = h.Queue.Route(ctx, *route)
	}
	if err != nil {
		return false, false, err
	}
	log.WarnContext(ctx, "stuck lead: message sent again", "message", what, "recoveries", tries+1)
	ev := lead.Event{At: now, Type: lead.EventRecovered,
		Detail: fmt.Sprintf("the %s message of round %d was lost; the sweeper sent it again", what, r.Seq),
		Data:   map[string]any{"round": r.Seq, "message": what}}
	return true, false, h.Store.Note(ctx, rec.ID, r.Seq, []lead.Event{ev}, now.Add(or(h.Recheck, DefaultRecheck)))
}

// Message is the message a lead waits for in its current round: routing
// (a new lead, a lead between buyers, a shared lead with room for more),
// delivery (an offer in flight), or none (settled).
func Message(rec *lead.Record, ix *config.Index) (*queue.Route, *queue.Deliver) {
	bought := rec.Buyers()
	rejected := rec.Rejections()
	if rec.Assignment != nil {
		return nil, &queue.Deliver{Lead: rec.Lead, Seq: rec.Seq, Assignment: *rec.Assignment, Tried: rec.Tried, Bought: bought, Rejected: rejected, Recovered: true}
	}
	switch rec.Status {
	case lead.Received, lead.Routing:
	case lead.Sold:
		c := ix.Campaign(rec.Campaign)
		if c == nil || len(rec.Sales) >= c.MaxSales {
			return nil, nil
		}
	default:
		return nil, nil
	}
	return &queue.Route{Lead: rec.Lead, Seq: rec.Seq, Tried: rec.Tried, Bought: bought, Rejected: rejected, Recovered: true}, nil
}

// recoveries counts the messages the sweeper sent again for round seq,
// and says when it sent the last.
func recoveries(rec *lead.Record, seq int) (n int, last time.Time) {
	for _, e := range rec.Events {
		if e.Type == lead.EventRecovered && roundOf(e) == seq {
			n++
			if e.At.After(last) {
				last = e.At
			}
		}
	}
	return n, last
}

func roundOf(e lead.Event) int {
	switch v := e.Data["round"].(type) {
	case int:
		return v
	case float64:
		return int(v)
	case int64:
		return int(v)
	}
	return -1
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
