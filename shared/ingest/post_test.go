package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/queue"
	"github.com/leadrelay/leadrelay/shared/ratelimit"
	"github.com/leadrelay/leadrelay/shared/store"
)

// recordingStore answers PutLead with err and records what it was asked.
type recordingStore struct {
	Store
	err        error
	put        []store.NewLead
	duplicates []string
	lead       *lead.Record
}

func (s *recordingStore) PutLead(_ context.Context, in store.NewLead) error {
	s.put = append(s.put, in)
	return s.err
}

func (s *recordingStore) GetLead(context.Context, string, bool) (*lead.Record, error) {
	if s.lead == nil {
		return nil, store.ErrNotFound
	}
	return s.lead, nil
}

func (s *recordingStore) CountDuplicate(_ context.Context, id, _, _ string, _ time.Time) error {
	s.duplicates = append(s.duplicates, id)
	return nil
}

type recordingQueue struct {
	err    error
	routed []queue.Route
}

func (q *recordingQueue) Route(_ context.Context, m queue.Route) error {
	q.routed = append(q.routed, m)
	return q.err
}

func postFixture(t *testing.T) (*Handler, *recordingStore, *recordingQueue, time.Time) {
	t.Helper()
	cfg, err := config.Parse([]byte(benchConfig))
	if err != nil {
		t.Fatal(err)
	}
	st, q := &recordingStore{}, &recordingQueue{}
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	h := &Handler{
		Store: st, Queue: q, Configs: fixedConfig{config.NewIndex(cfg)},
		Now: func() time.Time { return now }, NewID: func() string { return "L1" },
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	}
	return h, st, q, now
}

