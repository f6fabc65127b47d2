package sweeper

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/queue"
	"github.com/leadrelay/leadrelay/shared/store"
)

// fakeStore holds leads by id and the index's lists.
type fakeStore struct {
	cursor  store.SweepCursor
	created map[string][]string // campaign → ids (any time: the fake ignores windows)
	due     []store.RoundRef
	leads   map[string]*lead.Record
	notes   map[string][]lead.Event
	dues    map[string]time.Time
	asked   []store.RoundRef
}

func (f *fakeStore) LoadSweepCursor(context.Context) (store.SweepCursor, error) { return f.cursor, nil }
func (f *fakeStore) SaveSweepCursor(_ context.Context, c store.SweepCursor) error {
	f.cursor = c
	return nil
}
func (f *fakeStore) CreatedBetween(_ context.Context, campaign string, _, _ time.Time) ([]string, error) {
	return f.created[campaign], nil
}
func (f *fakeStore) DueBetween(context.Context, time.Time, time.Time) ([]store.RoundRef, error) {
	return f.due, nil
}
func (f *fakeStore) RoundsExist(_ context.Context, refs []store.RoundRef) (map[store.RoundRef]bool, error) {
	f.asked = append(f.asked, refs...)
	out := map[store.RoundRef]bool{}
	for _, r := range refs {
		if l := f.leads[r.LeadID]; l != nil && l.Seq >= r.Seq {
			out[r] = true
		}
	}
	return out, nil
}
func (f *fakeStore) GetLead(_ context.Context, id string, _ bool) (*lead.Record, error) {
	if l := f.leads[id]; l != nil {
		c := *l
		c.Events = append(append([]lead.Event(nil), l.Events...), f.notes[id]...)
		return &c, nil
	}
	return nil, store.ErrNotFound
}
func (f *fakeStore) Note(_ context.Context, id string, _ int, evs []lead.Event, due time.Time) error {
	f.notes[id] = append(f.notes[id], evs...)
	f.dues[id] = due
	if !due.IsZero() {
		f.due = []store.RoundRef{{LeadID: id, Seq: f.leads[id].Seq}}
	}
	return nil
}

type fakeQueue struct {
	routes   []queue.Route
	delivers []queue.Deliver
	dead     []string
}

func (q *fakeQueue) Route(_ context.Context, m queue.Route) error {
	q.routes = append(q.routes, m)
	return nil
}
func (q *fakeQueue) Deliver(_ context.Context, m queue.Deliver) error {
	q.delivers = append(q.delivers, m)
	return nil
}
func (q *fakeQueue) DeadLetterRoute(_ context.Context, m queue.Route, _ string) error {
	q.dead = append(q.dead, m.Lead.ID)
	return nil
}
func (q *fakeQueue) DeadLetter(_ context.Context, m queue.Deliver, _ string) error {
	q.dead = append(q.dead, m.Lead.ID)
	return nil
}

type configs struct{ ix *config.Index }

func (c configs) Get(context.Context) (*config.Index, error) { return c.ix, nil }

