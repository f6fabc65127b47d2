package router

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/offer"
	"github.com/leadrelay/leadrelay/shared/queue"
	"github.com/leadrelay/leadrelay/shared/routing"
)

// EventTest is the timeline event of a test lead's routing: the decision
// (and the auction, for ping-post) as it would have gone, marked test.
const EventTest = "test"

// routeTest routes a test lead ("test": true) without selling it: the
// decision is made and, for ping_post, the auction runs (or the claimed
// bids are used), both recorded in the timeline marked test, and the lead
// ends with status test. No cap is reserved, no buyer is posted to,
// nothing reaches the ledger (Store.Finish skips test leads).
func (h *Handler) routeTest(ctx context.Context, log *slog.Logger, m queue.Route, in routing.Input, redelivered bool, rec *lead.Record) error {
	dec := routing.Decide(in)
	cands := offers(dec.Candidates)
	var evs []lead.Event
	if in.Campaign.Distribution == config.PingPost {
		var ev *lead.Event
		cands, _, ev = h.auction(ctx, log, m, in, dec.Candidates)
		if ev != nil {
			ev.Data["test"] = true
			evs = append(evs, *ev)
		}
	}
	data := offer.ExplainData(dec.Explain)
	data["test"] = true
	detail := "test lead: " + noBuyerDetail(lead.Unsold, dec.Explain) + "; nothing sold"
	if len(cands) > 0 {
		c := cands[0]
		data["would_offer"] = c.Ref.Key()
		data["price"] = c.Price.Decimal()
		if c.Payout > 0 {
			data["payout"] = c.Payout.Decimal()
		}
		detail = fmt.Sprintf("test lead: would be offered to %s at %s; nothing sold", c.Ref.Key(), c.Price)
	}
	evs = append(evs, lead.Event{At: in.Now, Type: EventTest, Detail: detail, Data: data})
	return h.finish(ctx, log, m, redelivered, lead.TestLead, evs, rec)
}
