package runner

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// waitDrained waits until a queue holds no message, visible or in flight.
func (e *env) waitDrained(url string) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		out, err := e.r.App.SQS.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
			QueueUrl: aws.String(url),
			AttributeNames: []sqstypes.QueueAttributeName{
				sqstypes.QueueAttributeNameApproximateNumberOfMessages,
				sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
				sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed,
			},
		})
		if err != nil {
			e.t.Fatal(err)
		}
		n := 0
		for _, v := range out.Attributes {
			k, _ := strconv.Atoi(v)
			n += k
		}
		if n == 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	e.t.Fatalf("queue %s not drained in 30s", url)
}

func TestRedriveDeliveryDLQ(t *testing.T) {
	first := newScriptedBuyer(t, 503)
	second := newScriptedBuyer(t, 200)
	e := start(t, retryYAML(first.srv.URL, 2, second.srv.URL, ""), fastRetries)
	admin := map[string]string{"Authorization": "Bearer " + adminToken}
	id := e.post(map[string]any{"phone": phone(50), "state": "TX"}, nil).Body["lead_id"].(string)
	if st := e.waitStatus(id); st != "sold" {
		t.Fatalf("status %s, want sold", st)
	}
	before := eventTypes(e.timeline(id))

	// Bad requests get a 400 naming the field, and move nothing.
	for _, c := range []struct{ body, field string }{
		{`{"queue": "orders"}`, "queue"},
		{`{"max": 5}`, "queue"},
		{`{"queue": "delivery", "max": 0}`, "max"},
		{`{"queue": "delivery", "max": 5000}`, "max"},
	} {
		r := e.do("POST", "/v1/admin/redrive", "application/json", c.body, admin)
		if r.Status != 400 || r.Body["error"].(map[string]any)["code"] != "validation_failed" {
			t.Fatalf("%s: %d %v", c.body, r.Status, r.Body)
		}
		if f := r.Body["error"].(map[string]any)["fields"].([]any)[0].(map[string]any); f["field"] != c.field {
			t.Fatalf("%s: field %v, want %s", c.body, f["field"], c.field)
		}
	}
	if r := e.do("POST", "/v1/admin/redrive", "application/json", `{"queue": "delivery", "extra": 1}`, admin); r.Status != 400 || r.Body["error"].(map[string]any)["code"] != "invalid_body" {
		t.Fatalf("unknown field: %d %v", r.Status, r.Body)
	}
	if r := e.do("POST", "/v1/admin/redrive", "application/json", `{"queue": "delivery"}`, nil); r.Status != 401 {
		t.Fatalf("without the token: %d", r.Status)
	}

	// GET /v1/admin/dlq counts what the redrive will move.
	depth := func(name string) float64 {
		t.Helper()
		r := e.do("GET", "/v1/admin/dlq", "", "", admin)
		if r.Status != 200 {
			t.Fatalf("DLQ depths: %d %v", r.Status, r.Body)
		}
		for _, d := range r.Body["dlqs"].([]any) {
			if d := d.(map[string]any); d["queue"] == name {
				return d["messages"].(float64) + d["in_flight"].(float64)
			}
		}
		t.Fatalf("no %s DLQ in %v", name, r.Body)
		return 0
	}
	if n := depth("delivery"); n != 1 {
		t.Fatalf("delivery DLQ depth %v, want 1", n)
	}

	r := e.do("POST", "/v1/admin/redrive", "application/json", `{"queue": "delivery", "max": 100}`, admin)
	if r.Status != 200 || r.Body["moved"] != 1.0 {
		t.Fatalf("redrive: %d %v", r.Status, r.Body)
	}
	if r := e.do("POST", "/v1/admin/redrive", "application/json", `{"queue": "routing"}`, admin); r.Status != 200 || r.Body["moved"] != 0.0 {
		t.Fatalf("redrive of an empty DLQ: %d %v", r.Status, r.Body)
	}
	// The moved job is about a round the lead left long ago: the delivery
	// handler checks the round and drops it without posting.
	e.waitDrained(e.r.Queues.Delivery)
	e.waitDrained(e.r.Queues.Routing)
	if first.count() != 2 || second.count() != 1 {
		t.Fatalf("posts after the redrive: first %d (want 2), second %d (want 1)", first.count(), second.count())
	}
	if after := eventTypes(e.timeline(id)); after != before {
		t.Fatalf("timeline changed by the redrive: %s, was %s", after, before)
	}
	if n := len(e.receive(e.r.Queues.DeliveryDLQ)); n != 0 {
		t.Fatalf("%d messages left in the delivery DLQ", n)
	}
}
