package ping

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/auction"
	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/money"
	"github.com/leadrelay/leadrelay/shared/pingtoken"
	"github.com/leadrelay/leadrelay/shared/ratelimit"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

func TestSellerPriceRounding(t *testing.T) {
	for _, c := range []struct {
		m    config.Margin
		bid  money.Amount
		want money.Amount
	}{
		{config.Margin{Percent: 20}, 1005, 804},   // margin 2.01
		{config.Margin{Percent: 12.5}, 1001, 876}, // margin 1.25125 → 1.25
		{config.Margin{Percent: 15}, 1003, 853},   // margin 1.5045 → 1.50
		{config.Margin{Percent: 50}, 1, 0},        // margin 0.005 → 0.01
		{config.Margin{Fixed: 250}, 3000, 2750},
		{config.Margin{Fixed: 250}, 200, 0}, // never negative
		{config.Margin{}, 1234, 1234},
	} {
		if got := c.m.SellerPrice(c.bid); got != c.want {
			t.Errorf("%+v of %s: %s, want %s", c.m, c.bid, got, c.want)
		}
	}
}

func TestBudget(t *testing.T) {
	for in, want := range map[time.Duration]time.Duration{
		time.Second: 900 * time.Millisecond, 400 * time.Millisecond: 360 * time.Millisecond,
		100 * time.Millisecond: 80 * time.Millisecond, 50 * time.Millisecond: 30 * time.Millisecond,
	} {
		if got := Budget(in); got != want {
			t.Errorf("Budget(%s) = %s, want %s", in, got, want)
		}
	}
}

const benchYAML = `
campaigns:
  - id: home
    fields:
      phone: {type: phone, required: true, pii: true}
      state: {type: us_state, required: true}
      zip:   {type: zip}
      age:   {type: integer}
    distribution: ping_post
    max_sales: 3
    ping: {timeout: 500ms, margin: {percent: 20}}
sources:
  - id: src
    campaigns: [home]
    api_key_sha256: "1855dc05b1f481bcb91a6a2df592d1719cdc0b9f2e8a1a2e49d06bc8b064e155"
    ping_margin: {fixed: 1.00}
buyers:
%s`

func benchConfig(tb testing.TB, n int) *config.Index {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "  - id: b%02d\n    delivery: {type: webhook, url: \"https://b%d.example/post\"}\n    orders:\n      - {campaign: home, ping_url: \"https://b%d.example/ping\", filters: [{field: state, op: in, value: [CA, TX]}]}\n", i, i, i)
	}
	c, err := config.Parse([]byte(fmt.Sprintf(benchYAML, b.String())))
	if err != nil {
		tb.Fatal(err)
	}
	return config.NewIndex(c)
}

type fixedConfigs struct{ ix *config.Index }

func (f fixedConfigs) Get(context.Context) (*config.Index, error) { return f.ix, nil }

// instant bids at once: 10 + the buyer's number.
type instant struct{}

func (instant) Ping(_ context.Context, b auction.Bidder, _ []byte) (auction.Answer, error) {
	var i int
	fmt.Sscanf(b.Ref.Buyer.ID, "b%d", &i)
	return auction.Answer{Price: money.FromUnits(int64(10 + i)), BidID: b.Ref.Buyer.ID}, nil
}

