package router

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/leadrelay/leadrelay/shared/auction"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/money"
	"github.com/leadrelay/leadrelay/shared/queue"
	"github.com/leadrelay/leadrelay/shared/routing"
)

// offerCand is a candidate as offered: for ping-post, at its bid.
type offerCand struct {
	routing.Candidate
	BidID string
	// Payout is the seller price quoted for the bid (claimed pings).
	Payout money.Amount
}

func offers(cs []routing.Candidate) []offerCand {
	out := make([]offerCand, len(cs))
	for i, c := range cs {
		out[i] = offerCand{Candidate: c}
	}
	return out
}

// EventAuction is the timeline event of a ping-post auction.
const EventAuction = "auction"

// auction turns a ping_post campaign's eligible orders into offers at
// their bids. Bids still valid from an earlier round are used again (a
// rejected post cascades to the next bid without pinging); otherwise
// every eligible order is pinged at once under the campaign's deadline.
// It returns the offers best first, the bids to carry to the next round,
// and the auction's timeline event (nil when no auction ran).
func (h *Handler) auction(ctx context.Context, log *slog.Logger, m queue.Route, in routing.Input, eligible []routing.Candidate) ([]offerCand, *queue.Bids, *lead.Event) {
	byKey := make(map[string]routing.Candidate, len(eligible))
	for _, c := range eligible {
		byKey[c.Ref.Key()] = c
	}
	bids := m.Bids
	var ev *lead.Event
	if bids == nil || !in.Now.Before(bids.Expires) {
		bidders := make([]auction.Bidder, len(eligible))
		for i, c := range eligible {
			bidders[i] = auction.Bidder{Ref: c.Ref}
		}
		camp := in.Campaign
		res := auction.Run(ctx, h.Pinger, auction.Request{
			PingID:   m.Lead.ID + "." + strconv.Itoa(m.Seq),
			Campaign: camp.ID,
			Fields:   auction.NonPII(camp, m.Lead.Fields),
			Score:    &m.Lead.Score,
			Bidders:  bidders,
			Timeout:  camp.Ping.Timeout.D(),
			Floor:    camp.Ping.Floor,
		})
		bids = &queue.Bids{PingID: res.PingID, Ranked: res.Ranked, Expires: in.Now.Add(camp.Ping.BidTTL.D())}
		detail := fmt.Sprintf("%d of %d orders bid in %d ms", len(res.Ranked), len(bidders), res.Duration.Milliseconds())
		if len(res.Ranked) > 0 {
			w := res.Ranked[0]
			detail += fmt.Sprintf("; best %s at %s", w.Key(), w.Price)
		}
		ev = &lead.Event{At: in.Now, Type: EventAuction, Detail: detail, Data: map[string]any{
			"ping_id": res.PingID, "floor": res.Floor.Decimal(), "duration_ms": res.Duration.Milliseconds(),
			"timeout_ms": camp.Ping.Timeout.D().Milliseconds(), "bids": bidTable(res.Bids),
		}}
		log.InfoContext(ctx, "auction", "ping_id", res.PingID, "bidders", len(bidders), "bids", len(res.Ranked), "duration_ms", res.Duration.Milliseconds())
	}
	var out []offerCand
	for _, b := range bids.Ranked {
		c, ok := byKey[b.Key()] // still eligible: not tried, not bought, not full
		if !ok {
			continue
		}
		c.Price = b.Price
		out = append(out, offerCand{Candidate: c, BidID: b.BidID, Payout: b.Payout})
	}
	return out, bids, ev
}

// bidTable is the auction as the timeline keeps it: one row a bidder.
func bidTable(bids []auction.Bid) []any {
	rows := make([]any, len(bids))
	for i, b := range bids {
		row := map[string]any{"order": b.Key(), "outcome": b.Outcome, "latency_ms": b.LatencyMS}
		if b.Valid() || b.Outcome == auction.OutcomeBelowFloor || b.Outcome == auction.OutcomeBelowMin {
			row["bid"] = b.Price.Decimal()
		}
		if b.BidID != "" {
			row["bid_id"] = b.BidID
		}
		if b.Detail != "" {
			row["detail"] = b.Detail
		}
		if b.Rank > 0 {
			row["rank"] = b.Rank
		}
		rows[i] = row
	}
	return rows
}
