// Package auction runs a ping-post auction: every eligible order is asked
// for a bid at once (ping-URL orders through a Pinger — package pinger
// asks them over HTTP —, fixed-price orders bid their price), under one
// deadline, and the valid bids are ranked. The router uses it for
// ping_post campaigns; the seller-facing ping endpoint uses it too. The
// package makes no request itself: it is the auction's rules.
//
// Only the campaign's non-PII fields are ever sent in a ping. A bid that
// arrives after the deadline never changes the result: the auction stops
// listening at the deadline and answers with what it has.
package auction

import (
	"context"
	"hash/fnv"
	"slices"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/money"
)

// Outcomes of one bidder.
const (
	OutcomeBid        = "bid"         // a valid bid over HTTP
	OutcomeFixed      = "fixed"       // a fixed-price order: its price is its bid
	OutcomeNoBid      = "no_bid"      // answered without a positive bid, or non-2xx
	OutcomeBelowFloor = "below_floor" // under the campaign's floor
	OutcomeBelowMin   = "below_min"   // under the order's own min_bid
	OutcomeTimeout    = "timeout"     // no answer by the deadline
	OutcomeError      = "error"       // connection error, bad body
)

// Bidder is one eligible order.
type Bidder struct {
	Ref config.OrderRef
}

// Request is one auction.
type Request struct {
	PingID   string
	Campaign string
	// Fields are the lead's non-PII fields (NonPII filters them).
	Fields map[string]any
	// Score is the lead's score (0-100), sent with the ping and read by
	// the orders' score_adjustments; nil: not scored.
	Score   *int
	Bidders []Bidder
	Timeout time.Duration
	Floor   money.Amount
}

// Bid is one bidder's answer, kept whole for the audit.
type Bid struct {
	Buyer     string       `json:"buyer"`
	Order     string       `json:"order"`
	Price     money.Amount `json:"price"`
	BidID     string       `json:"bid_id,omitempty"`
	Outcome   string       `json:"outcome"`
	Detail    string       `json:"detail,omitempty"`
	LatencyMS int64        `json:"latency_ms"`
	Rank      int          `json:"rank,omitempty"`
	// Payout is the seller price quoted for this bid to a seller who
	// pinged (POST /v1/pings); 0 for the router's own auctions.
	Payout money.Amount `json:"payout,omitempty"`
}

// Key is the bid's order key, "buyer/order".
func (b Bid) Key() string { return config.OrderKey(b.Buyer, b.Order) }

// Valid reports whether the bid takes part in the ranking.
func (b Bid) Valid() bool { return b.Outcome == OutcomeBid || b.Outcome == OutcomeFixed }

// Result is a finished auction.
type Result struct {
	PingID string `json:"ping_id"`
	// Bids holds every bidder's answer, in bidder order.
	Bids []Bid `json:"bids"`
	// Ranked holds the valid bids, best first.
	Ranked   []Bid        `json:"-"`
	Floor    money.Amount `json:"floor"`
	Duration time.Duration
}

// Answer is what a ping brought back.
type Answer struct {
	Price money.Amount
	BidID string
	// NoBid explains an answer that is not a bid ("status 500", "bid 0").
	NoBid string
}

// Pinger asks one ping URL for a bid. It must honour ctx's deadline.
type Pinger interface {
	Ping(ctx context.Context, b Bidder, body []byte) (Answer, error)
}