func handler(ix *config.Index, now time.Time) *Handler {
	n := 0
	return &Handler{Configs: fixedConfigs{ix}, Pinger: instant{}, Secret: secret, Now: func() time.Time { return now },
		NewID: func() string { n++; return fmt.Sprintf("p%d", n) }, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
}

func pingReq(body string) httpapi.Request {
	return httpapi.Request{HTTPMethod: "POST", Path: "/v1/pings", Resource: "/v1/pings", Body: body,
		Headers: map[string]string{"Content-Type": "application/json", "X-API-Key": "test-source-key"}}
}

// A shared campaign shows the top max_sales bids of distinct buyers at
// the source's own margin, and the claim checks the pinged fields.
func TestPingAnswerAndClaim(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ix := benchConfig(t, 5)
	h := handler(ix, now)
	resp, _ := h.Handle(context.Background(), pingReq(`{"campaign":"home","fields":{"state":"ca","zip":"94103","age":40}}`))
	var ans struct {
		PingID     string `json:"ping_id"`
		ExpiresInS int    `json:"expires_in_s"`
		Bids       []struct {
			BidID string  `json:"bid_id"`
			Price float64 `json:"price"`
		} `json:"bids"`
	}
	json.Unmarshal([]byte(resp.Body), &ans)
	if resp.StatusCode != http.StatusOK || len(ans.Bids) != 3 || ans.Bids[0].Price != 14 || ans.Bids[2].Price != 12 || ans.ExpiresInS != 30 {
		t.Fatalf("answer: %d %s", resp.StatusCode, resp.Body)
	}
	camp := ix.Campaign("home")
	in := pingtoken.ClaimInput{Token: ans.PingID, Campaign: camp, Source: "src", Now: now.Add(time.Second),
		Fields: map[string]any{"phone": "+14158927301", "state": "CA", "zip": "94103", "age": int64(40)},
		BidIDs: []string{ans.Bids[1].BidID}}
	c, cerr := pingtoken.Check(secret, in)
	if cerr != nil || len(c.Bids) != 1 || c.Bids[0].Buyer != "b04" || c.Bids[0].Price != 1400 || c.Bids[0].Payout != 1300 {
		t.Fatalf("claim: %v %+v", cerr, c)
	}
	in.Fields = map[string]any{"phone": "+14158927301", "state": "CA", "age": int64(41)}
	if _, cerr := pingtoken.Check(secret, in); cerr == nil || cerr.Code != pingtoken.CodeMismatch || strings.Join(cerr.Fields, ",") != "age,zip" {
		t.Fatalf("mismatch: %+v", cerr)
	}
	in.Now = now.Add(31 * time.Second)
	if _, cerr := pingtoken.Check(secret, in); cerr == nil || cerr.Code != pingtoken.CodeExpired {
		t.Fatalf("expired: %+v", cerr)
	}
	resp, _ = h.Handle(context.Background(), pingReq(`{"campaign":"home","fields":{"state":"NY"}}`))
	if resp.StatusCode != 200 || !strings.Contains(resp.Body, `"outcome":"no_bid"`) {
		t.Fatalf("no eligible order: %d %s", resp.StatusCode, resp.Body)
	}
	resp, _ = h.Handle(context.Background(), pingReq(`{"campaign":"home","fields":{"phone":"4158927301"}}`))
	if resp.StatusCode != 400 || !strings.Contains(resp.Body, `"field":"phone","code":"pii_not_allowed"`) || strings.Contains(resp.Body, `"field":"state"`) {
		t.Fatalf("PII: %d %s", resp.StatusCode, resp.Body)
	}
}

// BenchmarkPing20 measures the ping handler's own work for 20 eligible
// buyers that bid at once (in-process pinger): validation, decision,
// auction bookkeeping, margins, signing and the JSON answer — the
// overhead over the slowest counted bidder.
func BenchmarkPing20(b *testing.B) {
	h := handler(benchConfig(b, 20), time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	req := pingReq(`{"campaign":"home","fields":{"state":"CA","zip":"94103","age":40}}`)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if resp, _ := h.Handle(ctx, req); resp.StatusCode != 200 {
			b.Fatal(resp.Body)
		}
	}
}

// counting allows the first most requests, then refuses.
type counting struct {
	asked []string
	rates []int
	most  int
}

func (c *counting) Allow(_ context.Context, what string, rate int) (ratelimit.Decision, error) {
	c.asked, c.rates = append(c.asked, what), append(c.rates, rate)
	if len(c.asked) > c.most {
		return ratelimit.Decision{RetryAfter: 2 * time.Second}, nil
	}
	return ratelimit.Decision{Allowed: true}, nil
}

// Every ping of a source counts, an invalid one too, at the source's
// ping rate; over it the answer is 429 and no buyer is pinged.
func TestPingsCountAgainstTheSourcesPingRate(t *testing.T) {
	ix := benchConfig(t, 2)
	ix.Config.RateLimits.Pings = 7 // the agency's default
	h := handler(ix, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	lim := &counting{most: 2}
	h.Limits = lim
	p := &countingPinger{}
	h.Pinger = p
	if r, _ := h.Handle(t.Context(), pingReq(`{"campaign":"home","fields":{"state":"CA"}}`)); r.StatusCode != 200 {
		t.Fatalf("first: %d %s", r.StatusCode, r.Body)
	}
	if r, _ := h.Handle(t.Context(), pingReq(`{"campaign":`)); r.StatusCode != 400 {
		t.Fatalf("invalid: %d", r.StatusCode)
	}
	pinged := p.n.Load()
	r, _ := h.Handle(t.Context(), pingReq(`{"campaign":"home","fields":{"state":"CA"}}`))
	if r.StatusCode != 429 || r.Headers["Retry-After"] != "2" || !strings.Contains(r.Body, `"code":"rate_limited"`) || p.n.Load() != pinged {
		t.Fatalf("over the rate: %d %v %s (%d pings sent)", r.StatusCode, r.Headers, r.Body, p.n.Load()-pinged)
	}
	if strings.Join(lim.asked, ",") != "pings:src,pings:src,pings:src" || lim.rates[0] != 7 {
		t.Fatalf("counted %v at %v", lim.asked, lim.rates)
	}
}

type countingPinger struct{ n atomic.Int32 }

func (c *countingPinger) Ping(ctx context.Context, b auction.Bidder, body []byte) (auction.Answer, error) {
	c.n.Add(1)
	return instant{}.Ping(ctx, b, body)
}