func fixture(t *testing.T, now time.Time) (*Handler, *fakeStore, *fakeQueue) {
	t.Helper()
	c, err := config.Parse([]byte(`
campaigns:
  - id: auto
    fields: {phone: {type: phone}}
    max_sales: 2
`))
	if err != nil {
		t.Fatal(err)
	}
	st := &fakeStore{created: map[string][]string{}, leads: map[string]*lead.Record{}, notes: map[string][]lead.Event{}, dues: map[string]time.Time{}}
	q := &fakeQueue{}
	h := &Handler{Store: st, Queue: q, Configs: configs{config.NewIndex(c)}, Now: func() time.Time { return now },
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	return h, st, q
}

func rec(id string, seq int, status lead.Status) *lead.Record {
	return &lead.Record{Lead: lead.Lead{ID: id, Campaign: "auto"}, Seq: seq, Status: status}
}

func TestSweepSendsEachStuckLeadItsMessage(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	h, st, q := fixture(t, now)
	offer := &lead.Assignment{Buyer: "acme", Order: "o1"}
	st.leads["new"] = rec("new", 0, lead.Received)        // routing message lost
	st.leads["fine"] = rec("fine", 2, lead.Sold)          // sold
	st.leads["offered"] = rec("offered", 1, lead.Routing) // delivery message lost, past due
	st.leads["offered"].Assignment, st.leads["offered"].Due = offer, now.Add(-time.Minute)
	st.leads["slow"] = rec("slow", 1, lead.Routing) // a first offer with attempts left
	st.leads["slow"].Assignment, st.leads["slow"].Due = offer, now.Add(time.Hour)
	st.leads["unsold"] = rec("unsold", 1, lead.Unsold)      // ended in round 1
	st.leads["released"] = rec("released", 3, lead.Routing) // routing message lost after a refusal
	st.created["auto"] = []string{"new", "fine", "offered", "slow", "unsold"}
	st.due = []store.RoundRef{{LeadID: "released", Seq: 3}}
	res, err := h.Sweep(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(q.routes) != 2 || len(q.delivers) != 1 || q.delivers[0].Lead.ID != "offered" || !q.delivers[0].Recovered {
		t.Fatalf("routes %+v, delivers %+v", q.routes, q.delivers)
	}
	for _, r := range q.routes {
		if r.Lead.ID != "new" && r.Lead.ID != "released" || !r.Recovered {
			t.Fatalf("route %+v", r)
		}
	}
	if res.Resent != 3 {
		t.Fatalf("result %+v", res)
	}
	// The slow first offer is watched, due when it is due; the others are rechecked.
	if d := st.dues["slow"]; !d.Equal(st.leads["slow"].Due) || st.notes["slow"][0].Type != lead.EventWatched {
		t.Fatalf("slow lead: due %s, notes %v", d, st.notes["slow"])
	}
	if d := st.dues["new"]; !d.Equal(now.Add(DefaultRecheck)) || st.notes["new"][0].Type != lead.EventRecovered {
		t.Fatalf("recovered lead: due %s, notes %v", d, st.notes["new"])
	}
	if st.notes["fine"] != nil || st.notes["unsold"] != nil {
		t.Fatal("settled leads are left alone")
	}
	if st.cursor.Listed.IsZero() || st.cursor.Settled.IsZero() || !st.cursor.Due.Equal(now) {
		t.Fatalf("cursor %+v", st.cursor)
	}
}

func TestSweepGivesUpAfterMaxRecoveries(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	h, st, q := fixture(t, now)
	st.leads["stuck"] = rec("stuck", 0, lead.Received)
	st.created["auto"] = []string{"stuck"}
	for i := range DefaultMaxRecoveries + 1 {
		h.Now = func() time.Time { return now.Add(time.Duration(i) * (DefaultRecheck + time.Minute)) }
		if i > 0 {
			st.created["auto"] = nil // listed once; the recheck notes bring it back
		}
		if _, err := h.Sweep(t.Context()); err != nil {
			t.Fatal(err)
		}
		if i < DefaultMaxRecoveries && len(q.routes) != i+1 {
			t.Fatalf("sweep %d: %d routes", i, len(q.routes))
		}
	}
	if len(q.routes) != DefaultMaxRecoveries || len(q.dead) != 1 {
		t.Fatalf("%d routes, dead letters %v", len(q.routes), q.dead)
	}
	if last := st.notes["stuck"][len(st.notes["stuck"])-1]; last.Type != lead.EventStranded {
		t.Fatalf("last note %+v", last)
	}
}

func TestMessageOfASharedLead(t *testing.T) {
	h, _, _ := fixture(t, time.Now())
	ix, _ := h.Configs.Get(t.Context())
	r := rec("s", 2, lead.Sold)
	r.Sales = []lead.Sale{{Buyer: "a"}}
	if route, _ := Message(r, ix); route == nil || len(route.Bought) != 1 {
		t.Fatal("a shared lead with room waits for routing")
	}
	r.Sales = append(r.Sales, lead.Sale{Buyer: "b"})
	if route, deliver := Message(r, ix); route != nil || deliver != nil {
		t.Fatal("a shared lead sold max_sales times is settled")
	}
}
