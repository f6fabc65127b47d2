package runner

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
)

func attackerYAML(url string) string {
	return fmt.Sprintf(`
campaigns:
  - id: auto
    strict: true
    fields:
      phone: {type: phone, required: true}
      state: {type: us_state, required: true}
    dedupe: {fields: [phone], window: 24h}
  - id: open
    fields:
      phone: {type: phone, required: true}
sources:
  - id: src
    campaigns: [auto, open]
    api_key_sha256: %[1]q
    payout: {type: fixed, amount: 4.00}
  - id: rival
    campaigns: [auto, open]
    api_key_sha256: %[2]q
    payout: {type: fixed, amount: 4.00}
buyers:
  - id: acme
    api_key_sha256: %[3]q
    delivery: {type: webhook, url: %[5]q, secret: %[6]q}
    orders:
      - {campaign: auto, price: 25.00, return_window: 72h}
      - {campaign: open, price: 25.00, return_window: 72h}
  - id: thief
    api_key_sha256: %[4]q
    delivery: {type: webhook, url: %[5]q, secret: %[6]q}
    orders:
      - {campaign: auto, price: 1.00, priority: 9}
`, sourceHash, config.HashKey("key-rival"), config.HashKey("key-acme"), config.HashKey("key-thief"), url, secret)
}

// An attacker's suite against the local runner: every attempt is answered
// with the right 4xx, and writes nothing.
func TestAttackerIsRefusedAndWritesNothing(t *testing.T) {
	b := newBuyer(t)
	e := start(t, attackerYAML(b.srv.URL), nil)
	sold := e.post(map[string]any{"phone": phone(1), "state": "CA"}, nil).Body["lead_id"].(string)
	if st := e.waitStatus(sold); st != "sold" {
		t.Fatal(st)
	}
	before := e.itemCount()
	expect := func(what string, r response, status int, code string) {
		t.Helper()
		errBody, _ := r.Body["error"].(map[string]any)
		if r.Status != status || errBody["code"] != code {
			t.Errorf("%s: %d %v; want %d %s", what, r.Status, r.Body, status, code)
		}
	}
	withKey := func(key string) map[string]string { return map[string]string{"X-API-Key": key} }
	post := func(body string, headers map[string]string) response {
		h := map[string]string{"X-API-Key": sourceKey}
		for k, v := range headers {
			h[k] = v
		}
		return e.do("POST", "/v1/leads", "application/json", body, h)
	}

	// Another source's lead.
	expect("another source's lead", e.do("GET", "/v1/leads/"+sold, "", "", withKey("key-rival")), http.StatusNotFound, "lead_not_found")
	// Another buyer's return.
	ret := fmt.Sprintf(`{"lead_id":%q,"reason":"fraud"}`, sold)
	expect("another buyer's return", e.do("POST", "/v1/returns", "application/json", ret, withKey("key-thief")), http.StatusNotFound, "lead_not_found")
	// A source's key is no buyer's, and a buyer's no source's.
	expect("a return with a source key", e.do("POST", "/v1/returns", "application/json", ret, withKey(sourceKey)), http.StatusUnauthorized, "unauthorized")
	expect("a lead with a buyer key", post(`{"campaign":"auto","fields":{"phone":"+14158927390","state":"CA"}}`, withKey("key-acme")), http.StatusUnauthorized, "unauthorized")

	// Mass assignment: what the platform decides is not the source's to set.
	for _, prop := range []string{`"status":"sold"`, `"payout":100`, `"score":99`, `"source":"rival"`, `"lead_id":"x"`, `"seq":5`} {
		r := post(`{"campaign":"auto",`+prop+`,"fields":{"phone":"+14158927391","state":"CA"}}`, nil)
		expect("envelope "+prop, r, http.StatusBadRequest, "validation_failed")
	}
	for _, field := range []string{`"status":"sold"`, `"payout":100`, `"score":99`, `"source":"rival"`} {
		r := post(`{"campaign":"auto","fields":{"phone":"+14158927392","state":"CA",`+field+`}}`, nil)
		expect("strict campaign field "+field, r, http.StatusBadRequest, "validation_failed")
	}

	// Keys: none, wrong, revoked (rotated away).
	expect("no key", e.do("POST", "/v1/leads", "application/json", `{"campaign":"auto","fields":{}}`, nil), http.StatusUnauthorized, "unauthorized")
	expect("wrong key", post(`{"campaign":"auto","fields":{}}`, withKey("not-a-key")), http.StatusUnauthorized, "unauthorized")

	// Oversized and deeply nested bodies.
	big := `{"campaign":"auto","fields":{"phone":"+14158927393","state":"CA","x":"` + strings.Repeat("a", 70<<10) + `"}}`
	expect("oversized", post(big, nil), http.StatusRequestEntityTooLarge, "payload_too_large")
	deep := `{"campaign":"open","fields":{"phone":"+14158927394","x":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}}`
	expect("deeply nested", post(deep, nil), http.StatusBadRequest, "invalid_json")

	// Forged and replayed ping_ids (expiry and tampering: sellerping_test).
	expect("forged ping_id", post(`{"campaign":"auto","ping_id":"eyJmb3JnZWQiOnRydWV9.AAAA","fields":{"phone":"+14158927395","state":"CA"}}`, nil),
		http.StatusUnauthorized, "invalid_ping")

	// The admin API without, or with a wrong, token.
	for _, h := range []map[string]string{nil, {"Authorization": "Bearer wrong"}, {"X-API-Key": sourceKey}} {
		expect("admin config", e.do("PUT", "/v1/admin/config", "application/yaml", "campaigns: []\n", h), http.StatusUnauthorized, "unauthorized")
		expect("admin lead", e.do("GET", "/v1/admin/leads/"+sold, "", "", h), http.StatusUnauthorized, "unauthorized")
	}

	if after := e.itemCount(); after != before {
		t.Fatalf("the refused requests wrote %d item(s)", after-before)
	}

	// A rotated key stops working at once.
	adm := map[string]string{"Authorization": "Bearer " + adminToken}
	if r := e.do("POST", "/v1/admin/sources/rival/keys", "", "", adm); r.Status != http.StatusCreated {
		t.Fatalf("rotate: %d %v", r.Status, r.Body)
	}
	expect("revoked key", e.do("GET", "/v1/leads/"+sold, "", "", withKey("key-rival")), http.StatusUnauthorized, "unauthorized")
}

