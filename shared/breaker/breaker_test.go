package breaker

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
)

// memStore keeps breakers in memory with the table's conditions, and
// counts the requests made of it.
type memStore struct {
	mu       sync.Mutex
	items    map[string]State
	requests map[string]int
}

func newMemStore() *memStore {
	return &memStore{items: map[string]State{}, requests: map[string]int{}}
}

func (m *memStore) Breakers(context.Context) (map[string]State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests["Breakers"]++
	out := map[string]State{}
	for k, v := range m.items {
		out[k] = v
	}
	return out, nil
}

func (m *memStore) BreakerFailure(_ context.Context, buyer string) (State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests["BreakerFailure"]++
	s := m.items[buyer]
	s.Failures++
	m.items[buyer] = s
	return s, nil
}

func (m *memStore) OpenBreaker(_ context.Context, buyer, leadID string, seen, until time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests["OpenBreaker"]++
	s, ok := m.items[buyer]
	if !ok || !s.OpenUntil.Equal(seen) {
		return false, nil
	}
	s.OpenUntil, s.TrialUntil, s.OpenedBy = until, time.Time{}, leadID
	m.items[buyer] = s
	return true, nil
}

func (m *memStore) ClaimBreakerTrial(_ context.Context, buyer string, openUntil, now, until time.Time) (bool, State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests["ClaimBreakerTrial"]++
	s := m.items[buyer]
	if s.OpenUntil.IsZero() || !s.OpenUntil.Equal(openUntil) || now.Before(s.TrialUntil) {
		return false, s, nil
	}
	s.TrialUntil = until
	m.items[buyer] = s
	return true, State{}, nil
}

func (m *memStore) CloseBreaker(_ context.Context, buyer string) (State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests["CloseBreaker"]++
	old := m.items[buyer]
	m.items[buyer] = State{}
	return old, nil
}

func (m *memStore) count(name string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.requests[name]
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func testBuyer() (*config.Buyer, []config.OrderRef) {
	b := &config.Buyer{ID: "acme", Delivery: config.Delivery{Breaker: &config.Breaker{Failures: 3, Cooldown: config.Duration(time.Minute)}}}
	other := &config.Buyer{ID: "zeta"}
	return b, []config.OrderRef{
		{Buyer: b, Order: &config.Order{ID: "auto"}},
		{Buyer: b, Order: &config.Order{ID: "home"}},
		{Buyer: other, Order: &config.Order{ID: "auto"}},
	}
}

func setup() (*Breakers, *memStore, *fakeClock) {
	m := newMemStore()
	c := &fakeClock{t: time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)}
	return New(m, 5*time.Second, c.now, slog.New(slog.NewJSONHandler(io.Discard, nil))), m, c
}

func excluded(t *testing.T, got map[string]string, keys ...string) {
	t.Helper()
	if len(got) != len(keys) {
		t.Fatalf("excluded %v, want %v", got, keys)
	}
	for _, k := range keys {
		if got[k] != ReasonOpen {
			t.Fatalf("excluded %v, want %v with %s", got, keys, ReasonOpen)
		}
	}
}

func TestOpensAfterConsecutiveFailures(t *testing.T) {
	b, m, _ := setup()
	buyer, orders := testBuyer()
	ctx := context.Background()
	for i := 1; i <= 2; i++ {
		if ch, err := b.Failure(ctx, buyer, "lead-"+string(rune('0'+i))); err != nil || ch != ChangeNone {
			t.Fatalf("failure %d: %q %v", i, ch, err)
		}
		excluded(t, b.Exclude(ctx, orders))
	}
	ch, err := b.Failure(ctx, buyer, "lead-3")
	if err != nil || ch != ChangeOpened {
		t.Fatalf("third failure: %q %v, want opened", ch, err)
	}
	if m.items["acme"].OpenedBy != "lead-3" {
		t.Fatalf("stored breaker %+v", m.items["acme"])
	}
	excluded(t, b.Exclude(ctx, orders), "acme/auto", "acme/home")
	// Failures of leads in flight while open change nothing.
	if ch, _ := b.Failure(ctx, buyer, "lead-4"); ch != ChangeNone {
		t.Fatalf("failure while open: %q", ch)
	}
}

func TestSuccessEndsTheStreak(t *testing.T) {
	b, m, _ := setup()
	buyer, orders := testBuyer()
	ctx := context.Background()
	b.Failure(ctx, buyer, "l1")
	b.Failure(ctx, buyer, "l2")
	if ch, err := b.Success(ctx, "acme", "l3"); err != nil || ch != ChangeNone {
		t.Fatalf("success: %q %v", ch, err)
	}
	if m.items["acme"].Failures != 0 {
		t.Fatalf("streak not reset: %+v", m.items["acme"])
	}
	b.Failure(ctx, buyer, "l4")
	b.Failure(ctx, buyer, "l5")
	excluded(t, b.Exclude(ctx, orders))
}

