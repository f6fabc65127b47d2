package runner

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/lead"
)

func methodYAML(url, method string, maxSales int, orders ...string) string {
	var buyers strings.Builder
	for i, o := range orders {
		fmt.Fprintf(&buyers, `
  - id: b%d
    delivery: {type: webhook, url: %q, secret: %q}
    orders:
      - {campaign: c, price: %d.00, %s}`, i+1, url, secret, 10+i, o)
	}
	return fmt.Sprintf(`
campaigns:
  - id: c
    fields:
      phone: {type: phone, required: true}
      state: {type: us_state}
    distribution: %s
    max_sales: %d
sources:
  - id: src
    campaigns: [c]
    api_key_sha256: %q
buyers:%s
`, method, maxSales, sourceHash, buyers.String())
}

// postMany posts n leads to campaign c concurrently and waits for each
// to settle; it returns the settled records.
func (e *env) postMany(n, base int, fields func(i int) map[string]any) []*lead.Record {
	return e.postManyFields("c", n, base, fields)
}

// postManyTo posts n leads with the same extra fields to a campaign.
func (e *env) postManyTo(campaign string, n, base int, extra map[string]any) []*lead.Record {
	return e.postManyFields(campaign, n, base, func(int) map[string]any { return extra })
}

func (e *env) postManyFields(campaign string, n, base int, fields func(i int) map[string]any) []*lead.Record {
	e.t.Helper()
	ids := make([]string, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f := map[string]any{"phone": phone(base + i)}
			if fields != nil {
				for k, v := range fields(i) {
					f[k] = v
				}
			}
			body := map[string]any{"campaign": campaign, "fields": f}
			r := e.doJSON("POST", "/v1/leads", body)
			if r.Status != 202 {
				e.t.Errorf("post: %d %v", r.Status, r.Body)
				return
			}
			ids[i] = r.Body["lead_id"].(string)
		}()
	}
	wg.Wait()
	recs := make([]*lead.Record, 0, n)
	for _, id := range ids {
		e.waitStatus(id)
		rec, err := e.r.App.Store.GetLead(context.Background(), id, true)
		if err != nil {
			e.t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	return recs
}

func salesByBuyer(recs []*lead.Record) map[string]int {
	out := map[string]int{}
	for _, r := range recs {
		for _, s := range r.Sales {
			out[s.Buyer]++
		}
	}
	return out
}

// Round robin under 8 concurrent router workers: the counts of the three
// buyers eligible for every lead differ by at most one.
func TestRoundRobinIsFairUnderConcurrency(t *testing.T) {
	b := newBuyer(t)
	e := start(t, methodYAML(b.srv.URL, "round_robin", 1, "priority: 1", "priority: 1", "priority: 1"), func(o *Options) { o.Pollers = 8 })
	got := salesByBuyer(e.postMany(60, 2000, nil))
	lo, hi := 1<<30, 0
	for _, id := range []string{"b1", "b2", "b3"} {
		lo, hi = min(lo, got[id]), max(hi, got[id])
	}
	if hi-lo > 1 || got["b1"]+got["b2"]+got["b3"] != 60 {
		t.Fatalf("round robin counts %v: spread %d", got, hi-lo)
	}
}

// Weighted 3:2:1 over 60 leads: each within one lead of its share.
func TestWeightedIsProportional(t *testing.T) {
	b := newBuyer(t)
	e := start(t, methodYAML(b.srv.URL, "weighted", 1, "weight: 3", "weight: 2", "weight: 1"), func(o *Options) { o.Pollers = 8 })
	got := salesByBuyer(e.postMany(60, 3000, nil))
	for id, want := range map[string]int{"b1": 30, "b2": 20, "b3": 10} {
		if d := got[id] - want; d < -1 || d > 1 {
			t.Fatalf("weighted counts %v; want 30/20/10 within one", got)
		}
	}
}

// A shared campaign (max_sales 2) sells each lead to two distinct buyers.
func TestSharedLeadSoldToDistinctBuyers(t *testing.T) {
	b := newBuyer(t)
	e := start(t, methodYAML(b.srv.URL, "waterfall", 2, "priority: 1", "priority: 2", "priority: 3"), nil)
	recs := e.postMany(10, 4000, nil)
	for i, r := range recs {
		for deadline := time.Now().Add(20 * time.Second); len(r.Sales) < 2 && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
			r, _ = e.r.App.Store.GetLead(context.Background(), r.ID, true)
		}
		recs[i] = r
		if r.Status != lead.Sold || len(r.Sales) != 2 || r.Sales[0].Buyer == r.Sales[1].Buyer {
			t.Fatalf("shared lead %s: %s, sales %+v", r.ID, r.Status, r.Sales)
		}
		if r.Sales[0].Buyer != "b1" || r.Sales[1].Buyer != "b2" || r.Revenue() != 2100 {
			t.Fatalf("waterfall shared sale: %+v", r.Sales)
		}
	}
	if len(b.received()) != 20 {
		t.Fatalf("buyers received %d posts, want 20", len(b.received()))
	}
}

