// Package breaker is the per-buyer circuit breaker. After a buyer's
// delivery fails transiently Failures times in a row its breaker opens: the
// router skips the buyer (reason "breaker_open") for the cool-down, so
// leads flow to other buyers. Then the breaker is half-open: one lead is
// let through; a success closes it, a failure opens it again.
//
// Cost: the breakers live in one partition of the table, read by a single
// Query at most once per TTL per process (the configuration's TTL) and
// written only on failures and state changes, so a lead on the happy path
// costs no extra request. The price is staleness: another process sees an
// opening within one TTL, and a success resets a failure streak it did not
// know of at most one TTL late.
package breaker

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
)

// ReasonOpen is the routing reason of an order whose buyer's breaker is
// open (or whose half-open trial is out).
const ReasonOpen = "breaker_open"

// State is a buyer's circuit breaker as stored. The store writes it only
// on a delivery failure and on a state change, never on the happy path;
// this package owns its meaning.
type State struct {
	// Failures counts the buyer's consecutive transient failures.
	Failures int
	// OpenUntil is when an open breaker lets a trial lead through; zero
	// when the breaker is closed.
	OpenUntil time.Time
	// TrialUntil is how long a claimed half-open trial keeps others out.
	TrialUntil time.Time
	// OpenedBy is the lead whose failure opened the breaker.
	OpenedBy string
}

// Store is what the breakers need of the table.
type Store interface {
	Breakers(ctx context.Context) (map[string]State, error)
	BreakerFailure(ctx context.Context, buyer string) (State, error)
	OpenBreaker(ctx context.Context, buyer, leadID string, seen, until time.Time) (bool, error)
	ClaimBreakerTrial(ctx context.Context, buyer string, openUntil, now, until time.Time) (bool, State, error)
	CloseBreaker(ctx context.Context, buyer string) (State, error)
}

// Phase is where a breaker stands at an instant.
type Phase string

// Phases.
const (
	Closed   Phase = "closed"
	Open     Phase = "open"
	HalfOpen Phase = "half_open"
)

// PhaseAt is the phase of a stored breaker at now.
func PhaseAt(s State, now time.Time) Phase {
	switch {
	case s.OpenUntil.IsZero():
		return Closed
	case now.Before(s.OpenUntil):
		return Open
	}
	return HalfOpen
}

// Breakers keeps a snapshot of every buyer's breaker, read again once it
// is older than the TTL, and changes breakers on delivery outcomes. One
// value serves a process: the router's Exclude and delivery's Failure and
// Success share its snapshot.
type Breakers struct {
	store Store
	ttl   time.Duration
	now   func() time.Time
	log   *slog.Logger

	mu     sync.Mutex
	snap   map[string]State
	loaded time.Time
	// dirty are buyers this process counted failures of since it last
	// saw their breaker clean: a success must reset them.
	dirty map[string]bool
}

// New returns the breakers over the store; ttl bounds the snapshot's age.
func New(s Store, ttl time.Duration, now func() time.Time, log *slog.Logger) *Breakers {
	return &Breakers{store: s, ttl: ttl, now: now, log: log, dirty: map[string]bool{}}
}

// state returns the buyer's breaker from the snapshot, reading the store
// when the snapshot is too old. A failed read keeps the old snapshot (or
// none: every breaker closed) — a breaker must never stop leads by itself
// failing.
func (b *Breakers) state(ctx context.Context, buyer string) State {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if b.snap == nil || now.Sub(b.loaded) >= b.ttl {
		snap, err := b.store.Breakers(ctx)
		if err != nil {
			b.log.WarnContext(ctx, "read breakers; keeping the previous ones", "error", err)
			if b.snap == nil {
				b.snap = map[string]State{}
			}
		} else {
			b.snap = snap
		}
		b.loaded = now
	}
	return b.snap[buyer]
}

func (b *Breakers) set(buyer string, s State) {
	b.mu.Lock()
	if b.snap != nil {
		b.snap[buyer] = s
	}
	b.mu.Unlock()
}

// Exclude returns, for the orders given, those whose buyer's breaker keeps
// them out, with ReasonOpen. A half-open breaker lets one lead through: the
// first caller to claim its trial gets the buyer's orders; the others
// don't, until the trial's outcome or its expiry.
func (b *Breakers) Exclude(ctx context.Context, orders []config.OrderRef) map[string]string {
	out := map[string]string{}
	open := map[string]bool{}
	for _, o := range orders {
		id := o.Buyer.ID
		shut, seen := open[id]
		if !seen {
			shut = b.shut(ctx, o.Buyer)
			open[id] = shut
		}
		if shut {
			out[o.Key()] = ReasonOpen
		}
	}
	return out
}

