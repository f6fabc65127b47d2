package delivery

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/queue"
	"github.com/leadrelay/leadrelay/shared/webhook"
)

// Verdicts a buyer's endpoint gives, as webhook.Sender judges them.
var (
	noAnswer  = webhook.Verdict{Outcome: webhook.Transient, Reason: webhook.ReasonTimeout, Unknown: true, Detail: "no answer in time"}
	notSent   = webhook.Verdict{Outcome: webhook.Transient, Reason: webhook.ReasonConnection, Detail: "connection refused"}
	busy      = webhook.Verdict{Outcome: webhook.Transient, Reason: webhook.ReasonStatus5xx, Status: 503}
	duplicate = webhook.Verdict{Outcome: webhook.Accepted, Reason: webhook.ReasonDuplicate, Status: 409, Response: `{"status":"duplicate"}`}
	taken     = webhook.Verdict{Outcome: webhook.Accepted, Reason: webhook.ReasonStatus2xx, Status: 200}
	refused   = webhook.Verdict{Outcome: webhook.Rejected, Reason: webhook.ReasonStatus4xx, Status: 422}
)

// verdictPoster answers the n-th post with the n-th verdict (the last for
// ever after) and records the posts.
type verdictPoster struct {
	mu       sync.Mutex
	verdicts []webhook.Verdict
	posts    []webhook.Post
}

func (p *verdictPoster) Send(_ context.Context, _ *config.Delivery, post webhook.Post) webhook.Verdict {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.posts = append(p.posts, post)
	return p.verdicts[min(len(p.posts), len(p.verdicts))-1]
}

// unknownFixture is the standard fixture with a buyer allowing
// maxAttempts attempts and a poster answering with verdicts.
func unknownFixture(t *testing.T, maxAttempts int, verdicts ...webhook.Verdict) (*fixture, *verdictPoster) {
	t.Helper()
	f := newFixture(t, 1, "{type: fixed, amount: 4.00}", webhook.Accepted)
	doc := strings.Replace(fmt.Sprintf(testConfig, 1, "{type: fixed, amount: 4.00}"), "max_attempts: 3", fmt.Sprintf("max_attempts: %d", maxAttempts), 1)
	c, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	f.h.Configs = fakeConfigs{config.NewIndex(c)}
	p := &verdictPoster{verdicts: verdicts}
	f.h.Webhook = p
	return f, p
}

// afterUnknown lists each post's AfterUnknown.
func (p *verdictPoster) afterUnknown() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, post := range p.posts {
		out = append(out, fmt.Sprint(post.AfterUnknown))
	}
	return strings.Join(out, ",")
}

func types(evs []lead.Event) string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return strings.Join(out, ",")
}

func TestUnknownAttemptThenDuplicateAnswerSells(t *testing.T) {
	f, p := unknownFixture(t, 3, noAnswer, duplicate)
	if !f.handle(t, f.receive(t, 1)) {
		t.Fatal("attempt 1 (no answer): not handed back for a retry")
	}
	if len(f.store.appended) != 1 || f.store.appended[0][0].Data["unknown"] != true {
		t.Fatalf("attempt 1 event: %+v", f.store.appended)
	}
	if f.handle(t, f.receive(t, 2)) {
		t.Fatal("attempt 2 (duplicate): handed back")
	}
	if got := p.afterUnknown(); got != "false,true" {
		t.Fatalf("AfterUnknown of the posts: %s", got)
	}
	if p.posts[0].MessageID != "lead-1.2" || p.posts[1].MessageID != p.posts[0].MessageID {
		t.Fatalf("webhook-ids %q, %q", p.posts[0].MessageID, p.posts[1].MessageID)
	}
	if len(f.store.sales) != 1 || f.store.sales[0].Sale.Buyer != "acme" || len(f.store.releases) != 0 || len(f.queue.routes) != 0 || len(f.queue.dead) != 0 {
		t.Fatalf("sales %+v, releases %d, routes %d, dead %d", f.store.sales, len(f.store.releases), len(f.queue.routes), len(f.queue.dead))
	}
	evs := f.store.sales[0].Events
	if types(evs) != "attempt,accepted" || evs[0].Data["reason"] != webhook.ReasonDuplicate || evs[0].Data["unknown"] != nil ||
		!strings.Contains(evs[1].Detail, "duplicate") || evs[1].Data["duplicate"] != true || evs[1].Data["webhook_id"] != "lead-1.2" {
		t.Fatalf("sale events: %+v", evs)
	}
}

