package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/lead"
)

// bidders is a fake population of ping-post buyers on one server:
// /ping/<n> answers a bid, /post/<n> takes the post.
type bidders struct {
	srv   *httptest.Server
	mu    sync.Mutex
	pings map[string][]string // bidder → ping bodies
	posts map[string][]string
	// behaviour
	bid    func(n string) (status int, body string, delay time.Duration)
	accept func(n string) bool
}

func newBidders(t *testing.T, bid func(string) (int, string, time.Duration), accept func(string) bool) *bidders {
	b := &bidders{pings: map[string][]string{}, posts: map[string][]string{}, bid: bid, accept: accept}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		kind, n, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		b.mu.Lock()
		if kind == "ping" {
			b.pings[n] = append(b.pings[n], string(body))
		} else {
			b.posts[n] = append(b.posts[n], string(body))
		}
		b.mu.Unlock()
		if kind == "ping" {
			status, answer, delay := b.bid(n)
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
			w.WriteHeader(status)
			io.WriteString(w, answer)
			return
		}
		if b.accept(n) {
			io.WriteString(w, `{"status":"accepted"}`)
			return
		}
		w.WriteHeader(400)
		io.WriteString(w, `{"status":"rejected"}`)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *bidders) count(m map[string][]string) (n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, v := range m {
		n += len(v)
	}
	return n
}

func pingPostYAML(url string, n int, caps func(i int) string) string {
	var buyers strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&buyers, `
  - id: bidder%02d
    timezone: %q
    delivery: {type: webhook, url: "%s/post/%d", secret: %q, timeout: 2s}
    orders:
      - {campaign: home, ping_url: "%s/ping/%d", priority: 1%s}`, i, noonZone(), url, i, secret, url, i, caps(i))
	}
	return fmt.Sprintf(`
campaigns:
  - id: home
    fields:
      phone: {type: phone, required: true, pii: true}
      email: {type: email, pii: true}
      state: {type: us_state, required: true}
      zip:   {type: zip}
    distribution: ping_post
    ping: {timeout: 400ms, floor: 5.00}
sources:
  - id: src
    campaigns: [home]
    api_key_sha256: %q
    payout: {type: revshare, percent: 50}
buyers:%s
`, sourceHash, buyers.String())
}

