package auction

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/money"
)

// fake answers pings from a table keyed by order id.
type fake struct {
	answers map[string]func(ctx context.Context) (Answer, error)
	bodies  atomic.Value
}

func (f *fake) Ping(ctx context.Context, b Bidder, body []byte) (Answer, error) {
	f.bodies.Store(string(body))
	return f.answers[b.Ref.Order.ID](ctx)
}

func bid(p money.Amount, id string) func(context.Context) (Answer, error) {
	return func(context.Context) (Answer, error) { return Answer{Price: p, BidID: id}, nil }
}

func hang(ctx context.Context) (Answer, error) {
	<-ctx.Done()
	time.Sleep(20 * time.Millisecond) // answers after the deadline
	return Answer{Price: 99999, BidID: "late"}, nil
}

func bidders(orders ...config.Order) []Bidder {
	out := make([]Bidder, len(orders))
	for i := range orders {
		o := orders[i]
		if o.BidAdjustment == 0 {
			o.BidAdjustment = 1
		}
		if o.Priority == 0 {
			o.Priority = 1
		}
		out[i] = Bidder{Ref: config.OrderRef{Buyer: &config.Buyer{ID: "buyer-" + o.ID}, Order: &o}}
	}
	return out
}

func TestAuctionRanksAndExplains(t *testing.T) {
	f := &fake{answers: map[string]func(context.Context) (Answer, error){
		"high":     bid(3000, "h-1"),
		"mid":      bid(2000, "m-1"),
		"low":      bid(400, "l-1"), // under the floor
		"min":      bid(1500, "x"),  // under its own min_bid
		"slow":     hang,
		"broken":   func(context.Context) (Answer, error) { return Answer{}, errors.New("connection refused") },
		"nobid":    func(context.Context) (Answer, error) { return Answer{NoBid: "status 500"}, nil },
		"adjusted": bid(3200, "a-1"), // 3200 × 0.5 ranks under 2000
	}}
	req := Request{
		PingID: "p1", Campaign: "c", Fields: map[string]any{"state": "CA"}, Timeout: 200 * time.Millisecond, Floor: 500,
		Bidders: bidders(
			config.Order{ID: "high", PingURL: "x"}, config.Order{ID: "mid", PingURL: "x"},
			config.Order{ID: "low", PingURL: "x"}, config.Order{ID: "min", PingURL: "x", MinBid: 1600},
			config.Order{ID: "slow", PingURL: "x"}, config.Order{ID: "broken", PingURL: "x"},
			config.Order{ID: "nobid", PingURL: "x"}, config.Order{ID: "adjusted", PingURL: "x", BidAdjustment: 0.5},
			config.Order{ID: "fixed", Price: 2500},
		),
	}
	res := Run(context.Background(), f, req)
	var order []string
	for _, b := range res.Ranked {
		order = append(order, fmt.Sprintf("%s:%s", b.Order, b.Price))
	}
	if got := strings.Join(order, " "); got != "high:30.00 fixed:25.00 mid:20.00 adjusted:32.00" {
		t.Fatalf("ranking: %s", got)
	}
	outcomes := map[string]string{}
	for _, b := range res.Bids {
		outcomes[b.Order] = b.Outcome
	}
	want := map[string]string{"high": OutcomeBid, "mid": OutcomeBid, "low": OutcomeBelowFloor, "min": OutcomeBelowMin,
		"slow": OutcomeTimeout, "broken": OutcomeError, "nobid": OutcomeNoBid, "adjusted": OutcomeBid, "fixed": OutcomeFixed}
	for k, v := range want {
		if outcomes[k] != v {
			t.Errorf("%s: %s, want %s", k, outcomes[k], v)
		}
	}
	if res.Bids[0].Rank != 1 || res.Ranked[0].BidID != "h-1" {
		t.Fatalf("winner: %+v", res.Ranked[0])
	}
	// The auction ended at its deadline, not when the slow bidder answered:
	// the late bid of 999.99 is nowhere.
	for _, b := range res.Bids {
		if b.BidID == "late" {
			t.Fatal("a late bid changed the result")
		}
	}
}

