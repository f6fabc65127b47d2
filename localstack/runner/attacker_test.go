package runner

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

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