func TestUnknownAttemptThenAttemptsRunOutHoldsTheLead(t *testing.T) {
	f, p := unknownFixture(t, 3, noAnswer, busy, busy)
	for n := 1; n <= 3; n++ {
		if retried := f.handle(t, f.receive(t, n)); retried != (n < 3) {
			t.Fatalf("attempt %d: retried %v", n, retried)
		}
	}
	if got := p.afterUnknown(); got != "false,true,true" {
		t.Fatalf("AfterUnknown of the posts: %s", got)
	}
	// Nothing released, nothing routed: the round stays with its caps.
	if len(f.store.releases)+len(f.store.sales)+len(f.queue.routes) != 0 {
		t.Fatalf("held lead settled: releases %d, sales %d, routes %d", len(f.store.releases), len(f.store.sales), len(f.queue.routes))
	}
	if f.store.rec.Seq != 2 || f.store.rec.Assignment == nil || f.store.rec.Assignment.Buyer != "acme" || f.store.rec.Status != lead.Routing {
		t.Fatalf("lead after the hold: %+v", f.store.rec)
	}
	if len(f.queue.delays) != 2 {
		t.Fatalf("%d delays, want 2 (none after the last attempt)", len(f.queue.delays))
	}
	if len(f.queue.dead) != 1 || f.queue.dead[0].reason != ReasonOutcomeUnknown || f.queue.dead[0].m.Seq != 2 || f.queue.dead[0].m.Assignment.Buyer != "acme" {
		t.Fatalf("dead letters: %+v", f.queue.dead)
	}
	last := f.store.appended[len(f.store.appended)-1]
	if types(last) != "attempt,held" || last[0].Data["attempt"] != 3 || last[1].Buyer != "acme" ||
		last[1].Data["webhook_id"] != "lead-1.2" || !strings.Contains(last[1].Detail, "held for acme") {
		t.Fatalf("hold events: %+v", last)
	}
	if got := types(f.store.rec.Events); got != "received,routed,attempt,attempt,attempt,held" {
		t.Fatalf("timeline %s", got)
	}
}

func TestUnknownOnTheLastAttemptHolds(t *testing.T) {
	f, _ := unknownFixture(t, 2, busy, noAnswer)
	f.handle(t, f.receive(t, 1))
	if f.handle(t, f.receive(t, 2)) {
		t.Fatal("held lead handed back")
	}
	if len(f.store.releases) != 0 || len(f.queue.dead) != 1 || f.queue.dead[0].reason != ReasonOutcomeUnknown {
		t.Fatalf("releases %d, dead %+v", len(f.store.releases), f.queue.dead)
	}

	// With one attempt allowed, a first post that got no answer holds the
	// lead: no earlier attempt needs reading.
	g, _ := unknownFixture(t, 1, noAnswer)
	if g.handle(t, g.receive(t, 1)) {
		t.Fatal("held lead handed back")
	}
	if len(g.store.releases) != 0 || len(g.queue.routes) != 0 || len(g.queue.dead) != 1 || g.store.reads != 0 {
		t.Fatalf("releases %d, routes %d, dead %d, reads %d", len(g.store.releases), len(g.queue.routes), len(g.queue.dead), g.store.reads)
	}
}

func TestNotSentFailuresStillMoveOn(t *testing.T) {
	// Failures before the post was written (and answers such as 503)
	// cannot have given the buyer the lead: the next buyer gets it.
	f, p := unknownFixture(t, 3, notSent, busy, notSent)
	for n := 1; n <= 3; n++ {
		f.handle(t, f.receive(t, n))
	}
	if got := p.afterUnknown(); got != "false,false,false" {
		t.Fatalf("AfterUnknown of the posts: %s", got)
	}
	if len(f.store.releases) != 1 || len(f.queue.routes) != 1 || len(f.queue.dead) != 1 || f.queue.dead[0].reason != webhook.ReasonConnection {
		t.Fatalf("releases %d, routes %d, dead %+v", len(f.store.releases), len(f.queue.routes), f.queue.dead)
	}
}

func TestDefiniteAnswerAfterUnknownSettles(t *testing.T) {
	// A refusal of the retry: released to the next buyer, as any refusal.
	f, _ := unknownFixture(t, 3, noAnswer, refused)
	f.handle(t, f.receive(t, 1))
	if f.handle(t, f.receive(t, 2)) {
		t.Fatal("refused lead handed back")
	}
	if len(f.store.releases) != 1 || len(f.queue.routes) != 1 || f.queue.routes[0].Rejected != 1 || len(f.queue.dead) != 0 {
		t.Fatalf("releases %d, routes %+v, dead %d", len(f.store.releases), f.queue.routes, len(f.queue.dead))
	}
	// A plain 2xx: sold, the timeline without the duplicate note.
	g, _ := unknownFixture(t, 3, noAnswer, busy, taken)
	for n := 1; n <= 3; n++ {
		g.handle(t, g.receive(t, n))
	}
	if len(g.store.sales) != 1 || len(g.queue.dead) != 0 || strings.Contains(g.store.sales[0].Events[1].Detail, "duplicate") {
		t.Fatalf("sales %+v, dead %d", g.store.sales, len(g.queue.dead))
	}
}

