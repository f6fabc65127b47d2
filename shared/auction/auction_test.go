package auction

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/money"
	"github.com/leadrelay/leadrelay/shared/webhook"
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

func TestParseAnswer(t *testing.T) {
	cases := []struct {
		body  string
		rules *config.PingResponse
		price money.Amount
		id    string
		nobid bool
	}{
		{`{"bid": 12.505, "bid_id": "b-7"}`, nil, 1251, "b-7", false},
		{`{"bid": "8"}`, nil, 800, "", false},
		{`{"bid": 0}`, nil, 0, "", true},
		{`{"bid": -3}`, nil, 0, "", true},
		{`{"nope": 1}`, nil, 0, "", true},
		{`{"bid": "cheap"}`, nil, 0, "", true},
		{`{"data": {"offer": {"amount": 31.5, "ref": "r9"}}}`, &config.PingResponse{Bid: &config.Rule{JSON: "data.offer.amount"}, BidID: &config.Rule{JSON: "data.offer.ref"}}, 3150, "r9", false},
		{`<Response><Price>17.25</Price><Id>x1</Id></Response>`, &config.PingResponse{Bid: &config.Rule{XML: "Price"}, BidID: &config.Rule{XML: "Id"}}, 1725, "x1", false},
		{`price=9.99;id=zz`, &config.PingResponse{Bid: &config.Rule{Regex: `price=([0-9.]+)`}, BidID: &config.Rule{Regex: `id=(\w+)`}}, 999, "zz", false},
	}
	for _, c := range cases {
		a := parseAnswer([]byte(c.body), c.rules)
		if (a.NoBid != "") != c.nobid || a.Price != c.price || a.BidID != c.id {
			t.Errorf("%s: %+v", c.body, a)
		}
	}
}

// The HTTP pinger sends only what it is given, with the time left, and
// reads non-2xx as no bid.
func TestHTTPPinger(t *testing.T) {
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Get(HeaderTimeLeft))
		if strings.Contains(r.URL.Path, "down") {
			w.WriteHeader(503)
			return
		}
		fmt.Fprint(w, `{"bid": 21.00, "bid_id": "ok-1"}`)
	}))
	defer srv.Close()
	p := &HTTP{Client: webhook.NewClient(true)}
	res := Run(context.Background(), p, Request{PingID: "p", Timeout: 2 * time.Second,
		Bidders: bidders(config.Order{ID: "up", PingURL: srv.URL + "/up"}, config.Order{ID: "down", PingURL: srv.URL + "/down"})})
	if res.Bids[0].Outcome != OutcomeBid || res.Bids[0].Price != 2100 || res.Bids[1].Outcome != OutcomeNoBid || res.Bids[1].Detail != "status 503" {
		t.Fatalf("bids: %+v", res.Bids)
	}
	if left, _ := got.Load().(string); left == "" || left == "0" {
		t.Fatalf("time left header: %q", left)
	}
	// The SSRF guard refuses private targets outside the local runner.
	res = Run(context.Background(), &HTTP{Client: webhook.NewClient(false)}, Request{PingID: "p", Timeout: 2 * time.Second,
		Bidders: bidders(config.Order{ID: "up", PingURL: srv.URL + "/up"})})
	if res.Bids[0].Outcome != OutcomeError {
		t.Fatalf("private target: %+v", res.Bids[0])
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
