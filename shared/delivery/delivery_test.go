package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/money"
	"github.com/leadrelay/leadrelay/shared/queue"
	"github.com/leadrelay/leadrelay/shared/store"
	"github.com/leadrelay/leadrelay/shared/webhook"
)

// fakeStore keeps one lead and records the writes asked of it. A write for
// another round than the lead's answers a *store.StaleError, as the table's
// conditions do.
type fakeStore struct {
	mu       sync.Mutex
	rec      *lead.Record
	reads    int
	sales    []store.SaleInput
	releases []released
	appended [][]lead.Event
}

type released struct {
	seq    int
	holds  []lead.CapHold
	events []lead.Event
}

func (s *fakeStore) GetLead(_ context.Context, id string, _ bool) (*lead.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	if s.rec == nil || s.rec.ID != id {
		return nil, store.ErrNotFound
	}
	cp := *s.rec
	return &cp, nil
}

func (s *fakeStore) stale(seq int) error {
	if s.rec.Seq != seq {
		cp := *s.rec
		return &store.StaleError{Current: &cp}
	}
	return nil
}

func (s *fakeStore) Sell(_ context.Context, in store.SaleInput) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.stale(in.Seq); err != nil {
		return err
	}
	s.sales = append(s.sales, in)
	s.rec.Seq++
	s.rec.Status = lead.Sold
	s.rec.Assignment = nil
	s.rec.Sales = append(s.rec.Sales, in.Sale)
	s.rec.Events = append(s.rec.Events, in.Events...)
	return nil
}

func (s *fakeStore) Release(_ context.Context, _ string, seq int, _ lead.Status, holds []lead.CapHold, evs []lead.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.stale(seq); err != nil {
		return err
	}
	s.releases = append(s.releases, released{seq: seq, holds: holds, events: evs})
	s.rec.Seq++
	s.rec.Status = lead.Routing
	s.rec.Assignment = nil
	s.rec.Events = append(s.rec.Events, evs...)
	return nil
}

func (s *fakeStore) AppendEvents(_ context.Context, _ string, seq int, evs []lead.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.stale(seq); err != nil {
		return err
	}
	s.appended = append(s.appended, evs)
	s.rec.Events = append(s.rec.Events, evs...)
	return nil
}

type delayCall struct {
	url, receipt string
	d            time.Duration
}

type deadLetter struct {
	m      queue.Deliver
	reason string
}

type fakeQueue struct {
	mu     sync.Mutex
	routes []queue.Route
	dead   []deadLetter
	delays []delayCall
}

func (q *fakeQueue) Route(_ context.Context, m queue.Route) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.routes = append(q.routes, m)
	return nil
}

func (q *fakeQueue) DeadLetter(_ context.Context, m queue.Deliver, reason string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.dead = append(q.dead, deadLetter{m, reason})
	return nil
}

func (q *fakeQueue) Delay(_ context.Context, url, receipt string, d time.Duration) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.delays = append(q.delays, delayCall{url, receipt, d})
	return nil
}

type fakeConfigs struct{ ix *config.Index }

func (c fakeConfigs) Get(context.Context) (*config.Index, error) { return c.ix, nil }

// fakePoster answers each post with the next verdict of its script.
type fakePoster struct {
	mu     sync.Mutex
	script []webhook.Outcome
	posts  []webhook.Post
}

func (p *fakePoster) Send(_ context.Context, _ *config.Delivery, post webhook.Post) webhook.Verdict {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.posts = append(p.posts, post)
	o := p.script[0]
	if len(p.script) > 1 {
		p.script = p.script[1:]
	}
	v := webhook.Verdict{Outcome: o}
	switch o {
	case webhook.Accepted:
		v.Status, v.Reason = 200, webhook.ReasonStatus2xx
	case webhook.Rejected:
		v.Status, v.Reason = 400, webhook.ReasonStatus4xx
	default:
		v.Status, v.Reason = 503, webhook.ReasonStatus5xx
	}
	return v
}