// held runs a fixture until its lead is held.
func held(t *testing.T, verdicts ...webhook.Verdict) (*fixture, *verdictPoster) {
	t.Helper()
	f, p := unknownFixture(t, 2, verdicts...)
	f.handle(t, f.receive(t, 1))
	f.handle(t, f.receive(t, 2))
	if len(f.queue.dead) != 1 {
		t.Fatalf("lead not held: %+v", f.store.rec.Events)
	}
	return f, p
}

func TestSweeperCopyOfAHeldRoundRetriesTheSameBuyer(t *testing.T) {
	f, p := held(t, noAnswer, noAnswer, duplicate)
	// The sweeper re-sends the delivery of the round past its deadline: a
	// new message (first receipt), marked recovered.
	f.msg.Recovered = true
	m := f.receive(t, 1)
	m.MessageId = "msg-sweeper"
	if f.handle(t, m) {
		t.Fatal("sweeper copy handed back")
	}
	if len(p.posts) != 3 || !p.posts[2].AfterUnknown || p.posts[2].MessageID != "lead-1.2" {
		t.Fatalf("posts %+v", p.posts)
	}
	if len(f.store.sales) != 1 || f.store.sales[0].Sale.Buyer != "acme" || len(f.queue.routes) != 0 {
		t.Fatalf("sales %+v, routes %d", f.store.sales, len(f.queue.routes))
	}
}

func TestSecondSweeperCopyDroppedWhileTheFirstRetries(t *testing.T) {
	f, p := held(t, noAnswer, noAnswer, busy)
	f.msg.Recovered = true
	if !f.handle(t, f.receive(t, 1)) { // the first copy: 503, retried
		t.Fatal("first copy not handed back")
	}
	m := f.receive(t, 1)
	m.MessageId = "msg-sweeper-2"
	if f.handle(t, m) || len(p.posts) != 3 {
		t.Fatalf("second copy posted: %d posts", len(p.posts))
	}
}

func TestRedrivenHeldJobRetriesTheSameBuyer(t *testing.T) {
	f, p := held(t, noAnswer, noAnswer, busy, duplicate)
	// The operator redrives the DLQ copy: it counts its receipts afresh.
	redriven := func(n int) events.SQSMessage {
		m := f.receive(t, n)
		m.MessageId = "msg-redriven"
		v := "true"
		m.MessageAttributes = map[string]events.SQSMessageAttribute{queue.AttrRedriven: {StringValue: &v, DataType: "String"}}
		return m
	}
	if !f.handle(t, redriven(1)) {
		t.Fatal("redriven attempt 1 (503): not handed back")
	}
	if f.handle(t, redriven(2)) {
		t.Fatal("redriven attempt 2 (duplicate): handed back")
	}
	if got := p.afterUnknown(); got != "false,true,true,true" {
		t.Fatalf("AfterUnknown of the posts: %s", got)
	}
	if len(f.store.sales) != 1 || len(f.store.releases) != 0 || len(f.queue.routes) != 0 || len(f.queue.dead) != 1 {
		t.Fatalf("sales %d, releases %d, routes %d, dead %d", len(f.store.sales), len(f.store.releases), len(f.queue.routes), len(f.queue.dead))
	}
	if got := types(f.store.rec.Events); got != "received,routed,attempt,attempt,held,attempt,attempt,accepted" {
		t.Fatalf("timeline %s", got)
	}
}

func TestStateOfReadsOnlyTheCurrentRound(t *testing.T) {
	unknown := lead.Event{Type: lead.EventAttempt, Data: map[string]any{"unknown": true}}
	plain := lead.Event{Type: lead.EventAttempt, Data: map[string]any{"outcome": "transient"}}
	hold := lead.Event{Type: EventHeld}
	routed := lead.Event{Type: lead.EventRouted}
	cases := []struct {
		name string
		evs  []lead.Event
		want roundState
	}{
		{"fresh round", []lead.Event{routed}, roundState{}},
		{"plain attempts", []lead.Event{routed, plain, plain}, roundState{attempted: true}},
		{"unknown earlier", []lead.Event{routed, unknown, plain}, roundState{attempted: true, unknown: true}},
		{"held", []lead.Event{routed, unknown, plain, hold}, roundState{attempted: true, unknown: true, held: true}},
		{"retrying after a hold", []lead.Event{routed, unknown, hold, plain}, roundState{attempted: true, unknown: true}},
		{"a previous round's unknown", []lead.Event{routed, unknown, hold, {Type: lead.EventRejected}, routed, plain}, roundState{attempted: true}},
		{"notes after the attempt", []lead.Event{routed, unknown, hold, {Type: lead.EventRecovered}}, roundState{attempted: true, unknown: true, held: true}},
	}
	for _, c := range cases {
		if got := stateOf(&lead.Record{Events: c.evs}); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}