func TestTiesBreakByPriorityThenFairly(t *testing.T) {
	f := &fake{answers: map[string]func(context.Context) (Answer, error){"a": bid(1000, ""), "b": bid(1000, ""), "c": bid(1000, "")}}
	req := Request{Timeout: time.Second, Bidders: bidders(config.Order{ID: "a", PingURL: "x", Priority: 2}, config.Order{ID: "b", PingURL: "x", Priority: 1}, config.Order{ID: "c", PingURL: "x", Priority: 2})}
	firsts := map[string]int{}
	for i := 0; i < 200; i++ {
		req.PingID = fmt.Sprint("lead-", i)
		res := Run(context.Background(), f, req)
		if res.Ranked[0].Order != "b" {
			t.Fatalf("priority 1 should win a tie: %+v", res.Ranked)
		}
		firsts[res.Ranked[1].Order]++
	}
	if firsts["a"] < 60 || firsts["c"] < 60 {
		t.Fatalf("equal bids of equal priority should share second place fairly: %v", firsts)
	}
}

func TestNonPII(t *testing.T) {
	c := &config.Campaign{Fields: map[string]config.Field{"phone": {Type: "phone", PII: true}, "state": {Type: "us_state"}}}
	got := NonPII(c, map[string]any{"phone": "+14158927310", "state": "CA", "notes": "passthrough"})
	if len(got) != 1 || got["state"] != "CA" {
		t.Fatalf("non-PII fields: %v", got)
	}
}

// BenchmarkAuction50 is one auction with 50 in-process bidders answering
// at once: what the auction itself costs over the slowest bidder.
func BenchmarkAuction50(b *testing.B) {
	answers := map[string]func(context.Context) (Answer, error){}
	var orders []config.Order
	for i := 0; i < 50; i++ {
		id := fmt.Sprint("o", i)
		answers[id] = bid(money.Amount(1000+i*7), "b")
		orders = append(orders, config.Order{ID: id, PingURL: "x"})
	}
	f := &fake{answers: answers}
	req := Request{PingID: "p", Campaign: "c", Fields: map[string]any{"state": "CA", "zip": "94103", "age": 34}, Timeout: time.Second, Bidders: bidders(orders...)}
	b.ReportAllocs()
	for b.Loop() {
		if res := Run(context.Background(), f, req); len(res.Ranked) != 50 {
			b.Fatal(len(res.Ranked))
		}
	}
}

// A lead's score goes with the ping, and an order's score_adjustments
// weigh its bid by the score: the highest min_score reached applies.
func TestScoreAdjustsRanking(t *testing.T) {
	f := &fake{answers: map[string]func(context.Context) (Answer, error){
		"quality": bid(2000, "q"), "volume": bid(2400, "v"),
	}}
	quality := config.Order{ID: "quality", PingURL: "x", ScoreAdjustments: []config.ScoreAdjustment{{MinScore: 60, Factor: 1.1}, {MinScore: 80, Factor: 1.5}}}
	volume := config.Order{ID: "volume", PingURL: "x"}
	for _, tc := range []struct {
		score *int
		want  string
	}{{nil, "volume"}, {ptr(59), "volume"}, {ptr(70), "volume"}, {ptr(80), "quality"}, {ptr(99), "quality"}} {
		res := Run(context.Background(), f, Request{PingID: "p", Campaign: "c", Fields: map[string]any{}, Score: tc.score,
			Bidders: bidders(quality, volume), Timeout: time.Second})
		if len(res.Ranked) != 2 || res.Ranked[0].Order != tc.want {
			t.Errorf("score %v: ranked %+v, want %s first", tc.score, res.Ranked, tc.want)
		}
		body, _ := f.bodies.Load().(string)
		if tc.score != nil && !strings.Contains(body, fmt.Sprintf(`"score":%d`, *tc.score)) {
			t.Errorf("ping body %s: no score", body)
		}
		if tc.score == nil && strings.Contains(body, "score") {
			t.Errorf("ping body %s: a score for an unscored lead", body)
		}
	}
	o := quality
	o.BidAdjustment = 0.9
	if got := Adjustment(&o, ptr(10)); got != 0.9 {
		t.Errorf("under every min_score: %v, want the bid_adjustment", got)
	}
}

func ptr(n int) *int { return &n }
