package runner

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// verdictReason is the routing explanation's reason for an order in the
// lead's first routed event.
func verdictReason(t *testing.T, evs []map[string]any, order string) string {
	t.Helper()
	for _, ev := range evs {
		if ev["type"] != "routed" {
			continue
		}
		for _, v := range ev["data"].(map[string]any)["verdicts"].([]any) {
			if v := v.(map[string]any); v["order"] == order {
				r, _ := v["reason"].(string)
				return r
			}
		}
	}
	t.Fatalf("no verdict for %s in %v", order, evs)
	return ""
}

func findEvent(evs []map[string]any, typ string) map[string]any {
	for _, ev := range evs {
		if ev["type"] == typ {
			return ev
		}
	}
	return nil
}

func TestBreakerPausesAFailingBuyer(t *testing.T) {
	first := newScriptedBuyer(t, 503)
	second := newScriptedBuyer(t, 200)
	e := start(t, retryYAML(first.srv.URL, 2, second.srv.URL, ", breaker: {failures: 2, cooldown: 60s}"), func(o *Options) {
		fastRetries(o)
		o.ConfigTTL = 300 * time.Millisecond
	})

	// Two failures of lead A open first's breaker; A moves on to second.
	a := e.post(map[string]any{"phone": phone(60), "state": "CA"}, nil).Body["lead_id"].(string)
	if st := e.waitStatus(a); st != "sold" {
		t.Fatalf("lead A: %s", st)
	}
	evs := e.timeline(a)
	opened := findEvent(evs, "breaker_opened")
	if opened == nil || opened["buyer"] != "first" {
		t.Fatalf("lead A timeline has no breaker_opened for first: %s", eventTypes(evs))
	}
	if got := eventTypes(evs); got != "received,routed,attempt,failed,breaker_opened,routed,attempt,accepted" {
		t.Fatalf("lead A timeline: %s", got)
	}

	// While open, the router skips first: lead B goes straight to second.
	b := e.post(map[string]any{"phone": phone(61), "state": "CA"}, nil).Body["lead_id"].(string)
	if st := e.waitStatus(b); st != "sold" {
		t.Fatalf("lead B: %s", st)
	}
	evs = e.timeline(b)
	if r := verdictReason(t, evs, "first/auto"); r != "breaker_open" {
		t.Fatalf("lead B: first/auto reason %q, want breaker_open", r)
	}
	if got := eventTypes(evs); got != "received,routed,attempt,accepted" || evs[3]["buyer"] != "second" {
		t.Fatalf("lead B timeline: %s", got)
	}
	if first.count() != 2 {
		t.Fatalf("first got %d posts while paused, want 2 in all", first.count())
	}

	// The buyer recovers; the cool-down ends (rewound in the table rather
	// than waited for). The next lead is the half-open trial: it goes to
	// first, whose success closes the breaker.
	first.mu.Lock()
	first.script = []int{200}
	first.mu.Unlock()
	_, err := dynamodb.NewFromConfig(e.cfg).UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName: aws.String(e.r.App.Settings.Table),
		Key: map[string]ddbtypes.AttributeValue{
			"pk": &ddbtypes.AttributeValueMemberS{Value: "BREAKER"}, "sk": &ddbtypes.AttributeValueMemberS{Value: "first"},
		},
		UpdateExpression: aws.String("SET open_until = :past"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
			":past": &ddbtypes.AttributeValueMemberN{Value: fmt.Sprint(time.Now().Add(-time.Second).UnixMilli())},
		},
		ConditionExpression: aws.String("attribute_exists(open_until)"),
	})
	if err != nil {
		t.Fatalf("rewind the cool-down: %v", err)
	}
	time.Sleep(time.Second) // past the breakers' snapshot TTL
	c := e.post(map[string]any{"phone": phone(62), "state": "CA"}, nil).Body["lead_id"].(string)
	if st := e.waitStatus(c); st != "sold" {
		t.Fatalf("lead C: %s", st)
	}
	evs = e.timeline(c)
	if got := eventTypes(evs); got != "received,routed,attempt,accepted,breaker_closed" || evs[3]["buyer"] != "first" {
		t.Fatalf("lead C timeline: %s %v", got, evs)
	}
	d := e.post(map[string]any{"phone": phone(63), "state": "CA"}, nil).Body["lead_id"].(string)
	if st := e.waitStatus(d); st != "sold" {
		t.Fatalf("lead D: %s", st)
	}
	if evs := e.timeline(d); verdictReason(t, evs, "first/auto") != "" || evs[3]["buyer"] != "first" {
		t.Fatalf("lead D after closing: %v", evs)
	}
	if first.count() != 4 || second.count() != 2 {
		t.Fatalf("posts: first %d (want 4), second %d (want 2)", first.count(), second.count())
	}
}