const testConfig = `
campaigns:
  - id: auto
    max_sales: %d
    fields:
      phone: {type: phone, required: true}
sources:
  - id: src
    campaigns: [auto]
    api_key_sha256: "1855dc05b1f481bcb91a6a2df592d1719cdc0b9f2e8a1a2e49d06bc8b064e155"
    payout: %s
buyers:
  - id: acme
    delivery: {type: webhook, url: "https://acme.example/leads", max_attempts: 3}
    orders:
      - {campaign: auto, price: 25.00, priority: 1}
`

var clock = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)

type fixture struct {
	h      *Handler
	store  *fakeStore
	queue  *fakeQueue
	poster *fakePoster
	msg    queue.Deliver
}

func newFixture(t *testing.T, maxSales int, payout string, script ...webhook.Outcome) *fixture {
	t.Helper()
	c, err := config.Parse([]byte(fmt.Sprintf(testConfig, maxSales, payout)))
	if err != nil {
		t.Fatal(err)
	}
	l := lead.Lead{ID: "lead-1", Campaign: "auto", Source: "src", Fields: map[string]any{"phone": "+14155550100"}, CreatedAt: clock}
	a := lead.Assignment{Buyer: "acme", Order: "auto", Price: 2500, Caps: []lead.CapHold{{Key: "CAP#order:acme/auto#daily#2025-03-04", Amount: 2500}}}
	f := &fixture{
		store: &fakeStore{rec: &lead.Record{
			Lead: l, Status: lead.Routing, Seq: 2, Assignment: &a, Tried: []string{"acme/auto"},
			Events: []lead.Event{{Type: lead.EventReceived}, {Type: lead.EventRouted, Buyer: "acme", Order: "auto"}},
		}},
		queue:  &fakeQueue{},
		poster: &fakePoster{script: script},
		msg:    queue.Deliver{Lead: l, Seq: 2, Assignment: a, Tried: []string{"acme/auto"}},
	}
	f.h = &Handler{
		Store: f.store, Queue: f.queue, Configs: fakeConfigs{config.NewIndex(c)}, Webhook: f.poster,
		QueueURL: "https://sqs.local/delivery",
		Now:      func() time.Time { return clock },
		Jitter:   func(d time.Duration) time.Duration { return d }, // the ceiling
		Log:      slog.New(slog.NewJSONHandler(io.Discard, nil)),
	}
	return f
}

// receive is the message as SQS hands it over for the n-th time.
func (f *fixture) receive(t *testing.T, n int) events.SQSMessage {
	t.Helper()
	body, err := json.Marshal(f.msg)
	if err != nil {
		t.Fatal(err)
	}
	return events.SQSMessage{
		MessageId: "msg-1", ReceiptHandle: fmt.Sprintf("receipt-%d", n), Body: string(body),
		Attributes: map[string]string{"ApproximateReceiveCount": fmt.Sprint(n)},
	}
}

// handle runs one message and reports whether it was handed back to SQS.
func (f *fixture) handle(t *testing.T, m events.SQSMessage) (retried bool) {
	t.Helper()
	resp, err := f.h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{m}})
	if err != nil {
		t.Fatal(err)
	}
	return len(resp.BatchItemFailures) == 1 && resp.BatchItemFailures[0].ItemIdentifier == m.MessageId
}

func TestTransientFailureIsDelayedWithItsReceiptHandle(t *testing.T) {
	f := newFixture(t, 1, "{type: fixed, amount: 4.00}", webhook.Transient)
	for n := 1; n <= 2; n++ {
		if !f.handle(t, f.receive(t, n)) {
			t.Fatalf("attempt %d: message not handed back for a retry", n)
		}
	}
	want := []delayCall{
		{"https://sqs.local/delivery", "receipt-1", 2 * time.Second},
		{"https://sqs.local/delivery", "receipt-2", 4 * time.Second},
	}
	if fmt.Sprint(f.queue.delays) != fmt.Sprint(want) {
		t.Fatalf("delays %v, want %v", f.queue.delays, want)
	}
	if len(f.store.appended) != 2 {
		t.Fatalf("%d attempt writes, want 2", len(f.store.appended))
	}
	for i, evs := range f.store.appended {
		ev := evs[0]
		if ev.Type != lead.EventAttempt || ev.Data["attempt"] != i+1 || ev.Data["status"] != 503 || ev.Data["outcome"] != "transient" {
			t.Fatalf("attempt event %d: %+v", i+1, ev)
		}
	}
	if len(f.store.releases)+len(f.store.sales)+len(f.queue.routes)+len(f.queue.dead) != 0 {
		t.Fatalf("a retryable failure settled the lead: %+v %+v", f.store, f.queue)
	}
	// The second receipt is a redelivery: the round was checked first.
	if f.store.reads != 1 {
		t.Fatalf("%d lead reads, want 1 (the redelivery)", f.store.reads)
	}
}

