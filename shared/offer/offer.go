// Package offer builds the offer of a lead to an eligible order: the
// reservation of its caps, buyer dedupe keys and prepaid price
// (store.Reservation), and the routing explanation kept in the timeline.
// The router offers queued leads with it; the ingest function offers
// inbound calls while the caller waits.
package offer

import (
	"fmt"
	"slices"
	"time"

	"github.com/leadrelay/leadrelay/shared/backoff"
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
