package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// counter is the table's count of each window, in memory, with the
// condition TakeRate writes.
type counter struct {
	mu     sync.Mutex
	counts map[string]int
	takes  int // writes asked for
	err    error
}

func (c *counter) TakeRate(_ context.Context, what string, window time.Time, _ time.Duration, units, limit int) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.takes++
	if c.err != nil {
		return false, c.err
	}
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	k := what + "@" + window.Format(time.RFC3339)
	if c.counts[k]+units > limit {
		return false, nil
	}
	c.counts[k] += units
	return true, nil
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var start = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func TestAllowsTheRateThenRefusesUntilTheWindowEnds(t *testing.T) {
	c, clk := &counter{}, &clock{t: start.Add(3 * time.Second)}
	l := &Limiter{Counter: c, Now: clk.now}
	ctx := t.Context()
	allowed := 0
	for range 200 {
		d, err := l.Allow(ctx, "leads:s", 5) // 50 a window
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed {
			allowed++
		} else if d.RetryAfter != 7*time.Second {
			t.Fatalf("retry after %v, want the 7 s left of the window", d.RetryAfter)
		}
	}
	if allowed != 50 {
		t.Fatalf("%d allowed in a window of a 5/s rate: want 50", allowed)
	}
	// 50 requests in leases of 2 (50/20): 25 writes, then one try of a
	// lease and one of a single request; the refusals after write nothing.
	if c.takes != 27 {
		t.Fatalf("%d writes for 200 requests", c.takes)
	}
	// Another source and the same source's pings count apart.
	if d, _ := l.Allow(ctx, "leads:other", 5); !d.Allowed {
		t.Fatal("another source refused")
	}
	if d, _ := l.Allow(ctx, "pings:s", 5); !d.Allowed {
		t.Fatal("the source's pings refused for its leads")
	}
	// The next window takes requests again.
	clk.add(7 * time.Second)
	if d, _ := l.Allow(ctx, "leads:s", 5); !d.Allowed {
		t.Fatal("refused in the next window")
	}
}

func TestRetryAfterIsAtLeastASecond(t *testing.T) {
	c, clk := &counter{}, &clock{t: start.Add(Window - time.Millisecond)}
	l := &Limiter{Counter: c, Now: clk.now}
	for range 11 {
		d, _ := l.Allow(t.Context(), "k", 1)
		if !d.Allowed && d.RetryAfter != time.Second {
			t.Fatalf("retry after %v", d.RetryAfter)
		}
	}
}

// Instances (limiters) share the count: together they never let a source
// through faster than its rate, and they lose at most a lease each.
func TestInstancesTogetherHoldTheRate(t *testing.T) {
	c, clk := &counter{}, &clock{t: start}
	const instances, rate = 8, 50 // 500 a window, leases of 25
	ls := make([]*Limiter, instances)
	for i := range ls {
		ls[i] = &Limiter{Counter: c, Now: clk.now}
	}
	for round := range 3 {
		var mu sync.Mutex
		allowed := 0
		var wg sync.WaitGroup
		for i := range instances {
			for range 4 { // concurrent requests on one instance (the local runner)
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 200 {
						d, err := ls[i].Allow(t.Context(), "leads:s", rate)
						if err != nil {
							t.Error(err)
							return
						}
						if d.Allowed {
							mu.Lock()
							allowed++
							mu.Unlock()
						}
					}
				}()
			}
		}
		wg.Wait()
		if most := rate * int(Window/time.Second); allowed > most || allowed < most-instances*25 {
			t.Fatalf("window %d: %d allowed of %d", round, allowed, most)
		}
		clk.add(Window)
	}
}

func TestACounterErrorLetsTheRequestThrough(t *testing.T) {
	boom := errors.New("throttled")
	l := &Limiter{Counter: &counter{err: boom}, Now: (&clock{t: start}).now}
	d, err := l.Allow(t.Context(), "k", 1)
	if !d.Allowed || !errors.Is(err, boom) {
		t.Fatalf("%+v %v", d, err)
	}
}

func TestNoRateNoCount(t *testing.T) {
	c := &counter{}
	l := &Limiter{Counter: c, Now: time.Now}
	if d, _ := l.Allow(t.Context(), "k", 0); !d.Allowed || c.takes != 0 {
		t.Fatal("a zero rate is counted")
	}
}

func TestPastWindowsAreDropped(t *testing.T) {
	clk := &clock{t: start}
	l := &Limiter{Counter: &counter{}, Now: clk.now}
	for i := range maxKeys {
		_, _ = l.Allow(t.Context(), fmt.Sprint("leads:", i), 1)
	}
	clk.add(Window)
	_, _ = l.Allow(t.Context(), "new", 1)
	if len(l.leases) != 1 {
		t.Fatalf("%d leases kept", len(l.leases))
	}
}

func BenchmarkAllow(b *testing.B) {
	l := &Limiter{Counter: &counter{}, Now: time.Now}
	for b.Loop() {
		_, _ = l.Allow(b.Context(), "lead:s", 1000)
	}
}