func TestGivesUpAfterMaxAttempts(t *testing.T) {
	f := newFixture(t, 1, "{type: fixed, amount: 4.00}", webhook.Transient)
	for n := 1; n <= 3; n++ {
		retried := f.handle(t, f.receive(t, n))
		if retried != (n < 3) {
			t.Fatalf("attempt %d: retried %v", n, retried)
		}
	}
	if len(f.queue.delays) != 2 {
		t.Fatalf("%d delays, want 2 (none after the last attempt)", len(f.queue.delays))
	}
	if len(f.store.releases) != 1 {
		t.Fatalf("%d releases, want 1", len(f.store.releases))
	}
	rel := f.store.releases[0]
	if rel.seq != 2 || len(rel.holds) != 1 || rel.holds[0].Key != f.msg.Assignment.Caps[0].Key {
		t.Fatalf("release: %+v", rel)
	}
	if len(rel.events) != 1 || rel.events[0].Type != lead.EventFailed || !strings.Contains(rel.events[0].Detail, "gave up after 3 attempts") {
		t.Fatalf("release events: %+v", rel.events)
	}
	if len(f.queue.dead) != 1 || f.queue.dead[0].reason != webhook.ReasonStatus5xx || f.queue.dead[0].m.Lead.ID != "lead-1" || f.queue.dead[0].m.Seq != 2 {
		t.Fatalf("dead letters: %+v", f.queue.dead)
	}
	if len(f.queue.routes) != 1 || f.queue.routes[0].Seq != 3 || f.queue.routes[0].Rejected != 0 || strings.Join(f.queue.routes[0].Tried, ",") != "acme/auto" {
		t.Fatalf("re-route: %+v", f.queue.routes)
	}
	if len(f.store.sales) != 0 {
		t.Fatal("sold after giving up")
	}
}

func TestAcceptedSellsWithPayout(t *testing.T) {
	cases := []struct {
		name     string
		payout   string
		maxSales int
		bought   []string
		want     money.Amount
		first    bool
		reroute  bool
	}{
		{"fixed, first sale", "{type: fixed, amount: 4.00}", 1, nil, 400, true, false},
		{"fixed, second sale of a shared lead", "{type: fixed, amount: 4.00}", 3, []string{"zeta"}, 0, false, true},
		{"revshare, first sale", "{type: revshare, percent: 60}", 1, nil, 1500, true, false},
		{"revshare, second sale", "{type: revshare, percent: 60}", 2, []string{"zeta"}, 1500, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, c.maxSales, c.payout, webhook.Accepted)
			f.msg.Bought = c.bought
			if f.handle(t, f.receive(t, 1)) {
				t.Fatal("accepted lead handed back")
			}
			if len(f.store.sales) != 1 {
				t.Fatalf("%d sales", len(f.store.sales))
			}
			s := f.store.sales[0]
			if s.Sale.Payout != c.want || s.Sale.Price != 2500 || s.Sale.Buyer != "acme" || s.First != c.first || s.More != c.reroute || s.Seq != 2 {
				t.Fatalf("sale: %+v, want payout %s", s, c.want)
			}
			if len(s.Events) != 2 || s.Events[0].Type != lead.EventAttempt || s.Events[1].Type != lead.EventAccepted {
				t.Fatalf("sale events: %+v", s.Events)
			}
			if c.reroute != (len(f.queue.routes) == 1) {
				t.Fatalf("routes after the sale: %+v", f.queue.routes)
			}
			if c.reroute && (f.queue.routes[0].Seq != 3 || strings.Join(f.queue.routes[0].Bought, ",") != "zeta,acme") {
				t.Fatalf("route for the next buyer: %+v", f.queue.routes[0])
			}
			if len(f.store.releases)+len(f.queue.delays)+len(f.queue.dead) != 0 {
				t.Fatal("an accepted lead was also released, delayed or dead-lettered")
			}
		})
	}
}