func postLead(t *testing.T, h *Handler, headers map[string]string) httpapi.Response {
	t.Helper()
	req := httpapi.Request{HTTPMethod: "POST", Path: "/v1/leads", Body: benchLead,
		Headers: map[string]string{"Content-Type": "application/json", "X-API-Key": "test-source-key"}}
	for k, v := range headers {
		req.Headers[k] = v
	}
	r, err := h.Handle(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func errorCode(t *testing.T, r httpapi.Response) string {
	t.Helper()
	var body httpapi.ErrorBody
	if err := json.Unmarshal([]byte(r.Body), &body); err != nil {
		t.Fatalf("error body %q: %v", r.Body, err)
	}
	return body.Error.Code
}

func TestPostWritesTheLeadWithItsClaimsThenQueuesIt(t *testing.T) {
	h, st, q, now := postFixture(t)
	r := postLead(t, h, map[string]string{"Idempotency-Key": "k1"})
	if r.StatusCode != 202 {
		t.Fatalf("post: %d %s", r.StatusCode, r.Body)
	}
	if len(st.put) != 1 {
		t.Fatalf("%d writes", len(st.put))
	}
	in := st.put[0]
	if in.Record.ID != "L1" || in.Record.Status != lead.Received || !in.Record.CreatedAt.Equal(now) || in.Record.Fields["state"] != "CA" {
		t.Fatalf("record %+v", in.Record)
	}
	if len(in.Dedupe) != 2 || len(in.Contacts) != 2 || in.Idempotency == nil || in.Idempotency.Key != "k1" {
		t.Fatalf("dedupe %+v, contacts %+v, idempotency %+v", in.Dedupe, in.Contacts, in.Idempotency)
	}
	if len(in.Record.Events) != 2 || in.Record.Events[0].Type != lead.EventReceived || in.Record.Events[1].Type != lead.EventScored {
		t.Fatalf("events %+v", in.Record.Events)
	}
	if len(q.routed) != 1 || q.routed[0].Lead.ID != "L1" || q.routed[0].Seq != 0 {
		t.Fatalf("routed %+v", q.routed)
	}
}

func TestAStoredLeadIsAcceptedEvenIfItsMessageFails(t *testing.T) {
	h, st, q, _ := postFixture(t)
	q.err = errors.New("SQS is down")
	if r := postLead(t, h, nil); r.StatusCode != 202 || len(st.put) != 1 {
		t.Fatalf("post with a failing queue: %d %s; the lead is stored, so it is accepted (the sweeper queues it)", r.StatusCode, r.Body)
	}
}

func TestPostAnswersTheStoresRefusals(t *testing.T) {
	cases := []struct {
		err    error
		status int
		code   string
	}{
		{&store.DuplicateError{Field: "phone", Of: "L0"}, 409, "duplicate"},
		{&store.SuppressedError{Field: "email", Kind: store.ContactEmail, List: "dnc"}, 403, "suppressed"},
		{store.ErrPingClaimed, 409, "ping_claimed"},
		{store.ErrBusy, 503, "unavailable"},
	}
	for _, c := range cases {
		h, st, q, _ := postFixture(t)
		st.err = c.err
		r := postLead(t, h, nil)
		if r.StatusCode != c.status || errorCode(t, r) != c.code || len(q.routed) != 0 {
			t.Errorf("%v: %d %s (%d routed); want %d %s", c.err, r.StatusCode, r.Body, len(q.routed), c.status, c.code)
		}
		if _, dup := c.err.(*store.DuplicateError); dup && (len(st.duplicates) != 1 || st.duplicates[0] != "L1") {
			t.Errorf("a duplicate is counted once, by its own id: %v", st.duplicates)
		}
		if c.status == 429 && r.Headers["Retry-After"] == "" {
			t.Error("429 without Retry-After")
		}
	}
}

func TestAReplayQueuesALeadStillWaitingForRouting(t *testing.T) {
	h, st, q, now := postFixture(t)
	st.err = &store.ReplayError{LeadID: "L0", Response: []byte(`{"lead_id":"L0","status":"accepted"}`)}
	st.lead = &lead.Record{Lead: lead.Lead{ID: "L0", CreatedAt: now.Add(-time.Minute)}, Status: lead.Received}
	r := postLead(t, h, map[string]string{"Idempotency-Key": "k1"})
	if r.StatusCode != 202 || r.Body != `{"lead_id":"L0","status":"accepted"}` {
		t.Fatalf("replay: %d %s", r.StatusCode, r.Body)
	}
	if len(q.routed) != 1 || q.routed[0].Lead.ID != "L0" || !q.routed[0].Recovered {
		t.Fatalf("the waiting lead is queued again: %+v", q.routed)
	}
	// A lead that moved on is not queued again.
	st.lead.Status, st.lead.Seq = lead.Sold, 2
	postLead(t, h, map[string]string{"Idempotency-Key": "k1"})
	if len(q.routed) != 1 {
		t.Fatalf("routed %d times", len(q.routed))
	}
}

func TestBadInputWritesNothing(t *testing.T) {
	h, st, q, _ := postFixture(t)
	req := httpapi.Request{HTTPMethod: "POST", Path: "/v1/leads", Body: `{"campaign":"auto","fields":{"phone":"nope","state":"CA"}}`,
		Headers: map[string]string{"Content-Type": "application/json", "X-API-Key": "test-source-key"}}
	r, _ := h.Handle(t.Context(), req)
	if r.StatusCode != 400 || errorCode(t, r) != "validation_failed" || len(st.put) != 0 || len(q.routed) != 0 {
		t.Fatalf("bad lead: %d %s; %d writes, %d routed", r.StatusCode, r.Body, len(st.put), len(q.routed))
	}
}

// limits counts what it is asked and refuses past most.
type limits struct {
	asked []string
	rates []int
	most  int
	err   error
}

func (l *limits) Allow(_ context.Context, what string, rate int) (ratelimit.Decision, error) {
	l.asked = append(l.asked, what)
	l.rates = append(l.rates, rate)
	if len(l.asked) > l.most {
		return ratelimit.Decision{RetryAfter: 4 * time.Second}, l.err
	}
	return ratelimit.Decision{Allowed: true}, l.err
}

func TestEveryPostCountsAgainstTheSourcesRate(t *testing.T) {
	h, st, q, _ := postFixture(t)
	lim := &limits{most: 3}
	h.Limits = lim
	// A valid lead, an invalid one and a duplicate all count.
	if r := postLead(t, h, nil); r.StatusCode != 202 {
		t.Fatalf("first: %d %s", r.StatusCode, r.Body)
	}
	bad, err := h.Handle(t.Context(), httpapi.Request{HTTPMethod: "POST", Path: "/v1/leads", Body: `{"campaign":`,
		Headers: map[string]string{"Content-Type": "application/json", "X-API-Key": "test-source-key"}})
	if err != nil || bad.StatusCode != 400 {
		t.Fatalf("invalid: %d %v", bad.StatusCode, err)
	}
	st.err = &store.DuplicateError{Field: "phone", Of: "L0"}
	if r := postLead(t, h, nil); r.StatusCode != 409 {
		t.Fatalf("duplicate: %d", r.StatusCode)
	}
	st.err = nil
	written, routed := len(st.put), len(q.routed)
	r := postLead(t, h, nil)
	if r.StatusCode != 429 || errorCode(t, r) != "rate_limited" || r.Headers["Retry-After"] != "4" {
		t.Fatalf("over the rate: %d %v %s", r.StatusCode, r.Headers, r.Body)
	}
	if len(st.put) != written || len(q.routed) != routed {
		t.Fatal("a refused post wrote or queued")
	}
	if len(lim.asked) != 4 || lim.asked[0] != "leads:src" || lim.rates[0] != 50 { // the default rate
		t.Fatalf("counted %v at %v", lim.asked, lim.rates)
	}
	// A bad key is not counted against anyone (API Gateway limits those).
	if r := postLead(t, h, map[string]string{"X-API-Key": "nope"}); r.StatusCode != 401 || len(lim.asked) != 4 {
		t.Fatalf("bad key: %d, %d counted", r.StatusCode, len(lim.asked))
	}
	// A failing count lets the lead through.
	lim.most, lim.err = 100, errors.New("throttled")
	if r := postLead(t, h, nil); r.StatusCode != 202 {
		t.Fatalf("count failed: %d", r.StatusCode)
	}
}
