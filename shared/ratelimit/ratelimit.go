// Package ratelimit holds each source to its rate: the leads it may post
// and the pings it may send a second. Every request of an authenticated
// source counts, whatever its answer (accepted, invalid, duplicate,
// no bid), so a source cannot flood the API with posts that are refused.
//
// The count is shared by every function instance, in the table, and is
// exact: a source is never let through faster than its rate. It is
// counted in windows of Window (a rate of 50 a second is 500 requests a
// window) and taken in leases: an instance takes a twentieth of a
// window's requests at a time with one conditional write and spends them
// in memory. A busy source's window item is written a few times a window
// by each instance, never once a request: no hot item, no transaction to
// collide with, and a fraction of a write unit per lead (docs/scale.md).
// When a window's count is spent, each instance asks once more (for a
// single request) and then refuses the source, without writing, until the
// window ends: a flood costs nothing.
//
// What the leases cost in exactness: a lease an instance does not spend
// before its window ends is lost, so a source spread over many instances
// may be refused a little under its rate, never over it; and a source may
// spend a window's requests in a burst (API Gateway's per-route limits
// bound the bursts of all sources together).
package ratelimit

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/leadrelay/leadrelay/shared/httpapi"
)

// Window is the length of a rate window.
const Window = 10 * time.Second

// leasesPerWindow is how many leases a window's requests are taken in.
const leasesPerWindow = 20

// Counter keeps the count of each rate window (store.Store.TakeRate).
type Counter interface {
	// TakeRate adds units to the count of what's window, starting at
	// window and lasting length, if it stays at most limit; it reports
	// whether it did.
	TakeRate(ctx context.Context, what string, window time.Time, length time.Duration, units, limit int) (bool, error)
}

// Limiter counts requests against rates. The zero value is not usable:
// set Counter and Now.
type Limiter struct {
	Counter Counter
	Now     func() time.Time

	mu     sync.Mutex
	leases map[string]*lease
}

// lease is what an instance holds of one window's count.
type lease struct {
	mu     sync.Mutex // one take at a time per counted key
	window time.Time  // start of the window the lease is of
	left   int        // requests left of the lease
	spent  bool       // the window's count is spent: refuse until it ends
}

// Decision is whether a request may go ahead, and if not when to retry.
type Decision struct {
	Allowed    bool
	RetryAfter time.Duration // whole seconds, at least one
}

// Allow counts one request of what ("leads:<source>", "pings:<source>")
// against rate requests a second. On an error from the counter the
// request is allowed (a lead is worth more than the limit) and the error
// returned for the caller to log.
func (l *Limiter) Allow(ctx context.Context, what string, rate int) (Decision, error) {
	if rate <= 0 {
		return Decision{Allowed: true}, nil
	}
	now := l.Now()
	window := now.Truncate(Window)
	ls := l.lease(what, window)
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if !ls.window.Equal(window) {
		ls.window, ls.left, ls.spent = window, 0, false
	}
	if ls.left > 0 {
		ls.left--
		return Decision{Allowed: true}, nil
	}
	if ls.spent {
		return refused(now, window), nil
	}
	limit := rate * int(Window/time.Second)
	for _, units := range leaseSizes(limit) {
		ok, err := l.Counter.TakeRate(ctx, what, window, Window, units, limit)
		if err != nil {
			return Decision{Allowed: true}, fmt.Errorf("count %s against its rate: %w", what, err)
		}
		if ok {
			ls.left = units - 1
			return Decision{Allowed: true}, nil
		}
	}
	ls.spent = true
	return refused(now, window), nil
}

// leaseSizes are the leases to ask for, in turn, when a lease is spent: a
// twentieth of the window's limit, then (near the limit, when that much
// is not left) a single request.
func leaseSizes(limit int) []int {
	size := max(1, limit/leasesPerWindow)
	if size == 1 {
		return []int{1}
	}
	return []int{size, 1}
}

func refused(now, window time.Time) Decision {
	wait := window.Add(Window).Sub(now)
	secs := max(1, (wait+time.Second-1)/time.Second)
	return Decision{RetryAfter: secs * time.Second}
}

// lease is the lease of what, dropping those of windows before window
// when there are many.
func (l *Limiter) lease(what string, window time.Time) *lease {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.leases == nil {
		l.leases = map[string]*lease{}
	}
	ls, ok := l.leases[what]
	if !ok {
		if len(l.leases) >= maxKeys {
			l.prune(window)
		}
		ls = &lease{}
		l.leases[what] = ls
	}
	return ls
}

// maxKeys is how many counted keys an instance keeps before it drops
// those of past windows.
const maxKeys = 4096

func (l *Limiter) prune(window time.Time) {
	for k, ls := range l.leases {
		if ls.mu.TryLock() {
			if ls.window.Before(window) {
				delete(l.leases, k)
			}
			ls.mu.Unlock()
		}
	}
}

// Allower counts requests against rates (a *Limiter).
type Allower interface {
	Allow(ctx context.Context, what string, rate int) (Decision, error)
}

// Admit counts a source's request of a kind ("leads", "pings") with l
// (nil: no limit) against rate: nil when it may go ahead, the 429
// otherwise. A count that fails lets it through, logged.
func Admit(ctx context.Context, l Allower, log *slog.Logger, source, kind string, rate int) *httpapi.Response {
	if l == nil {
		return nil
	}
	d, err := l.Allow(ctx, kind+":"+source, rate)
	if err != nil {
		log.WarnContext(ctx, "rate count failed; the request goes through", "source", source, "kind", kind, "error", err)
	}
	if d.Allowed {
		return nil
	}
	log.InfoContext(ctx, "source over its rate", "source", source, "kind", kind, "rate", rate)
	r := Refusal(d, rate, kind)
	return &r
}

// Kinds of requests counted apart.
const (
	Leads = "leads"
	Pings = "pings"
)

// Refusal is the answer to a request over its source's rate: 429
// rate_limited, with Retry-After in whole seconds.
func Refusal(d Decision, rate int, what string) httpapi.Response {
	r := httpapi.Error(http.StatusTooManyRequests, "rate_limited",
		"over the source's rate of %d %s a second; retry after %d s", rate, what, int(d.RetryAfter/time.Second))
	r.Headers["Retry-After"] = strconv.Itoa(int(d.RetryAfter / time.Second))
	return r
}