func TestRejectedReleases(t *testing.T) {
	f := newFixture(t, 1, "{type: fixed, amount: 4.00}", webhook.Rejected)
	if f.handle(t, f.receive(t, 1)) {
		t.Fatal("rejected lead handed back")
	}
	if len(f.store.releases) != 1 || len(f.store.sales) != 0 || len(f.queue.dead) != 0 || len(f.queue.delays) != 0 {
		t.Fatalf("releases %d, sales %d, dead %d, delays %d", len(f.store.releases), len(f.store.sales), len(f.queue.dead), len(f.queue.delays))
	}
	evs := f.store.releases[0].events
	if len(evs) != 2 || evs[0].Type != lead.EventAttempt || evs[1].Type != lead.EventRejected {
		t.Fatalf("release events: %+v", evs)
	}
	if len(f.queue.routes) != 1 || f.queue.routes[0].Rejected != 1 || f.queue.routes[0].Seq != 3 {
		t.Fatalf("route: %+v", f.queue.routes)
	}
}

func TestStaleRoundDropped(t *testing.T) {
	f := newFixture(t, 1, "{type: fixed, amount: 4.00}", webhook.Accepted)
	// The round was settled long ago: the lead has moved rounds on since.
	f.store.rec.Seq, f.store.rec.Status, f.store.rec.Assignment = 6, lead.Sold, nil
	f.store.rec.Sales = []lead.Sale{{Buyer: "acme", Order: "auto", Price: 2500}}
	if f.handle(t, f.receive(t, 2)) {
		t.Fatal("stale message handed back")
	}
	if len(f.poster.posts) != 0 {
		t.Fatal("a stale round was posted to the buyer again")
	}
	if len(f.store.sales)+len(f.store.releases)+len(f.store.appended)+len(f.queue.routes)+len(f.queue.dead) != 0 {
		t.Fatal("a stale message wrote something")
	}
}

func TestStaleSaleDropped(t *testing.T) {
	// A first receipt races another worker: the sale finds the round moved.
	f := newFixture(t, 1, "{type: fixed, amount: 4.00}", webhook.Accepted)
	f.store.rec.Seq = 5
	if f.handle(t, f.receive(t, 1)) {
		t.Fatal("stale message handed back")
	}
	if len(f.store.sales)+len(f.store.releases)+len(f.queue.routes) != 0 {
		t.Fatal("a stale sale was recorded or re-routed")
	}
}

func TestRecoveredCopyDroppedWhenTheRoundHasAnAttempt(t *testing.T) {
	f := newFixture(t, 1, "{type: fixed, amount: 4.00}", webhook.Accepted)
	f.msg.Recovered = true
	f.store.rec.Events = append(f.store.rec.Events, lead.Event{Type: lead.EventAttempt, Buyer: "acme", Order: "auto"})
	if f.handle(t, f.receive(t, 1)) {
		t.Fatal("re-sent copy handed back")
	}
	if len(f.poster.posts) != 0 || len(f.store.sales) != 0 {
		t.Fatal("the re-sent copy posted the lead again")
	}

	// Without an attempt in the round the copy is the one that delivers.
	g := newFixture(t, 1, "{type: fixed, amount: 4.00}", webhook.Accepted)
	g.msg.Recovered = true
	g.handle(t, g.receive(t, 1))
	if len(g.poster.posts) != 1 || len(g.store.sales) != 1 {
		t.Fatalf("re-sent copy of a lost message: %d posts, %d sales", len(g.poster.posts), len(g.store.sales))
	}
}
