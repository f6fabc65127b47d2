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

	"github.com/leadrelay/leadrelay/shared/queue"
)

// scriptedBuyer answers its posts with the statuses of its script in
// order, then the last one for ever.
type scriptedBuyer struct {
	srv    *httptest.Server
	mu     sync.Mutex
	script []int
	posts  int
}

func newScriptedBuyer(t *testing.T, script ...int) *scriptedBuyer {
	b := &scriptedBuyer{script: script}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		st := b.script[min(b.posts, len(b.script)-1)]
		b.posts++
		b.mu.Unlock()
		w.WriteHeader(st)
		fmt.Fprint(w, `{"status":"ok"}`)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *scriptedBuyer) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.posts
}

// retryYAML is a campaign with two buyers in a waterfall: first (priority
// 1) and second (priority 2), each with its own attempt limit.
func retryYAML(firstURL string, firstAttempts int, secondURL string, extra string) string {
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
  - id: first
    delivery: {type: webhook, url: %q, timeout: 2s, max_attempts: %d%s}
    orders:
      - {campaign: auto, price: 30.00, priority: 1}
  - id: second
    delivery: {type: webhook, url: %q, timeout: 2s}
    orders:
      - {campaign: auto, price: 20.00, priority: 2}
`, sourceHash, firstURL, firstAttempts, extra, secondURL)
}

// fastRetries makes every backoff the 1 s floor.
func fastRetries(o *Options) { o.DeliveryJitter = func(time.Duration) time.Duration { return 0 } }

// timeline is a lead's events but its score (always the second).
func (e *env) timeline(id string) []map[string]any {
	e.t.Helper()
	adm := e.do("GET", "/v1/admin/leads/"+id, "", "", map[string]string{"Authorization": "Bearer " + adminToken})
	if adm.Status != 200 {
		e.t.Fatalf("admin lead %s: %d %v", id, adm.Status, adm.Body)
	}
	var out []map[string]any
	for i, ev := range adm.Body["events"].([]any) {
		ev := ev.(map[string]any)
		// Every lead is scored as it is received (scoring_test.go checks
		// how): the routing and delivery tests read the rest.
		if i == 1 {
			if ev["type"] != "scored" {
				e.t.Fatalf("lead %s: event 1 is %v, want scored", id, ev["type"])
			}
			continue
		}
		out = append(out, ev)
	}
	return out
}

func eventTypes(evs []map[string]any) string {
	var types []string
	for _, ev := range evs {
		types = append(types, ev["type"].(string))
	}
	return strings.Join(types, ",")
}

func TestTransientFailuresRetriedUntilSold(t *testing.T) {
	first := newScriptedBuyer(t, 503, 503, 200)
	second := newScriptedBuyer(t, 200)
	e := start(t, retryYAML(first.srv.URL, 3, second.srv.URL, ""), fastRetries)
	id := e.post(map[string]any{"phone": phone(40), "state": "CA"}, nil).Body["lead_id"].(string)
	if st := e.waitStatus(id); st != "sold" {
		t.Fatalf("status %s, want sold", st)
	}
	if first.count() != 3 || second.count() != 0 {
		t.Fatalf("posts: first %d (want 3), second %d (want 0)", first.count(), second.count())
	}
	evs := e.timeline(id)
	if got := eventTypes(evs); got != "received,routed,attempt,attempt,attempt,accepted" {
		t.Fatalf("timeline: %s", got)
	}
	for i, ev := range evs[2:5] {
		data := ev["data"].(map[string]any)
		wantStatus, wantOutcome := 503.0, "transient"
		if i == 2 {
			wantStatus, wantOutcome = 200, "accepted"
		}
		if data["attempt"] != float64(i+1) || data["status"] != wantStatus || data["outcome"] != wantOutcome || ev["buyer"] != "first" {
			t.Fatalf("attempt %d: %v", i+1, ev)
		}
	}
	got := e.do("GET", "/v1/leads/"+id, "", "", map[string]string{"X-API-Key": sourceKey})
	if got.Body["payout"] != 4.0 {
		t.Fatalf("source view: %v", got.Body)
	}
	if n := len(e.receive(e.r.Queues.DeliveryDLQ)); n != 0 {
		t.Fatalf("%d messages in the delivery DLQ, want 0", n)
	}
}

func TestGivingUpMovesToNextBuyerAndDeadLetters(t *testing.T) {
	first := newScriptedBuyer(t, 503)
	second := newScriptedBuyer(t, 200)
	e := start(t, retryYAML(first.srv.URL, 2, second.srv.URL, ""), fastRetries)
	id := e.post(map[string]any{"phone": phone(41), "state": "CA"}, nil).Body["lead_id"].(string)
	if st := e.waitStatus(id); st != "sold" {
		t.Fatalf("status %s, want sold", st)
	}
	if first.count() != 2 || second.count() != 1 {
		t.Fatalf("posts: first %d (want 2), second %d (want 1)", first.count(), second.count())
	}
	evs := e.timeline(id)
	if got := eventTypes(evs); got != "received,routed,attempt,failed,routed,attempt,accepted" {
		t.Fatalf("timeline: %s", got)
	}
	if evs[3]["buyer"] != "first" || !strings.Contains(evs[3]["detail"].(string), "gave up after 2 attempts") || evs[6]["buyer"] != "second" {
		t.Fatalf("timeline: %v", evs)
	}
	dead := e.receive(e.r.Queues.DeliveryDLQ)
	if len(dead) != 1 {
		t.Fatalf("%d messages in the delivery DLQ, want 1", len(dead))
	}
	var m queue.Deliver
	if err := json.Unmarshal([]byte(dead[0].Body), &m); err != nil || m.Lead.ID != id || m.Assignment.Buyer != "first" {
		t.Fatalf("dead letter: %v %+v", err, m)
	}
}
