package runner

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/localstack/emulator"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/money"
)

func contentionYAML(url string) string {
	return fmt.Sprintf(`
timezone: %[4]q
campaigns:
  - id: auto
    fields:
      phone: {type: phone, required: true}
      email: {type: email}
      state: {type: us_state, required: true}
    dedupe: {fields: [phone, email], window: 720h}
sources:
  - id: src
    campaigns: [auto]
    api_key_sha256: %[1]q
    payout: {type: fixed, amount: 4.00}
    rate_limit: 1000
buyers:
  - id: first
    timezone: %[4]q
    delivery: {type: webhook, url: %[2]q, secret: %[3]q}
    orders:
      - {campaign: auto, price: 30.00, priority: 1, caps: {daily: 60}}
  - id: second
    timezone: %[4]q
    delivery: {type: webhook, url: %[2]q, secret: %[3]q}
    orders:
      - {campaign: auto, price: 20.00, priority: 2, caps: {daily: 60}}
  - id: third
    timezone: %[4]q
    delivery: {type: webhook, url: %[2]q, secret: %[3]q}
    orders:
      - {campaign: auto, price: 10.00, priority: 3}
`, sourceHash, url, secret, noonZone())
}

// TestLoadUnderContention is a user's traffic on an emulator that
// conflicts as DynamoDB does (every transaction holds its items for 15 ms,
// a colliding one is cancelled with TransactionConflict): 200 leads from
// 24 concurrent posters into one waterfall campaign whose first two buyers
// are capped at 60. Every post is accepted, every lead sold once, the caps
// hold exactly, and the P&L equals the lead records — and the emulator
// shows that transactions did collide.
func TestLoadUnderContention(t *testing.T) {
	emulator.Contention(t, 15)
	before := emulator.Stats(t)
	b := newBuyer(t)
	e := start(t, contentionYAML(b.srv.URL), func(o *Options) { o.Pollers = 4 })

	const leads, posters = 200, 24
	var next atomic.Int64
	ids := make([]string, leads)
	var refused sync.Map
	var wg sync.WaitGroup
	for range posters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= leads {
					return
				}
				r := e.post(map[string]any{"phone": phone(i), "email": fmt.Sprintf("c%d@example.com", i), "state": "CA"}, nil)
				if r.Status != http.StatusAccepted {
					refused.Store(i, fmt.Sprintf("%d %v", r.Status, r.Body))
					continue
				}
				ids[i] = r.Body["lead_id"].(string)
			}
		}()
	}
	wg.Wait()
	refused.Range(func(k, v any) bool {
		t.Errorf("post %v: %v", k, v)
		return true
	})
	if t.Failed() {
		t.FailNow()
	}

	ctx := context.Background()
	sold := map[string]int{}
	var revenue, cost money.Amount
	for _, id := range ids {
		if st := e.waitStatus(id); st != "sold" {
			t.Fatalf("lead %s ended %s", id, st)
		}
		rec, err := e.r.App.Store.GetLead(ctx, id, true)
		if err != nil {
			t.Fatal(err)
		}
		if len(rec.Sales) != 1 || rec.Status != lead.Sold {
			t.Fatalf("lead %s: %d sales, status %s", id, len(rec.Sales), rec.Status)
		}
		sold[rec.Sales[0].Buyer]++
		revenue += rec.Revenue()
		cost += rec.Payout()
	}
	if sold["first"] != 60 || sold["second"] != 60 || sold["third"] != 80 {
		t.Fatalf("sales by buyer %v; want first 60, second 60, third 80", sold)
	}
	// No lead reached a buyer twice.
	seen := map[string]bool{}
	for _, body := range b.received() {
		id := strings.SplitN(strings.SplitN(string(body), `"lead_id":"`, 2)[1], `"`, 2)[0]
		if seen[id] {
			t.Fatalf("lead %s posted twice", id)
		}
		seen[id] = true
	}
	if len(seen) != leads {
		t.Fatalf("%d leads posted to buyers, want %d", len(seen), leads)
	}
	// The P&L, folded from the stream, equals the lead records.
	day := time.Now().In(mustZone(t, noonZone())).Format(time.DateOnly)
	rows := e.report(day, day, "campaign")
	if len(rows) != 1 || rows[0].Leads != leads || rows[0].Sold != leads || rows[0].Revenue != revenue || rows[0].Cost != cost {
		t.Fatalf("P&L %+v; want %d leads sold, revenue %s, cost %s", rows, leads, revenue, cost)
	}
	after := emulator.Stats(t)
	conflicts := after.TransactionConflicts + after.SingleWriteConflicts - before.TransactionConflicts - before.SingleWriteConflicts
	t.Logf("%d transactions, %d collisions retried", after.Transactions-before.Transactions, conflicts)
	if conflicts == 0 {
		t.Fatal("no transaction collided: the emulator's contention mode is off, and this test proves nothing")
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