// rateFlood posts n times at once and counts the answers by status; since
// is when the flood began, windows how many 10 s rate windows it spanned.
func rateFlood(e *env, n int, send func(i int) response) (byStatus map[int]int, windows int, refusal response) {
	start := time.Now()
	byStatus = map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := send(i)
			mu.Lock()
			defer mu.Unlock()
			byStatus[r.Status]++
			if r.Status == http.StatusTooManyRequests {
				refusal = r
			}
		}()
	}
	wg.Wait()
	windows = int(time.Now().Unix()/10-start.Unix()/10) + 1
	return byStatus, windows, refusal
}

// A source flooding leads or pings is held to its own rate: every request
// counts, invalid ones too, the rest get 429 rate_limited with a
// Retry-After, write nothing, and another source goes on unhindered.
func TestFloodIsHeldToTheSourcesRate(t *testing.T) {
	b := newBuyer(t)
	yaml := strings.Replace(attackerYAML(b.srv.URL), "  - id: src\n", "  - id: src\n    rate_limit: 1\n", 1)
	e := start(t, yaml, nil)
	before := e.itemCount()
	const n = 40
	got, windows, refusal := rateFlood(e, n, func(i int) response {
		// Invalid: no state. Counted all the same.
		return e.do("POST", "/v1/leads", "application/json", fmt.Sprintf(`{"campaign":"auto","fields":{"phone":%q}}`, phone(100+i)), map[string]string{"X-API-Key": sourceKey})
	})
	t.Logf("lead flood: %v over %d window(s)", got, windows)
	allowed := 10 * windows // rate 1 a second: 10 a 10 s window
	if got[http.StatusBadRequest] > allowed || got[http.StatusTooManyRequests] < n-allowed || got[http.StatusBadRequest]+got[http.StatusTooManyRequests] != n {
		t.Fatalf("flood over %d window(s): %v; want at most %d answered", windows, got, allowed)
	}
	checkRefusal(t, refusal)
	if after := e.itemCount(); after != before {
		t.Fatalf("the flood wrote %d item(s) besides its rate counts", after-before)
	}
	if r := e.do("POST", "/v1/leads", "application/json", fmt.Sprintf(`{"campaign":"auto","fields":{"phone":%q,"state":"CA"}}`, phone(200)), map[string]string{"X-API-Key": "key-rival"}); r.Status != http.StatusAccepted {
		t.Fatalf("another source: %d %v", r.Status, r.Body)
	}

	// Pings: their own rate, one fan-out each.
	bs := threeBidders(t, false)
	yaml = strings.Replace(sellerYAML(bs.srv.URL, 3), "  - id: src\n", "  - id: src\n    ping_rate_limit: 1\n", 1)
	e = start(t, yaml, nil)
	got, windows, refusal = rateFlood(e, n, func(int) response {
		return e.doJSON("POST", "/v1/pings", map[string]any{"campaign": "home", "fields": map[string]any{"state": "CA"}})
	})
	allowed = 10 * windows
	if got[http.StatusOK] > allowed || got[http.StatusTooManyRequests] < n-allowed || got[http.StatusOK]+got[http.StatusTooManyRequests] != n {
		t.Fatalf("ping flood over %d window(s): %v; want at most %d answered", windows, got, allowed)
	}
	checkRefusal(t, refusal)
	bs.mu.Lock()
	pings := 0
	for _, bodies := range bs.pings {
		pings += len(bodies)
	}
	bs.mu.Unlock()
	if pings > 3*allowed {
		t.Fatalf("the bidders got %d pings for at most %d answered", pings, allowed)
	}
	// Leads are counted apart from pings.
	if r := e.doJSON("POST", "/v1/leads", map[string]any{"campaign": "home", "fields": leadFields(phone(300), "CA", "94105")}); r.Status != http.StatusAccepted {
		t.Fatalf("a lead after the ping flood: %d %v", r.Status, r.Body)
	}
}

func checkRefusal(t *testing.T, r response) {
	t.Helper()
	errBody, _ := r.Body["error"].(map[string]any)
	if errBody["code"] != "rate_limited" {
		t.Fatalf("refusal: %d %v", r.Status, r.Body)
	}
	secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || secs < 1 || secs > 10 {
		t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
	}
}
