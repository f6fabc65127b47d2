package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/queue"
	"github.com/leadrelay/leadrelay/shared/store"
)

// receive takes every message waiting on a queue, as SQS events.
func (e *env) receive(url string) []events.SQSMessage {
	e.t.Helper()
	var out []events.SQSMessage
	for tries := 0; tries < 3; tries++ {
		resp, err := e.r.App.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10, VisibilityTimeout: 60,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		if err != nil {
			e.t.Fatal(err)
		}
		for _, m := range resp.Messages {
			out = append(out, events.SQSMessage{MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body), Attributes: m.Attributes})
		}
		if len(out) > 0 && len(resp.Messages) == 0 {
			break
		}
	}
	return out
}

// again is the same message as SQS delivers it a second time.
func again(m events.SQSMessage) events.SQSMessage {
	attrs := map[string]string{}
	for k, v := range m.Attributes {
		attrs[k] = v
	}
	attrs["ApproximateReceiveCount"] = fmt.Sprint(queueCount(m) + 1)
	m.Attributes = attrs
	return m
}

func queueCount(m events.SQSMessage) int {
	var n int
	fmt.Sscan(m.Attributes["ApproximateReceiveCount"], &n)
	return n
}

// Invariants 2, 3 and 4 under redelivery: every routing and delivery
// message handled twice (and the second time as SQS redelivers it) — one
// cap unit, one sale, one post to the buyer, the ledger counted once.
func TestRedeliveredMessagesChangeNothing(t *testing.T) {
	b := newBuyer(t)
	e := start(t, campaignYAML(b.srv.URL, "daily: 5, daily_budget: 1000"), func(o *Options) { o.Pollers = -1 })
	ctx := context.Background()
	a := e.r.App
	resp, err := a.Ingest().Handle(ctx, httpapi.Request{
		HTTPMethod: "POST", Path: "/v1/leads",
		Headers: map[string]string{"Content-Type": "application/json", "X-API-Key": sourceKey},
		Body:    `{"campaign":"auto","fields":{"phone":"4158927312","state":"CA"}}`,
	})
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("ingest: %v %+v", err, resp)
	}
	routing := e.receive(e.r.Queues.Routing)
	if len(routing) != 1 {
		t.Fatalf("%d routing messages", len(routing))
	}
	rt := a.Router()
	for _, m := range []events.SQSMessage{routing[0], routing[0], again(routing[0])} {
		if r, err := rt.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{m}}); err != nil || len(r.BatchItemFailures) > 0 {
			t.Fatalf("router: %v %+v", err, r)
		}
	}
	deliveries := e.receive(e.r.Queues.Delivery)
	if len(deliveries) == 0 {
		t.Fatal("no delivery message")
	}
	dl := a.Delivery()
	for _, m := range deliveries {
		for _, copy := range []events.SQSMessage{m, again(m), again(again(m))} {
			if r, err := dl.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{copy}}); err != nil || len(r.BatchItemFailures) > 0 {
				t.Fatalf("delivery: %v %+v", err, r)
			}
		}
	}
	if n := len(b.received()); n != 1 {
		t.Fatalf("buyer received %d posts, want 1", n)
	}
	recs, err := a.Store.CampaignLeads(ctx, "auto", 10)
	if err != nil || len(recs) != 1 {
		t.Fatalf("%d leads, %v", len(recs), err)
	}
	rec := recs[0]
	if rec.Status != lead.Sold || len(rec.Sales) != 1 || rec.Revenue() != 2500 {
		t.Fatalf("lead: status %s, sales %+v", rec.Status, rec.Sales)
	}
	var d queue.Deliver
	if err := json.Unmarshal([]byte(deliveries[0].Body), &d); err != nil || len(d.Assignment.Caps) != 1 {
		t.Fatalf("delivery message: %v %+v", err, d)
	}
	if n, amt, err := a.Store.CapCount(ctx, d.Assignment.Caps[0].Key); err != nil || n != 1 || amt != 2500 {
		t.Fatalf("cap counter: %d units, %v, %v; want 1 unit of 25.00", n, amt, err)
	}
	day := time.Now().UTC().Format(time.DateOnly)
	e.settle()
	rows, err := a.Store.Ledger(ctx, day)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Dimension == store.DimCampaign && (r.Counts["sold"] != 1 || r.Counts["revenue"] != 2500 || r.Counts["cost"] != 400 || r.Counts["leads"] != 1) {
			t.Fatalf("campaign ledger counted twice: %+v", r.Counts)
		}
		if r.Dimension == store.DimBuyer && r.Counts["revenue"] != 2500 {
			t.Fatalf("buyer ledger: %+v", r.Counts)
		}
	}
	dims := map[string]bool{}
	for _, r := range rows {
		dims[r.Dimension] = true
	}
	if !dims[store.DimCampaign] || !dims[store.DimSource] || !dims[store.DimBuyer] {
		t.Fatalf("ledger rows: %+v", rows)
	}
	if ev := rec.Events; len(ev) != 5 || ev[1].Type != lead.EventScored { // received, scored, routed, attempt, accepted
		t.Fatalf("timeline has %d events: %+v", len(ev), ev)
	}
}
