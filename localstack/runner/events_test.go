package runner

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/queue"
	"github.com/leadrelay/leadrelay/shared/store"
)

func readEvent(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// The sample events under events/ run through the real handlers against
// the demo configuration.
func TestSampleEvents(t *testing.T) {
	demo, err := os.ReadFile(filepath.Join("..", "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	e := start(t, string(demo), func(o *Options) {
		o.Pollers = -1
		// The voice sample is signed (with Python's hmac) for this stage
		// URL and token.
		o.PublicURL, o.TwilioAuthToken = "https://abc123.execute-api.us-east-1.amazonaws.com/prod", "local-twilio-token"
	})
	ctx := context.Background()
	a := e.r.App

	for name, want := range map[string]int{
		"ingest-post-lead.json": 202, "ingest-post-form.json": 202, "ingest-get-lead.json": 404,
	} {
		var req httpapi.Request
		readEvent(t, name, &req)
		resp, err := a.Ingest().Handle(ctx, req)
		if err != nil || resp.StatusCode != want {
			t.Errorf("%s: %d %s (%v); want %d", name, resp.StatusCode, resp.Body, err, want)
		}
	}
	var req httpapi.Request
	readEvent(t, "ingest-voice-incoming.json", &req)
	if resp, err := a.Ingest().Handle(ctx, req); err != nil || resp.StatusCode != 200 || !strings.Contains(resp.Body, ">+15125550101</Number></Dial>") {
		t.Errorf("ingest-voice-incoming.json: %d %s (%v); want the demo call centre dialled", resp.StatusCode, resp.Body, err)
	}
	readEvent(t, "ping-post.json", &req)
	if resp, err := a.Ping().Handle(ctx, req); err != nil || resp.StatusCode != 200 || !strings.Contains(resp.Body, `"price":24`) {
		t.Errorf("ping-post.json: %d %s (%v); want the demo buyer's 30.00 bid quoted at 24.00", resp.StatusCode, resp.Body, err)
	}
	readEvent(t, "admin-get-config.json", &req)
	if resp, err := a.Admin("").Handle(ctx, req); err != nil || resp.StatusCode != 200 {
		t.Errorf("admin-get-config.json: %d %s", resp.StatusCode, resp.Body)
	}

	// The router's sample message routes its lead once the lead exists.
	var ev events.SQSEvent
	readEvent(t, "router-sqs.json", &ev)
	var m queue.Route
	if err := json.Unmarshal([]byte(ev.Records[0].Body), &m); err != nil {
		t.Fatal(err)
	}
	m.Lead.CreatedAt = time.Now()
	if err := a.Store.PutLead(ctx, store.NewLead{Record: &lead.Record{Lead: m.Lead, Status: lead.Received}}); err != nil {
		t.Fatal(err)
	}
	if resp, err := a.Router().Handle(ctx, ev); err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("router-sqs.json: %v %+v", err, resp)
	}
	rec, err := a.Store.GetLead(ctx, m.Lead.ID, true)
	if err != nil || rec.Status != lead.Routing || rec.Assignment == nil || rec.Assignment.Buyer != "demo-buyer" {
		t.Fatalf("after the router's sample: %+v %v", rec, err)
	}
	// The delivery sample's lead does not exist: the sale finds no lead
	// and the message is dropped, not retried.
	readEvent(t, "delivery-sqs.json", &ev)
	if resp, err := a.Delivery().Handle(ctx, ev); err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("delivery-sqs.json: %v %+v", err, resp)
	}
	if got := e.r.Demo.Received(); len(got) != 1 || got[0]["lead_id"] != "01a20f6a-0000-7000-8000-000000000002" {
		t.Fatalf("demo buyer received %v", got)
	}

	// The aggregate sample folds its insert's ledger entries once, however
	// often it is handed over; the counter's change carries none.
	var stream events.DynamoDBTimeWindowEvent
	readEvent(t, "aggregate-stream.json", &stream)
	for range 2 {
		if resp, err := a.Aggregator().Handle(ctx, stream); err != nil || resp.State == nil {
			t.Fatalf("aggregate-stream.json: %v %+v", err, resp)
		}
	}
	rows, err := a.Store.Ledger(ctx, "2025-06-01")
	if err != nil {
		t.Fatal(err)
	}
	folded := map[string]int64{}
	for _, r := range rows {
		folded[r.Dimension+"/"+r.ID] = r.Counts["leads"]
	}
	if folded["campaign/auto-insurance"] != 1 || folded["source/demo-source"] != 1 {
		t.Fatalf("aggregate-stream.json folded %v", folded)
	}

	// The sweeper's scheduled event sweeps (nothing is stuck here).
	var tick events.CloudWatchEvent
	readEvent(t, "sweeper-schedule.json", &tick)
	if err := e.r.Sweeper.Handle(ctx, tick); err != nil {
		t.Fatalf("sweeper-schedule.json: %v", err)
	}
}