// An order's own dedupe refuses a phone its buyer already bought, and the
// timeline says so; a paused buyer gets nothing.
func TestBuyerDedupeAndPause(t *testing.T) {
	b := newBuyer(t)
	e := start(t, methodYAML(b.srv.URL, "waterfall", 1,
		"priority: 1, dedupe: {fields: [phone], window: 30d}",
		"priority: 2",
		"priority: 3, status: paused"), nil)
	first := e.postMany(1, 5000, nil)[0]
	second := e.postMany(1, 5000, nil)[0] // same phone: the campaign has no dedupe of its own
	if first.Sales[0].Buyer != "b1" || second.Sales[0].Buyer != "b2" {
		t.Fatalf("first sold to %s, second to %s; want b1 then b2", first.Sales[0].Buyer, second.Sales[0].Buyer)
	}
	reasons := map[string]string{}
	for _, ev := range second.Events {
		if ev.Type != lead.EventRouted {
			continue
		}
		for _, v := range ev.Data["verdicts"].([]any) {
			m := v.(map[string]any)
			r, _ := m["reason"].(string)
			reasons[m["order"].(string)] = r
		}
	}
	if reasons["b1/c"] != "already_bought" || reasons["b3/c"] != "order_paused" {
		t.Fatalf("explanation: %v", reasons)
	}
}

// An unsold lead is re-routed by an operator after a configuration change.
func TestRerouteAfterConfigChange(t *testing.T) {
	b := newBuyer(t)
	cfg := methodYAML(b.srv.URL, "waterfall", 1, "filters: [{field: state, op: eq, value: CA}]")
	e := start(t, cfg, nil)
	rec := e.postMany(1, 6000, func(int) map[string]any { return map[string]any{"state": "NV"} })[0]
	if rec.Status != lead.Unsold {
		t.Fatalf("status %s", rec.Status)
	}
	auth := map[string]string{"Authorization": "Bearer " + adminToken}
	if r := e.do("POST", "/v1/admin/leads/"+rec.ID+"/reroute", "", "", auth); r.Status != 202 {
		t.Fatalf("reroute of an unsold lead: %d %v", r.Status, r.Body)
	}
	if st := e.waitStatus(rec.ID); st != "unsold" {
		t.Fatalf("rerouted without a config change: %s", st)
	}
	newCfg := strings.Replace(cfg, "value: CA", "value: NV", 1)
	if r := e.do("PUT", "/v1/admin/config", "application/yaml", newCfg, auth); r.Status != 200 {
		t.Fatalf("config: %d %v", r.Status, r.Body)
	}
	if r := e.do("POST", "/v1/admin/leads/"+rec.ID+"/reroute", "", "", auth); r.Status != 202 {
		t.Fatalf("reroute: %d %v", r.Status, r.Body)
	}
	if st := e.waitStatus(rec.ID); st != "sold" {
		t.Fatalf("after reroute: %s", st)
	}
	if r := e.do("POST", "/v1/admin/leads/"+rec.ID+"/reroute", "", "", auth); r.Status != 409 {
		t.Fatalf("reroute of a sold lead: %d", r.Status)
	}
}