// Run pings every bidder at once and ranks the bids. It returns by the
// deadline whatever the bidders do.
func Run(ctx context.Context, p Pinger, req Request) Result {
	start := time.Now()
	res := Result{PingID: req.PingID, Bids: make([]Bid, len(req.Bidders)), Floor: req.Floor}
	body := pingBody(req)
	ctx, cancel := context.WithTimeout(ctx, req.Timeout)
	defer cancel()

	type answer struct {
		i   int
		bid Bid
	}
	answers := make(chan answer, len(req.Bidders))
	pending := 0
	for i, b := range req.Bidders {
		bid := Bid{Buyer: b.Ref.Buyer.ID, Order: b.Ref.Order.ID}
		if b.Ref.Order.PingURL == "" {
			bid.Price, bid.Outcome = b.Ref.Order.Price, OutcomeFixed
			res.Bids[i] = bid
			continue
		}
		bid.Outcome, bid.Detail = OutcomeTimeout, "no answer by the auction's deadline"
		res.Bids[i] = bid
		pending++
		go func() {
			t0 := time.Now()
			a, err := p.Ping(ctx, b, body)
			bid := bid
			bid.LatencyMS = time.Since(t0).Milliseconds()
			switch {
			case err != nil && ctx.Err() != nil:
				bid.Outcome, bid.Detail = OutcomeTimeout, "no answer by the auction's deadline"
			case err != nil:
				bid.Outcome, bid.Detail = OutcomeError, err.Error()
			case a.NoBid != "":
				bid.Outcome, bid.Detail = OutcomeNoBid, a.NoBid
			default:
				bid.Outcome, bid.Price, bid.BidID = OutcomeBid, a.Price, a.BidID
			}
			answers <- answer{i, bid}
		}()
	}
	for pending > 0 {
		select {
		case a := <-answers:
			res.Bids[a.i] = a.bid
			pending--
		case <-ctx.Done():
			// Late answers land in the buffered channel and are ignored.
			pending = 0
		}
	}
	for i := range res.Bids {
		b := &res.Bids[i]
		if b.Outcome == OutcomeTimeout {
			b.LatencyMS = req.Timeout.Milliseconds()
		}
		if !b.Valid() {
			continue
		}
		o := req.Bidders[i].Ref.Order
		switch {
		case b.Price < req.Floor:
			b.Outcome, b.Detail = OutcomeBelowFloor, "under the campaign's floor of "+req.Floor.String()
		case b.Price < o.MinBid:
			b.Outcome, b.Detail = OutcomeBelowMin, "under the order's min_bid of "+o.MinBid.String()
		}
	}
	res.Ranked = rank(req, res.Bids)
	for r, b := range res.Ranked {
		for i := range res.Bids {
			if res.Bids[i].Key() == b.Key() {
				res.Bids[i].Rank = r + 1
				res.Ranked[r].Rank = r + 1
			}
		}
	}
	res.Duration = time.Since(start)
	return res
}

// Adjustment is what an order's bids are multiplied by for ranking: the
// factor of its score_adjustments entry with the highest min_score the
// lead's score reaches, else its bid_adjustment.
func Adjustment(o *config.Order, score *int) float64 {
	f, best := o.BidAdjustment, -1
	if score != nil {
		for _, a := range o.ScoreAdjustments {
			if *score >= a.MinScore && a.MinScore > best {
				f, best = a.Factor, a.MinScore
			}
		}
	}
	return f
}

// rank orders the valid bids: the highest adjusted bid first (bid ×
// Adjustment: the order's bid_adjustment, or its score_adjustments), then
// the lower priority number, then a fair tie-break that differs from lead
// to lead.
func rank(req Request, bids []Bid) []Bid {
	type entry struct {
		bid      Bid
		adjusted money.Amount
		priority int
		tie      uint64
	}
	var es []entry
	for i, b := range bids {
		if !b.Valid() {
			continue
		}
		o := req.Bidders[i].Ref.Order
		h := fnv.New64a()
		h.Write([]byte(req.PingID + "|" + b.Key()))
		es = append(es, entry{bid: b, adjusted: b.Price.Percent(Adjustment(o, req.Score) * 100), priority: o.Priority, tie: h.Sum64()})
	}
	slices.SortStableFunc(es, func(a, b entry) int {
		switch {
		case a.adjusted != b.adjusted:
			if a.adjusted > b.adjusted {
				return -1
			}
			return 1
		case a.priority != b.priority:
			return a.priority - b.priority
		case a.tie < b.tie:
			return -1
		case a.tie > b.tie:
			return 1
		}
		return 0
	})
	out := make([]Bid, len(es))
	for i, e := range es {
		out[i] = e.bid
	}
	return out
}

// NonPII returns the lead's fields a ping may carry: those the campaign
// declares and does not mark pii. Undeclared pass-through fields are
// never sent.
func NonPII(c *config.Campaign, fields map[string]any) map[string]any {
	out := make(map[string]any, len(fields))
	for k, v := range fields {
		if f, ok := c.Fields[k]; ok && !f.PII {
			out[k] = v
		}
	}
	return out
}
