package router

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/queue"
	"github.com/leadrelay/leadrelay/shared/store"
)

// fakeStore keeps each lead's round and the cap counters in memory, with
// the conditions the table applies: a round is taken once, a cap has
// room or not.
type fakeStore struct {
	mu       sync.Mutex
	seq      map[string]int // the lead's current round
	caps     map[string]int64
	reserved []store.Reservation
	finished []finished
	rots     map[string]store.Rot
}

type finished struct {
	id     string
	seq    int
	status lead.Status
	events []lead.Event
}

func newStore() *fakeStore {
	return &fakeStore{seq: map[string]int{}, caps: map[string]int64{}, rots: map[string]store.Rot{}}
}

func (s *fakeStore) stale(id string, seq int) error {
	if s.seq[id] != seq {
		cur := &lead.Record{Lead: lead.Lead{ID: id}, Seq: s.seq[id], Status: lead.Routing}
		return &store.StaleError{Current: cur}
	}
	return nil
}

func (s *fakeStore) Reserve(_ context.Context, r store.Reservation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.stale(r.LeadID, r.Seq); err != nil {
		return err
	}
	for i, c := range r.Caps {
		if c.Limit > 0 && s.caps[c.Key] >= c.Limit {
			return &store.CapFullError{Index: i, Key: c.Key}
		}
	}
	for _, c := range r.Caps {
		s.caps[c.Key]++
	}
	s.seq[r.LeadID] = r.Seq + 1
	s.reserved = append(s.reserved, r)
	return nil
}

func (s *fakeStore) Finish(_ context.Context, id string, seq int, status lead.Status, _ *lead.Record, evs []lead.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.stale(id, seq); err != nil {
		return err
	}
	s.seq[id] = seq + 1
	s.finished = append(s.finished, finished{id, seq, status, evs})
	return nil
}

func (s *fakeStore) Rotations(context.Context, string) (map[string]store.Rot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]store.Rot{}
	for k, v := range s.rots {
		out[k] = v
	}
	return out, nil
}

type fakeQueue struct {
	mu      sync.Mutex
	deliver []queue.Deliver
	later   []queue.Deliver
}

func (q *fakeQueue) Deliver(_ context.Context, m queue.Deliver) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.deliver = append(q.deliver, m)
	return nil
}

func (q *fakeQueue) DeliverLater(_ context.Context, m queue.Deliver) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.later = append(q.later, m)
	return nil
}

type fixedConfig struct{ ix *config.Index }

func (f fixedConfig) Get(context.Context) (*config.Index, error) { return f.ix, nil }

const routerConfig = `
campaigns:
  - id: auto
    fields:
      phone: {type: phone, required: true}
      state: {type: us_state, required: true}
buyers:
  - id: first
    delivery: {type: webhook, url: "https://first.example/leads", max_attempts: 3, timeout: 2s}
    orders:
      - {campaign: auto, price: 30.00, priority: 1, caps: {daily: 1}, filters: [{field: state, op: in, value: [CA]}]}
  - id: second
    delivery: {type: webhook, url: "https://second.example/leads"}
    orders:
      - {campaign: auto, price: 20.00, priority: 2}
`