// Twenty bidders: slow ones past the deadline, failing ones, one that bids
// highest and then refuses the post. The lead goes to the next best bid
// without a second auction, at that bid; no ping carries PII.
func TestPingPostAuctionCascades(t *testing.T) {
	bs := newBidders(t, func(n string) (int, string, time.Duration) {
		var i int
		fmt.Sscan(n, &i)
		switch {
		case i <= 4: // slow: answer after the deadline with huge bids
			return 200, `{"bid": 500, "bid_id": "late"}`, 3 * time.Second
		case i <= 7:
			return 500, `oops`, 0
		case i == 8:
			return 200, `{"bid": 0}`, 0
		case i == 9:
			return 200, `{"bid": 3.00, "bid_id": "under-floor"}`, 0
		case i == 20: // the high bidder that refuses the post
			return 200, `{"bid": 90.00, "bid_id": "high"}`, 0
		}
		return 200, fmt.Sprintf(`{"bid": %d.25, "bid_id": "bid-%d"}`, 10+i, i), 50 * time.Millisecond
	}, func(n string) bool { return n != "20" })
	e := start(t, pingPostYAML(bs.srv.URL, 20, func(int) string { return "" }), nil)
	r := e.doJSON("POST", "/v1/leads", map[string]any{"campaign": "home", "fields": map[string]any{
		"phone": "4158927301", "email": "secret@example.com", "state": "CA", "zip": "94103"}})
	id := r.Body["lead_id"].(string)
	if st := e.waitStatus(id); st != "sold" {
		t.Fatalf("status %s", st)
	}
	rec, _ := e.r.App.Store.GetLead(context.Background(), id, true)
	// Winner: bidder 19 (29.25) after bidder 20 (90.00) refused.
	if len(rec.Sales) != 1 || rec.Sales[0].Buyer != "bidder19" || rec.Sales[0].Price != 2925 || rec.Sales[0].Payout != 1463 {
		t.Fatalf("sale: %+v", rec.Sales)
	}
	var post map[string]any
	json.Unmarshal([]byte(bs.posts["19"][0]), &post)
	if post["bid_id"] != "bid-19" || post["price"] != 29.25 {
		t.Fatalf("post to the winner: %v", post)
	}
	if len(bs.posts["20"]) != 1 {
		t.Fatalf("the high bidder got %d posts", len(bs.posts["20"]))
	}
	// One auction: every bidder pinged once, the cascade used the bids.
	auctions := 0
	var table []any
	for _, ev := range rec.Events {
		if ev.Type == "auction" {
			auctions++
			table = ev.Data["bids"].([]any)
			if d := ev.Data["duration_ms"].(float64); d >= 3000 {
				t.Fatalf("the auction waited for the slow bidders: %v ms", d)
			}
		}
	}
	if auctions != 1 || len(table) != 20 {
		t.Fatalf("%d auctions, %d rows", auctions, len(table))
	}
	outcomes := map[string]string{}
	for _, row := range table {
		m := row.(map[string]any)
		outcomes[m["order"].(string)] = m["outcome"].(string)
	}
	if outcomes["bidder01/home"] != "timeout" || outcomes["bidder05/home"] != "no_bid" || outcomes["bidder08/home"] != "no_bid" ||
		outcomes["bidder09/home"] != "below_floor" || outcomes["bidder20/home"] != "bid" {
		t.Fatalf("auction table: %v", outcomes)
	}
	bs.mu.Lock()
	defer bs.mu.Unlock()
	for n, bodies := range bs.pings {
		if len(bodies) != 1 {
			t.Errorf("bidder %s pinged %d times", n, len(bodies))
		}
		for _, b := range bodies {
			if strings.Contains(b, "4158927301") || strings.Contains(b, "secret@example.com") || !strings.Contains(b, `"state":"CA"`) {
				t.Fatalf("ping body carries PII or lacks fields: %s", b)
			}
		}
	}
}

// 200 leads into a ping-post campaign whose top bidder has a daily cap:
// the cap holds, no lead is sold twice, every lead ends sold or unsold.
func TestPingPostCapsUnderConcurrency(t *testing.T) {
	bs := newBidders(t, func(n string) (int, string, time.Duration) {
		return 200, fmt.Sprintf(`{"bid": %s.00, "bid_id": "b%s"}`, map[string]string{"1": "40", "2": "30", "3": "20"}[n], n), 0
	}, func(string) bool { return true })
	caps := map[int]string{1: ", caps: {daily: 25}", 2: ", caps: {daily: 40}", 3: ", caps: {daily: 60}"}
	e := start(t, pingPostYAML(bs.srv.URL, 3, func(i int) string { return caps[i] }), func(o *Options) { o.Pollers = 8 })
	recs := e.postManyTo("home", 200, 7000, map[string]any{"state": "TX"})
	got := map[string]int{}
	unsold := 0
	for _, r := range recs {
		switch {
		case r.Status == lead.Sold && len(r.Sales) == 1:
			got[r.Sales[0].Buyer]++
		case r.Status == lead.Unsold && len(r.Sales) == 0:
			unsold++
		default:
			t.Fatalf("lead %s: %s with %d sales", r.ID, r.Status, len(r.Sales))
		}
	}
	if got["bidder01"] != 25 || got["bidder02"] != 40 || got["bidder03"] != 60 || unsold != 75 {
		t.Fatalf("sales %v, unsold %d", got, unsold)
	}
	if n := bs.count(bs.posts); n != 125 {
		t.Fatalf("%d posts for 125 sales", n)
	}
}
