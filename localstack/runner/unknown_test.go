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

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/queue"
)

// silentBuyer reads each post in full and then says nothing until the
// client gives up, for the first `silent` posts of each webhook-id; later
// posts of the same webhook-id get 409 {"status":"duplicate"}: it took the
// lead the first time.
type silentBuyer struct {
	srv    *httptest.Server
	mu     sync.Mutex
	silent int
	ids    []string // the webhook-id of each post, in order
}

func newSilentBuyer(t *testing.T, silent int) *silentBuyer {
	b := &silentBuyer{silent: silent}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		id := r.Header.Get("webhook-id")
		b.mu.Lock()
		seen := 0
		for _, x := range b.ids {
			if x == id {
				seen++
			}
		}
		b.ids = append(b.ids, id)
		b.mu.Unlock()
		if seen < b.silent {
			select {
			case <-r.Context().Done(): // the client timed out and hung up
			case <-time.After(5 * time.Second):
			}
			return
		}
		w.WriteHeader(http.StatusConflict)
		fmt.Fprint(w, `{"status":"duplicate"}`)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *silentBuyer) posts() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.ids...)
}

// unknownYAML: a waterfall of first (a short timeout, a duplicate rule)
// and second.
func unknownYAML(firstURL string, attempts int, secondURL string) string {
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
    delivery:
      type: webhook
      url: %q
      timeout: 300ms
      max_attempts: %d
      response:
        duplicate: [{json: status, equals: duplicate}]
    orders:
      - {campaign: auto, price: 30.00, priority: 1}
  - id: second
    delivery: {type: webhook, url: %q, timeout: 2s}
    orders:
      - {campaign: auto, price: 20.00, priority: 2}
`, sourceHash, firstURL, attempts, secondURL)
}

func eventsOf(evs []map[string]any, typ string) []map[string]any {
	var out []map[string]any
	for _, ev := range evs {
		if ev["type"] == typ {
			out = append(out, ev)
		}
	}
	return out
}

// A buyer that took the lead and whose answer was lost answers the retry
// (the same webhook-id) as a duplicate: the lead is sold to it, never to
// the next buyer.
func TestUnknownOutcomeThenDuplicateSellsToTheSameBuyer(t *testing.T) {
	first := newSilentBuyer(t, 1)
	second := newScriptedBuyer(t, 200)
	e := start(t, unknownYAML(first.srv.URL, 3, second.srv.URL), fastRetries)
	id := e.post(map[string]any{"phone": phone(60), "state": "CA"}, nil).Body["lead_id"].(string)
	if st := e.waitStatus(id); st != "sold" {
		t.Fatalf("status %s, want sold", st)
	}
	rec, err := e.r.App.Store.GetLead(context.Background(), id, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Sales) != 1 || rec.Sales[0].Buyer != "first" {
		t.Fatalf("sales %+v, want one to first", rec.Sales)
	}
	posts := first.posts()
	if len(posts) != 2 || posts[0] != posts[1] || !strings.HasPrefix(posts[0], id+".") {
		t.Fatalf("first got webhook-ids %q; want the same one twice", posts)
	}
	if n := second.count(); n != 0 {
		t.Fatalf("second got %d posts; want none", n)
	}
	evs := e.timeline(id)
	if got := eventTypes(evs); got != "received,routed,attempt,attempt,accepted" {
		t.Fatalf("timeline: %s", got)
	}
	attempts := eventsOf(evs, lead.EventAttempt)
	d0, d1 := attempts[0]["data"].(map[string]any), attempts[1]["data"].(map[string]any)
	if d0["unknown"] != true || d0["reason"] != "timeout" || d0["outcome"] != "transient" {
		t.Fatalf("attempt 1: %v", attempts[0])
	}
	if d1["unknown"] != nil || d1["reason"] != "duplicate" || d1["outcome"] != "accepted" || d1["status"] != 409.0 {
		t.Fatalf("attempt 2: %v", attempts[1])
	}
	acc := findEvent(evs, lead.EventAccepted)
	if acc["buyer"] != "first" || !strings.Contains(acc["detail"].(string), "duplicate") {
		t.Fatalf("accepted: %v", acc)
	}
	if n := len(e.receive(e.r.Queues.DeliveryDLQ)); n != 0 {
		t.Fatalf("%d messages in the delivery DLQ, want 0", n)
	}
}

// A buyer that never answers: after its attempts the lead is held for it
// (routing, assigned to it, caps kept), in the delivery DLQ for an
// operator, and never offered to the next buyer.
func TestUnknownOutcomeHoldsTheLeadForTheSameBuyer(t *testing.T) {
	first := newSilentBuyer(t, 1000)
	second := newScriptedBuyer(t, 200)
	e := start(t, unknownYAML(first.srv.URL, 2, second.srv.URL), fastRetries)
	id := e.post(map[string]any{"phone": phone(61), "state": "CA"}, nil).Body["lead_id"].(string)

	var evs []map[string]any
	deadline := time.Now().Add(20 * time.Second)
	for findEvent(evs, "held") == nil {
		if time.Now().After(deadline) {
			t.Fatalf("no held event; timeline %s", eventTypes(evs))
		}
		time.Sleep(200 * time.Millisecond)
		evs = e.timeline(id)
	}
	// Held, not released: the lead is still offered to the first buyer
	// (a release would have written the next round before the hold).
	if rec, err := e.r.App.Store.GetLead(context.Background(), id, true); err != nil || rec.Status != lead.Routing ||
		rec.Assignment == nil || rec.Assignment.Buyer != "first" || rec.Seq != 1 {
		t.Fatalf("held lead: %+v %v", rec, err)
	}
	evs = e.timeline(id)
	if got := eventTypes(evs); got != "received,routed,attempt,attempt,held" {
		t.Fatalf("timeline: %s", got)
	}
	for i, ev := range eventsOf(evs, lead.EventAttempt) {
		if d := ev["data"].(map[string]any); d["unknown"] != true || ev["buyer"] != "first" {
			t.Fatalf("attempt %d: %v", i+1, ev)
		}
	}
	if h := findEvent(evs, "held"); h["buyer"] != "first" || !strings.Contains(h["detail"].(string), "held for first") {
		t.Fatalf("held: %v", h)
	}
	if n := second.count(); n != 0 {
		t.Fatalf("second got %d posts; want none", n)
	}
	if posts := first.posts(); len(posts) != 2 || posts[0] != posts[1] {
		t.Fatalf("first got webhook-ids %q; want the same one twice", posts)
	}
	got := e.do("GET", "/v1/leads/"+id, "", "", map[string]string{"X-API-Key": sourceKey})
	if got.Body["status"] != "routing" {
		t.Fatalf("source view: %v", got.Body)
	}
	rec, err := e.r.App.Store.GetLead(context.Background(), id, true)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != lead.Routing || rec.Assignment == nil || rec.Assignment.Buyer != "first" || len(rec.Sales) != 0 {
		t.Fatalf("lead: status %s, assignment %+v, sales %+v", rec.Status, rec.Assignment, rec.Sales)
	}

	// The job is in the delivery DLQ, with its reason.
	out, err := e.r.App.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(e.r.Queues.DeliveryDLQ), MaxNumberOfMessages: 10, VisibilityTimeout: 60,
		MessageAttributeNames: []string{"All"}, WaitTimeSeconds: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 1 {
		t.Fatalf("%d messages in the delivery DLQ, want 1", len(out.Messages))
	}
	msg := out.Messages[0]
	var m queue.Deliver
	if err := json.Unmarshal([]byte(aws.ToString(msg.Body)), &m); err != nil || m.Lead.ID != id || m.Assignment.Buyer != "first" || m.Seq != rec.Seq {
		t.Fatalf("dead letter: %v %+v", err, m)
	}
	if r := aws.ToString(msg.MessageAttributes["reason"].StringValue); !strings.HasPrefix(r, "outcome_unknown:") {
		t.Fatalf("dead letter reason %q", r)
	}
}