func TestHalfOpenLetsOneLeadThroughThenCloses(t *testing.T) {
	b, m, clock := setup()
	buyer, orders := testBuyer()
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		b.Failure(ctx, buyer, "l")
	}
	clock.advance(59 * time.Second)
	excluded(t, b.Exclude(ctx, orders), "acme/auto", "acme/home")
	clock.advance(time.Second)
	// Half-open: the first lead gets the buyer (all its orders), the next
	// ones don't while the trial is out.
	excluded(t, b.Exclude(ctx, orders))
	excluded(t, b.Exclude(ctx, orders), "acme/auto", "acme/home")
	// Another process with its own snapshot cannot claim the trial.
	other := New(m, 5*time.Second, clock.now, b.log)
	excluded(t, other.Exclude(ctx, orders), "acme/auto", "acme/home")
	if n := m.count("ClaimBreakerTrial"); n != 1 {
		t.Fatalf("%d trial claims, want 1 (the other process reads the trial in its snapshot)", n)
	}
	ch, err := b.Success(ctx, "acme", "trial-lead")
	if err != nil || ch != ChangeClosed {
		t.Fatalf("trial success: %q %v, want closed", ch, err)
	}
	excluded(t, b.Exclude(ctx, orders))
	if s := m.items["acme"]; s.Failures != 0 || !s.OpenUntil.IsZero() {
		t.Fatalf("stored breaker after closing %+v", s)
	}
}

func TestHalfOpenFailureReopens(t *testing.T) {
	b, m, clock := setup()
	buyer, orders := testBuyer()
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		b.Failure(ctx, buyer, "l")
	}
	clock.advance(time.Minute)
	excluded(t, b.Exclude(ctx, orders)) // the trial lead
	ch, err := b.Failure(ctx, buyer, "trial-lead")
	if err != nil || ch != ChangeOpened {
		t.Fatalf("trial failure: %q %v, want opened", ch, err)
	}
	if s := m.items["acme"]; !s.OpenUntil.Equal(clock.t.Add(time.Minute)) || !s.TrialUntil.IsZero() || s.OpenedBy != "trial-lead" {
		t.Fatalf("stored breaker after re-opening %+v", s)
	}
	excluded(t, b.Exclude(ctx, orders), "acme/auto", "acme/home")
	clock.advance(time.Minute)
	excluded(t, b.Exclude(ctx, orders))
}

func TestExpiredTrialIsClaimedAgain(t *testing.T) {
	b, _, clock := setup()
	buyer, orders := testBuyer()
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		b.Failure(ctx, buyer, "l")
	}
	clock.advance(time.Minute)
	excluded(t, b.Exclude(ctx, orders)) // a trial whose outcome never comes
	clock.advance(30 * time.Second)
	excluded(t, b.Exclude(ctx, orders), "acme/auto", "acme/home")
	clock.advance(30 * time.Second)
	excluded(t, b.Exclude(ctx, orders))
}

func TestHappyPathCostsNoRequestPerLead(t *testing.T) {
	b, m, clock := setup()
	_, orders := testBuyer()
	ctx := context.Background()
	for i := 0; i < 100; i++ {
		excluded(t, b.Exclude(ctx, orders))
		if ch, err := b.Success(ctx, "acme", "l"); err != nil || ch != ChangeNone {
			t.Fatal(ch, err)
		}
		clock.advance(100 * time.Millisecond) // 10 s in all: two TTLs
	}
	total := 0
	for _, n := range m.requests {
		total += n
	}
	if m.count("Breakers") != 2 || total != 2 {
		t.Fatalf("requests for 100 leads: %v; want 2 snapshot reads and nothing else", m.requests)
	}
}

// Quotes leave out a buyer whose breaker is open or half-open, and never
// spend the half-open breaker's one trial, which a posted lead then gets.
func TestQuotesLeaveOutBrokenBuyersWithoutClaimingTheTrial(t *testing.T) {
	b, m, clock := setup()
	buyer, orders := testBuyer()
	ctx := context.Background()
	excluded(t, b.ExcludeQuoting(ctx, orders))
	for i := 0; i < 3; i++ {
		b.Failure(ctx, buyer, "l")
	}
	excluded(t, b.ExcludeQuoting(ctx, orders), "acme/auto", "acme/home")
	clock.advance(time.Minute) // half-open
	excluded(t, b.ExcludeQuoting(ctx, orders), "acme/auto", "acme/home")
	if n := m.count("ClaimBreakerTrial"); n != 0 {
		t.Fatalf("a quote claimed the trial (%d claims)", n)
	}
	excluded(t, b.Exclude(ctx, orders)) // the posted lead gets the trial
}
