package runner

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// healthYAML is a waterfall over two buyers: broken (priority 1) fails
// every post and opens its breaker after two failures; capped (priority
// 2) takes three leads a day, answering each after a few milliseconds.
func healthYAML(brokenURL, cappedURL string) string {
	return fmt.Sprintf(`
campaigns:
  - id: auto
    fields:
      phone: {type: phone, required: true}
      state: {type: us_state, required: true}
sources:
  - id: src
    campaigns: [auto]
    api_key_sha256: %q
    payout: {type: fixed, amount: 4.00}
buyers:
  - id: broken
    delivery: {type: webhook, url: %q, timeout: 2s, max_attempts: 2, breaker: {failures: 2, cooldown: 600s}}
    orders:
      - {campaign: auto, price: 30.00, priority: 1}
  - id: capped
    timezone: %q
    delivery: {type: webhook, url: %q, timeout: 2s}
    caps: {monthly: 1000}
    orders:
      - {campaign: auto, price: 25.00, priority: 2, caps: {daily: 3, daily_budget: 500}}
`, sourceHash, brokenURL, noonZone(), cappedURL)
}

// slowBuyer accepts every post after a pause, so that its response time
// is some milliseconds even on loopback.
func slowBuyer(t *testing.T, pause time.Duration) (*httptest.Server, *atomic.Int32) {
	var posts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		time.Sleep(pause)
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, `{"status":"ok"}`)
	}))
	t.Cleanup(srv.Close)
	return srv, &posts
}

// GET /v1/admin/buyers/health after real deliveries: the capped order's
// daily cap shows the leads sold in today's bucket, its acceptance and
// response time come from the ledger, and the failing buyer's breaker
// shows open; the answers match docs/openapi.yaml.
func TestBuyersHealth(t *testing.T) {
	broken := newScriptedBuyer(t, http.StatusServiceUnavailable)
	capped, posts := slowBuyer(t, 15*time.Millisecond)
	e := start(t, healthYAML(broken.srv.URL, capped.URL), func(o *Options) {
		fastRetries(o)
		o.ConfigTTL = 300 * time.Millisecond
	})
	router := openAPI(t, e.r.URL)
	adm := map[string]string{"Authorization": "Bearer " + adminToken}

	// Lead 1 fails twice at broken (its breaker opens) and sells to
	// capped; leads 2 and 3 skip broken and sell to capped; lead 4 finds
	// capped's daily cap full.
	var statuses []string
	for i := range 4 {
		id := e.post(map[string]any{"phone": phone(200 + i), "state": "CA"}, nil).Body["lead_id"].(string)
		statuses = append(statuses, e.waitStatus(id))
	}
	if fmt.Sprint(statuses) != "[sold sold sold unsold]" || broken.count() != 2 || posts.Load() != 3 {
		t.Fatalf("leads %v, broken posts %d, capped posts %d", statuses, broken.count(), posts.Load())
	}
	e.settle()

	if code := checked(t, router, "GET", e.r.URL+"/v1/admin/buyers/health", "", adm); code != http.StatusOK {
		t.Fatalf("health: %d", code)
	}
	for _, bad := range []string{"0", "32", "x"} {
		if code := checked(t, router, "GET", e.r.URL+"/v1/admin/buyers/health?days="+bad, "", adm); code != http.StatusBadRequest {
			t.Fatalf("days=%s: %d", bad, code)
		}
	}
	r := e.do("GET", "/v1/admin/buyers/health?days=1", "", "", adm)
	if r.Status != http.StatusOK || r.Body["window_days"] != 1.0 {
		t.Fatalf("health: %d %v", r.Status, r.Body)
	}
	buyers := r.Body["buyers"].([]any)
	if len(buyers) != 2 {
		t.Fatalf("buyers %v", buyers)
	}
	b0, b1 := buyers[0].(map[string]any), buyers[1].(map[string]any)
	if b0["buyer"] != "broken" || b1["buyer"] != "capped" {
		t.Fatalf("buyers out of configuration order: %v, %v", b0["buyer"], b1["buyer"])
	}

	// broken: open, two failures, one offer and no sale; its 503s were
	// answers, so they have a response time.
	br := b0["breaker"].(map[string]any)
	if br["state"] != "open" || br["failures"] != 2.0 || br["open_until"] == nil {
		t.Fatalf("broken's breaker %v", br)
	}
	bo := b0["orders"].([]any)[0].(map[string]any)
	if bo["offered"] != 1.0 || bo["sold"] != 0.0 || bo["acceptance"] != 0.0 || bo["responses"] != 2.0 {
		t.Fatalf("broken's order %v", bo)
	}
	if _, ok := b0["caps"]; ok {
		t.Fatalf("broken has no buyer caps: %v", b0["caps"])
	}

	// capped: closed; its daily cap holds the three leads sold and their
	// money; the buyer's monthly cap too.
	if br := b1["breaker"].(map[string]any); br["state"] != "closed" || br["failures"] != 0.0 {
		t.Fatalf("capped's breaker %v", br)
	}
	today := time.Now().In(mustZone(t, noonZone())).Format(time.DateOnly)
	co := b1["orders"].([]any)[0].(map[string]any)
	caps := co["caps"].([]any)
	want := []string{
		fmt.Sprintf("map[bucket:%s kind:leads limit:3 period:daily used:3]", today),
		fmt.Sprintf("map[bucket:%s kind:budget limit:500 period:daily used:75]", today),
	}
	if len(caps) != 2 || fmt.Sprint(caps[0]) != want[0] || fmt.Sprint(caps[1]) != want[1] {
		t.Fatalf("capped's order caps %v, want %v", caps, want)
	}
	if bc := b1["caps"].([]any); len(bc) != 1 || bc[0].(map[string]any)["used"] != 3.0 || bc[0].(map[string]any)["period"] != "monthly" {
		t.Fatalf("capped's buyer caps %v", bc)
	}
	if co["offered"] != 3.0 || co["sold"] != 3.0 || co["acceptance"] != 1.0 || co["responses"] != 3.0 || co["price"] != 25.0 {
		t.Fatalf("capped's order %v", co)
	}
	if ms, _ := co["avg_response_ms"].(float64); ms < 15 {
		t.Fatalf("capped's response time %v ms, want at least the 15 ms it waits", co["avg_response_ms"])
	}

	// The P&L by order takes the new counters in its stride.
	day := time.Now().Format(time.DateOnly)
	if p := e.do("GET", "/v1/admin/reports/pnl?from="+day+"&to="+day+"&group_by=order", "", "", adm); p.Status != http.StatusOK {
		t.Fatalf("pnl by order: %d %v", p.Status, p.Body)
	}
}