func (b *Breakers) shut(ctx context.Context, buyer *config.Buyer) bool {
	st := b.state(ctx, buyer.ID)
	now := b.now()
	switch PhaseAt(st, now) {
	case Closed:
		return false
	case Open:
		return true
	}
	if now.Before(st.TrialUntil) {
		return true
	}
	until := now.Add(buyer.Delivery.BreakerPolicy().Cooldown.D())
	ok, cur, err := b.store.ClaimBreakerTrial(ctx, buyer.ID, st.OpenUntil, now, until)
	if err != nil {
		b.log.WarnContext(ctx, "claim breaker trial; letting the lead through", "buyer", buyer.ID, "error", err)
		return false
	}
	if !ok {
		b.set(buyer.ID, cur)
		return PhaseAt(cur, now) != Closed
	}
	st.TrialUntil = until
	b.set(buyer.ID, st)
	b.log.InfoContext(ctx, "breaker half-open: one lead let through", "buyer", buyer.ID)
	return false
}

// Change is a breaker's state change caused by a delivery outcome.
type Change string

// Changes.
const (
	ChangeNone   Change = ""
	ChangeOpened Change = "opened"
	ChangeClosed Change = "closed"
)

// Failure records a transient failure of the buyer on the lead and
// reports whether it opened the buyer's breaker (this caller alone sees
// Opened for one opening).
func (b *Breakers) Failure(ctx context.Context, buyer *config.Buyer, leadID string) (Change, error) {
	st, err := b.store.BreakerFailure(ctx, buyer.ID)
	if err != nil {
		return ChangeNone, err
	}
	b.mu.Lock()
	b.dirty[buyer.ID] = true
	b.mu.Unlock()
	b.set(buyer.ID, st)
	p := buyer.Delivery.BreakerPolicy()
	now := b.now()
	if st.Failures < p.Failures || PhaseAt(st, now) == Open {
		return ChangeNone, nil
	}
	until := now.Add(p.Cooldown.D())
	ok, err := b.store.OpenBreaker(ctx, buyer.ID, leadID, st.OpenUntil, until)
	if err != nil || !ok {
		return ChangeNone, err
	}
	st.OpenUntil, st.TrialUntil, st.OpenedBy = until, time.Time{}, leadID
	b.set(buyer.ID, st)
	b.log.WarnContext(ctx, "breaker opened: buyer paused", "buyer", buyer.ID, "lead_id", leadID,
		"failures", st.Failures, "cooldown_s", p.Cooldown.D().Seconds())
	return ChangeOpened, nil
}

// Success records that the buyer answered (accepted or refused a lead):
// its failure streak ends and an open breaker closes. It writes only when
// the breaker may hold something to clear, so the happy path costs no
// request.
func (b *Breakers) Success(ctx context.Context, buyer, leadID string) (Change, error) {
	st := b.state(ctx, buyer)
	b.mu.Lock()
	dirty := b.dirty[buyer]
	b.mu.Unlock()
	if st.Failures == 0 && st.OpenUntil.IsZero() && !dirty {
		return ChangeNone, nil
	}
	old, err := b.store.CloseBreaker(ctx, buyer)
	if err != nil {
		return ChangeNone, err
	}
	b.mu.Lock()
	delete(b.dirty, buyer)
	b.mu.Unlock()
	b.set(buyer, State{})
	if old.OpenUntil.IsZero() {
		return ChangeNone, nil
	}
	b.log.WarnContext(ctx, "breaker closed: buyer resumed", "buyer", buyer, "lead_id", leadID)
	return ChangeClosed, nil
}

// ExcludeQuoting is Exclude for price quotes (seller pings): it leaves out
// the orders of buyers whose breaker is open or half-open without claiming
// a half-open breaker's trial, which belongs to a lead that will be posted.
func (b *Breakers) ExcludeQuoting(ctx context.Context, orders []config.OrderRef) map[string]string {
	out := map[string]string{}
	now := b.now()
	for _, o := range orders {
		if PhaseAt(b.state(ctx, o.Buyer.ID), now) != Closed {
			out[o.Key()] = ReasonOpen
		}
	}
	return out
}
