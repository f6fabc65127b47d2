package pinger

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/auction"
	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/money"
	"github.com/leadrelay/leadrelay/shared/webhook"
)

func bidders(orders ...config.Order) []auction.Bidder {
	out := make([]auction.Bidder, len(orders))
	for i := range orders {
		o := orders[i]
		o.BidAdjustment, o.Priority = 1, 1
		out[i] = auction.Bidder{Ref: config.OrderRef{Buyer: &config.Buyer{ID: "buyer-" + o.ID}, Order: &o}}
	}
	return out
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
	res := auction.Run(context.Background(), p, auction.Request{PingID: "p", Timeout: 2 * time.Second,
		Bidders: bidders(config.Order{ID: "up", PingURL: srv.URL + "/up"}, config.Order{ID: "down", PingURL: srv.URL + "/down"})})
	if res.Bids[0].Outcome != auction.OutcomeBid || res.Bids[0].Price != 2100 || res.Bids[1].Outcome != auction.OutcomeNoBid || res.Bids[1].Detail != "status 503" {
		t.Fatalf("bids: %+v", res.Bids)
	}
	if left, _ := got.Load().(string); left == "" || left == "0" {
		t.Fatalf("time left header: %q", left)
	}
	// The SSRF guard refuses private targets outside the local runner.
	res = auction.Run(context.Background(), &HTTP{Client: webhook.NewClient(false)}, auction.Request{PingID: "p", Timeout: 2 * time.Second,
		Bidders: bidders(config.Order{ID: "up", PingURL: srv.URL + "/up"})})
	if res.Bids[0].Outcome != auction.OutcomeError {
		t.Fatalf("private target: %+v", res.Bids[0])
	}
}