func fixture(t *testing.T, yaml string) (*Handler, *fakeStore, *fakeQueue) {
	t.Helper()
	c, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	st, q := newStore(), &fakeQueue{}
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	h := &Handler{Store: st, Queue: q, Configs: fixedConfig{config.NewIndex(c)}, Now: func() time.Time { return now },
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	return h, st, q
}

func message(t *testing.T, id string, m queue.Route, receives int) events.SQSMessage {
	t.Helper()
	m.Lead.ID = id
	if m.Lead.Campaign == "" {
		m.Lead.Campaign = "auto"
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return events.SQSMessage{MessageId: "m-" + id, Body: string(b), Attributes: map[string]string{"ApproximateReceiveCount": string(rune('0' + receives))}}
}

func route(t *testing.T, h *Handler, msgs ...events.SQSMessage) events.SQSEventResponse {
	t.Helper()
	resp, err := h.Handle(t.Context(), events.SQSEvent{Records: msgs})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestWaterfallOffersTheFirstOrderWithRoomAndHandsTheLeadToDelivery(t *testing.T) {
	h, st, q := fixture(t, routerConfig)
	ca := map[string]any{"phone": "+14155550100", "state": "CA"}
	route(t, h, message(t, "L1", queue.Route{Lead: lead.Lead{Fields: ca}}, 1))
	if len(st.reserved) != 1 || st.reserved[0].Assignment.Buyer != "first" || len(st.reserved[0].Caps) != 1 {
		t.Fatalf("reservations %+v", st.reserved)
	}
	r := st.reserved[0]
	// The round is due once every attempt of the buyer's delivery is over.
	if !r.Due.After(h.Now().Add(3*2*time.Second)) || r.Due.After(h.Now().Add(time.Hour)) {
		t.Fatalf("due %s", r.Due)
	}
	if len(q.deliver) != 1 || q.deliver[0].Seq != 1 || q.deliver[0].Assignment.Buyer != "first" || q.deliver[0].Tried[0] != "first/auto" {
		t.Fatalf("delivery messages %+v", q.deliver)
	}
	// The first order's daily cap is full: the next lead falls to the second.
	route(t, h, message(t, "L2", queue.Route{Lead: lead.Lead{Fields: ca}}, 1))
	if len(st.reserved) != 2 || st.reserved[1].Assignment.Buyer != "second" {
		t.Fatalf("second lead offered to %+v", st.reserved[1].Assignment)
	}
}

func TestNobodyEligibleEndsUnsoldWithTheReasons(t *testing.T) {
	h, st, q := fixture(t, strings.Replace(routerConfig, "priority: 2}", "priority: 2, filters: [{field: state, op: eq, value: TX}]}", 1))
	route(t, h, message(t, "L1", queue.Route{Lead: lead.Lead{Fields: map[string]any{"phone": "+14155550100", "state": "NY"}}}, 1))
	if len(q.deliver) != 0 || len(st.finished) != 1 || st.finished[0].status != lead.Unsold {
		t.Fatalf("finished %+v, deliveries %d", st.finished, len(q.deliver))
	}
	ev := st.finished[0].events[len(st.finished[0].events)-1]
	if ev.Type != lead.EventNoBuyer || ev.Data["orders"] != 2 {
		t.Fatalf("no_buyer event %+v", ev)
	}
}

func TestARedeliveredMessageOfATakenRoundResendsOrDrops(t *testing.T) {
	h, st, q := fixture(t, routerConfig)
	ca := map[string]any{"phone": "+14155550100", "state": "CA"}
	msg := message(t, "L1", queue.Route{Lead: lead.Lead{Fields: ca}}, 1)
	route(t, h, msg)
	// The same message once more, as SQS delivers it again: the round is
	// taken. A first receipt is a duplicate (dropped); a redelivery may be
	// ours from before a crash, but the fake's lead shows no assignment, so
	// nothing is re-sent either.
	route(t, h, msg)
	redelivered := message(t, "L1", queue.Route{Lead: lead.Lead{Fields: ca}}, 2)
	route(t, h, redelivered)
	if len(st.reserved) != 1 || len(q.deliver) != 1 || len(q.later) != 0 {
		t.Fatalf("reservations %d, deliveries %d, re-sent %d; want 1, 1, 0", len(st.reserved), len(q.deliver), len(q.later))
	}
}

func TestATestLeadIsDecidedAndSoldToNobody(t *testing.T) {
	h, st, q := fixture(t, routerConfig)
	route(t, h, message(t, "T1", queue.Route{Lead: lead.Lead{Test: true, Fields: map[string]any{"phone": "+14155550100", "state": "CA"}}}, 1))
	for _, r := range st.reserved {
		if len(r.Caps) != 0 && !r.Test {
			t.Fatalf("a test lead reserved caps: %+v", r)
		}
	}
	if len(st.caps) != 0 || len(q.deliver) != 0 {
		t.Fatalf("a test lead moved caps %v or went to delivery %+v", st.caps, q.deliver)
	}
	if len(st.finished) != 1 || st.finished[0].status != lead.TestLead {
		t.Fatalf("a test lead ends %+v", st.finished)
	}
}
