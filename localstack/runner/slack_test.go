package runner

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// A buyer's Slack channel hears of its sales and of its breaker opening;
// a Slack that fails holds nothing up.
func TestSlackNotifications(t *testing.T) {
	var mu sync.Mutex
	var texts []string
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]string
		json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		texts = append(texts, m["text"])
		mu.Unlock()
		w.WriteHeader(500) // a broken Slack must not matter
	}))
	defer slack.Close()
	good := newBuyer(t)
	down := newBuyer(t)
	down.status.Store(503)
	cfg := fmt.Sprintf(`
campaigns:
  - id: c
    fields: {phone: {type: phone, required: true}}
sources:
  - {id: src, campaigns: [c], api_key_sha256: %q}
buyers:
  - id: flaky
    notify: {slack_url: %q}
    delivery: {type: webhook, url: %q, secret: %q, max_attempts: 1, breaker: {failures: 1, cooldown: 1h}}
    orders: [{campaign: c, price: 30.00, priority: 1}]
  - id: steady
    notify: {slack_url: %q}
    delivery: {type: webhook, url: %q, secret: %q}
    orders: [{campaign: c, price: 20.00, priority: 2}]
`, sourceHash, slack.URL, down.srv.URL, secret, slack.URL, good.srv.URL, secret)
	e := start(t, cfg, nil)
	id := e.doJSON("POST", "/v1/leads", map[string]any{"campaign": "c", "fields": map[string]any{"phone": phone(88)}}).Body["lead_id"].(string)
	if st := e.waitStatus(id); st != "sold" {
		t.Fatalf("status %s", st)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		all := strings.Join(texts, "\n")
		mu.Unlock()
		if strings.Contains(all, "deliveries to flaky paused") && strings.Contains(all, "lead "+id+" (c) sold to steady at 20.00") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Slack heard: %s", all)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
