// Package offer builds the offer of a lead to an eligible order: the
// reservation of its caps, buyer dedupe keys and prepaid price
// (store.Reservation), and the routing explanation kept in the timeline.
// The router offers queued leads with it; the ingest function offers
// inbound calls while the caller waits.
package offer

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/leadrelay/leadrelay/shared/backoff"
	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/routing"
	"github.com/leadrelay/leadrelay/shared/store"
)

// MaxExplained bounds the verdicts kept in one timeline event; the rest
// are summarised by reason.
const MaxExplained = 100

// Reservation is the offer of lead l in round seq to candidate c: its
// caps, the buyer's dedupe keys, a prepaid buyer's price, and the routed
// event with the explanation. The router offers leads so, and the ingest function calls
// (ingest/voice.go), with a concurrency slot and a due time of their own.
func Reservation(l *lead.Lead, seq int, c routing.Candidate, explain []routing.Verdict, now time.Time) store.Reservation {
	a := lead.Assignment{Buyer: c.Ref.Buyer.ID, Order: c.Ref.Order.ID, Price: c.Price}
	d := c.Ref.Buyer.Delivery
	r := store.Reservation{LeadID: l.ID, Seq: seq, Status: lead.Routing, Test: l.Test,
		// The sweeper sends the delivery message again only once every
		// attempt the buyer's delivery allows would be over.
		Due: now.Add(backoff.Deadline(d.MaxAttempts, d.Timeout.D()))}
	for _, cs := range c.Caps {
		k := store.CapKey(cs.Scope, cs.Period, cs.Bucket)
		r.Caps = append(r.Caps, store.CapCounter{Key: k, Limit: cs.Limit, Budget: cs.Budget, Price: c.Price, Expires: cs.Ends})
		a.Caps = append(a.Caps, lead.CapHold{Key: k, Amount: c.Price})
	}
	r.BuyerDedupe = store.BuyerDedupeKeys(c.Ref.Buyer.ID, c.Ref.Order.Dedupe, l.Fields)
	if c.Ref.Buyer.Prepaid() && c.Price > 0 && !l.Test {
		// The price comes off the prepaid balance with the caps, and back
		// with them if the buyer refuses the lead.
		r.Balance = &store.BalanceHold{Buyer: c.Ref.Buyer.ID, Amount: c.Price}
		a.Caps = append(a.Caps, lead.CapHold{Key: store.BalanceKey(c.Ref.Buyer.ID), Amount: c.Price})
	}
	r.Assignment = a
	r.Events = []lead.Event{{
		At: now, Type: lead.EventRouted, Buyer: a.Buyer, Order: a.Order,
		Detail: fmt.Sprintf("offered to %s at %s", c.Ref.Key(), c.Price),
		Data:   ExplainData(explain),
	}}
	return r
}

// Mark records in the explanation that an order lost a race for a cap.
func Mark(explain []routing.Verdict, order, reason, detail string) []routing.Verdict {
	out := slices.Clone(explain)
	for i := range out {
		if out[i].Order == order {
			out[i].Eligible, out[i].Reason, out[i].Detail = false, reason, detail
		}
	}
	return out
}

// ExplainData is the routing explanation as a timeline event keeps it:
// every verdict up to MaxExplained, then counts by reason.
func ExplainData(explain []routing.Verdict) map[string]any {
	if len(explain) == 0 {
		return map[string]any{"orders": 0}
	}
	kept := explain
	if len(kept) > MaxExplained {
		kept = kept[:MaxExplained]
	}
	verdicts := make([]any, len(kept))
	for i, v := range kept {
		m := map[string]any{"order": v.Order, "eligible": v.Eligible}
		if v.Reason != "" {
			m["reason"] = v.Reason
		}
		if v.Detail != "" {
			m["detail"] = v.Detail
		}
		if v.Rank > 0 {
			m["rank"] = v.Rank
		}
		verdicts[i] = m
	}
	reasons := map[string]any{}
	for _, v := range explain {
		r := v.Reason
		if v.Eligible {
			r = "eligible"
		}
		n, _ := reasons[r].(int)
		reasons[r] = n + 1
	}
	return map[string]any{"orders": len(explain), "verdicts": verdicts, "by_reason": reasons}
}

// Decide decides the lead's candidates. Rotation counters are read (with
// rotations) only where they decide — round robin, weighted, and ties
// among waterfall priorities —: then in.Rotation holds them and the
// decision is taken again with them; rots is nil when they were not read.
func Decide(ctx context.Context, rotations func(context.Context, string) (map[string]store.Rot, error), in *routing.Input) (dec routing.Decision, rots map[string]store.Rot, err error) {
	method := in.Campaign.Distribution
	dec = routing.Decide(*in)
	if !StrictRotation(method) && !tiedAtTop(dec.Candidates) {
		return dec, nil, nil
	}
	if rots, err = rotations(ctx, in.Campaign.ID); err != nil {
		return routing.Decision{}, nil, err
	}
	in.Rotation = make(map[string]int64, len(rots))
	for k, r := range rots {
		if method == config.RoundRobin {
			in.Rotation[k] = r.Last // least recently served first
		} else {
			in.Rotation[k] = r.N
		}
	}
	return routing.Decide(*in), rots, nil
}

// StrictRotation reports whether a distribution method serves orders in
// turn, so an offer must count on the rotation as it was read.
func StrictRotation(method string) bool {
	return method == config.RoundRobin || method == config.Weighted
}

// Rotation is the rotation an offer to c counts, when the counters were
// read (rots not nil): strict for round robin and weighted, so that the
// reservation fails with store.ErrRotationMoved if another offer moved it.
func Rotation(in routing.Input, c routing.Candidate, rots map[string]store.Rot) *store.Rotation {
	if rots == nil {
		return nil
	}
	return &store.Rotation{Campaign: in.Campaign.ID, Order: c.Ref.Key(), Strict: StrictRotation(in.Campaign.Distribution), N: rots[c.Ref.Key()].N}
}

func tiedAtTop(cs []routing.Candidate) bool {
	return len(cs) > 1 && cs[0].Ref.Order.Priority == cs[1].Ref.Order.Priority
}
