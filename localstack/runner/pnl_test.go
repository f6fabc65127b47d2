package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/money"
	"github.com/leadrelay/leadrelay/shared/postback"
	"github.com/leadrelay/leadrelay/shared/webhook"
)

// The agency's timezone in the money tests: UTC+14, so its date differs
// from the UTC date for most of the day.
const pnlZone = "Pacific/Kiritimati"

// pnlBuyers is the buyers' side of the money tests: one endpoint per
// buyer (/<buyer>); "rejecty" refuses about one lead in five (by a hash of
// the lead id, so a redelivered post gets the same answer).
type pnlBuyers struct {
	srv *httptest.Server
	mu  sync.Mutex
	// postbacks received, by lead id: the statuses in order.
	postbacks map[string][]postback.Body
	badSig    int
}

func newPnLBuyers(t *testing.T) *pnlBuyers {
	b := &pnlBuyers{postbacks: map[string][]postback.Body{}}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/postback" {
			var pb postback.Body
			err := webhook.Verify([]string{"pb-secret"}, r.Header, body, time.Now(), time.Minute)
			b.mu.Lock()
			if err != nil || json.Unmarshal(body, &pb) != nil {
				b.badSig++
			} else {
				b.postbacks[pb.LeadID] = append(b.postbacks[pb.LeadID], pb)
			}
			b.mu.Unlock()
			return
		}
		var post struct {
			LeadID string `json:"lead_id"`
		}
		_ = json.Unmarshal(body, &post)
		h := fnv.New32a()
		h.Write([]byte(post.LeadID))
		if r.URL.Path == "/rejecty" && h.Sum32()%5 == 0 {
			w.WriteHeader(http.StatusUnprocessableEntity)
			fmt.Fprint(w, `{"status":"rejected"}`)
			return
		}
		fmt.Fprint(w, `{"status":"ok"}`)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func pnlYAML(url string) string {
	buyer := func(id, orders string) string {
		return fmt.Sprintf(`
  - id: %[1]s
    api_key_sha256: %[2]q
    delivery: {type: webhook, url: "%[3]s/%[1]s", secret: %[4]q}
    orders:%[5]s`, id, config.HashKey("key-"+id), url, secret, orders)
	}
	return fmt.Sprintf(`
timezone: %[1]s
campaigns:
  - id: auto
    fields:
      phone: {type: phone, required: true}
      state: {type: us_state, required: true}
    dedupe: {fields: [phone], window: 24h}
  - id: home
    fields:
      phone: {type: phone, required: true}
      state: {type: us_state, required: true}
    dedupe: {fields: [phone], window: 24h}
    max_sales: 2
    return_reasons: [bad_contact, fraud]
sources:
  - id: fixed
    campaigns: [auto, home]
    api_key_sha256: %[2]q
    payout: {type: fixed, amount: 4.00}
    postback_url: "%[5]s/postback"
    postback_secret: pb-secret
  - id: rev
    campaigns: [auto, home]
    api_key_sha256: %[3]q
    payout: {type: revshare, percent: 37.5}
  - id: claw
    campaigns: [auto, home]
    api_key_sha256: %[4]q
    payout: {type: fixed, amount: 3.33}
    clawback: true
buyers:%[6]s%[7]s%[8]s%[9]s%[10]s
`, pnlZone, config.HashKey("key-fixed"), config.HashKey("key-rev"), config.HashKey("key-claw"), url,
		buyer("rejecty", `
      - {campaign: auto, price: 30.00, priority: 1, return_window: 72h, filters: [{field: state, op: ne, value: WY}]}
      - {campaign: home, price: 15.00, priority: 1, return_window: 72h}`),
		buyer("auto2", `
      - {campaign: auto, price: 22.50, priority: 2, return_window: 48h, filters: [{field: state, op: in, value: [CA, TX]}]}`),
		buyer("home1", `
      - {campaign: home, price: 12.34, priority: 2, return_window: 72h}`),
		buyer("home2", `
      - {campaign: home, price: 9.99, priority: 3, return_window: 72h}`),
		buyer("home3", `
      - {campaign: home, price: 7.77, priority: 4, return_window: 72h, caps: {daily: 5}}`),
	)
}

// pnlFigures are a report row's figures that the test recomputes.
type pnlFigures struct {
	Key        string       `json:"key"`
	Leads      int64        `json:"leads"`
	Accepted   int64        `json:"accepted"`
	Rejected   int64        `json:"rejected"`
	Duplicates int64        `json:"duplicates"`
	Sold       int64        `json:"sold"`
	Unsold     int64        `json:"unsold"`
	Returned   int64        `json:"returned"`
	Sales      int64        `json:"sales"`
	Revenue    money.Amount `json:"revenue"`
	Cost       money.Amount `json:"cost"`
	AdSpend    money.Amount `json:"ad_spend"`
	Profit     money.Amount `json:"profit"`
}

// expected recomputes the report's rows by group from the lead records.
type expected map[string]map[string]*pnlFigures // group_by → key → figures

func (x expected) row(group, key string) *pnlFigures {
	if x[group] == nil {
		x[group] = map[string]*pnlFigures{}
	}
	r := x[group][key]
	if r == nil {
		r = &pnlFigures{Key: key}
		x[group][key] = r
	}
	return r
}

// add applies f to the rows of the campaign, the source and the day (the
// day rows sum every campaign's figures).
func (x expected) add(campaign, source, day string, f func(r *pnlFigures)) {
	f(x.row("campaign", campaign))
	f(x.row("source", source))
	f(x.row("day", day))
}

func (e *env) report(from, to, group string) []pnlFigures {
	e.t.Helper()
	e.settle()
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/v1/admin/reports/pnl?from=%s&to=%s&group_by=%s", e.r.URL, from, to, group), nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		e.t.Fatalf("report by %s: %d %s", group, resp.StatusCode, raw)
	}
	var rep struct {
		GroupBy string       `json:"group_by"`
		Rows    []pnlFigures `json:"rows"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		e.t.Fatalf("report by %s: %v: %s", group, err, raw)
	}
	return rep.Rows
}

// Invariant 4 for money: 1,000 leads from three sources (fixed, revshare,
// fixed with clawback) to five buyers (one refusing a fifth of its leads,
// one campaign shared by two buyers), every SQS batch handled twice, some
// sales returned and some ad spend imported; the P&L report, by every
// grouping, equals the sums recomputed from the lead records, to the cent.
//
// The emulator handles about 5 leads a second with redelivery on this
// 2-core machine, so 1,000 leads take minutes: -short runs 150.
func TestPnLReconcilesWithLeadRecords(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 150
	}
	b := newPnLBuyers(t)
	e := start(t, pnlYAML(b.srv.URL), func(o *Options) {
		// Every third batch delivered twice; a visibility timeout long
		// enough that a slow machine adds no redeliveries of its own.
		o.Pollers, o.Redeliver, o.RedeliverEvery, o.Visibility = 8, true, 3, 30*time.Second
	})
	loc, _ := time.LoadLocation(pnlZone)
	day := func(t time.Time) string { return t.In(loc).Format(time.DateOnly) }
	sources := []string{"fixed", "rev", "claw"}
	states := []string{"CA", "TX", "NY", "CA", "TX", "NY", "CA", "FL", "TX", "WY"}
	x := expected{}
	var mu sync.Mutex
	ids := make([]string, 0, n)
	post := func(i int, ph string) int {
		src := sources[i%3]
		camp := "auto"
		if i%5 >= 3 {
			camp = "home"
		}
		body := fmt.Sprintf(`{"campaign":%q,"fields":{"phone":%q,"state":%q}}`, camp, ph, states[(i/5)%len(states)])
		at := time.Now()
		r := e.do("POST", "/v1/leads", "application/json", body, map[string]string{"X-API-Key": "key-" + src})
		mu.Lock()
		defer mu.Unlock()
		switch r.Status {
		case 202:
			ids = append(ids, r.Body["lead_id"].(string))
		case 409:
			x.add(camp, src, day(at), func(r *pnlFigures) { r.Leads++; r.Duplicates++ })
		default:
			t.Errorf("post %d: %d %v", i, r.Status, r.Body)
		}
		return r.Status
	}
	// n leads, and 30 of their phones again from the same source and
	// campaign, all at once: whichever of a pair comes second is a duplicate.
	var wg sync.WaitGroup
	var dups atomic.Int32
	sem := make(chan struct{}, 16)
	for i := 0; i < n+30; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			j := i
			if i >= n {
				j = (i - n) * 31 % n
			}
			if post(j, phone(2000+j)) == 409 {
				dups.Add(1)
			}
		}()
	}
	wg.Wait()
	if t.Failed() || len(ids) != n || dups.Load() != 30 {
		t.Fatalf("%d leads accepted, %d duplicates", len(ids), dups.Load())
	}

	// Wait for every lead to settle: a final status, no offer in flight,
	// and a shared lead sold twice or told there is no further buyer.
	ctx := context.Background()
	recs := make([]*lead.Record, len(ids))
	deadline := time.Now().Add(5 * time.Minute)
	for i, id := range ids {
		for {
			rec, err := e.r.App.Store.GetLead(ctx, id, true)
			if err != nil {
				t.Fatal(err)
			}
			if settled(rec) {
				recs[i] = rec
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("lead %s still %s (%d sales)", id, rec.Status, len(rec.Sales))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// Returns: the first sale of every 9th sold lead, and both sales of
	// every 4th of those that were shared.
	returns := 0
	for i, rec := range recs {
		if len(rec.Sales) == 0 || i%9 != 0 {
			continue
		}
		k := 1
		if len(rec.Sales) == 2 && i%4 == 0 {
			k = 2
		}
		for _, s := range rec.Sales[:k] {
			reason := "fraud"
			if rec.Campaign == "auto" {
				reason = "wrong_person"
			}
			r := e.do("POST", "/v1/returns", "application/json", fmt.Sprintf(`{"lead_id":%q,"reason":%q}`, rec.ID, reason),
				map[string]string{"X-API-Key": "key-" + s.Buyer})
			if r.Status != 200 {
				t.Fatalf("return of %s by %s: %d %v", rec.ID, s.Buyer, r.Status, r.Body)
			}
			returns++
			// Posting the same return again changes nothing.
			if i%18 == 0 {
				r := e.do("POST", "/v1/returns", "application/json", fmt.Sprintf(`{"lead_id":%q,"reason":%q}`, rec.ID, reason),
					map[string]string{"Authorization": "Bearer key-" + s.Buyer})
				if r.Status != 409 || r.Body["error"].(map[string]any)["code"] != "already_returned" {
					t.Fatalf("second return: %d %v", r.Status, r.Body)
				}
			}
		}
		var err error
		if recs[i], err = e.r.App.Store.GetLead(ctx, rec.ID, true); err != nil {
			t.Fatal(err)
		}
	}

	// Ad spend: CSV for every source and campaign today, and one JSON row.
	today := day(time.Now())
	var csvBody strings.Builder
	csvBody.WriteString("source,campaign,date,amount\n")
	for i, src := range sources {
		for j, camp := range []string{"auto", "home"} {
			amt := money.Amount(10000 + 137*i + 11*j)
			fmt.Fprintf(&csvBody, "%s,%s,%s,%s\n", src, camp, today, amt)
			x.add(camp, src, today, func(r *pnlFigures) { r.AdSpend += amt })
		}
	}
	r := e.do("POST", "/v1/admin/spend", "text/csv", csvBody.String(), map[string]string{"Authorization": "Bearer " + adminToken})
	if r.Status != 200 || r.Body["rows"] != float64(6) {
		t.Fatalf("spend import: %d %v", r.Status, r.Body)
	}
	// The same file again changes nothing; one figure posted again
	// replaces what was imported for it (a correction).
	r = e.do("POST", "/v1/admin/spend", "text/csv", csvBody.String(), map[string]string{"Authorization": "Bearer " + adminToken})
	if r.Status != 200 {
		t.Fatalf("spend import again: %d %v", r.Status, r.Body)
	}
	r = e.do("POST", "/v1/admin/spend", "application/json", fmt.Sprintf(`{"source":"rev","campaign":"home","date":%q,"amount":"0.01"}`, today),
		map[string]string{"Authorization": "Bearer " + adminToken})
	if r.Status != 200 {
		t.Fatalf("spend: %d %v", r.Status, r.Body)
	}
	for i, src := range sources {
		if src == "rev" {
			x.add("home", "rev", today, func(r *pnlFigures) { r.AdSpend += 1 - money.Amount(10000+137*i+11) })
		}
	}

	// Recompute every figure from the lead records.
	var statuses = map[lead.Status]int{}
	returnedSales, postbacks := 0, 0
	for _, rec := range recs {
		statuses[rec.Status]++
		x.add(rec.Campaign, rec.Source, day(rec.CreatedAt), func(r *pnlFigures) { r.Leads++; r.Accepted++ })
		switch rec.Status {
		case lead.Unsold:
			x.add(rec.Campaign, rec.Source, day(rec.Updated), func(r *pnlFigures) { r.Unsold++ })
		case lead.Rejected:
			x.add(rec.Campaign, rec.Source, day(rec.Updated), func(r *pnlFigures) { r.Rejected++ })
		}
		if rec.Source == "fixed" {
			postbacks += len(rec.Sales)
			if rec.Status == lead.Unsold || rec.Status == lead.Rejected {
				postbacks++
			}
		}
		for k, s := range rec.Sales {
			sale := func(r *pnlFigures) {
				r.Sales++
				r.Revenue += s.Price
				r.Cost += s.Payout
			}
			x.add(rec.Campaign, rec.Source, day(s.At), func(r *pnlFigures) {
				sale(r)
				if k == 0 {
					r.Sold++
				}
			})
			for _, g := range []struct{ group, key string }{{"buyer", s.Buyer}, {"buyer_source", s.Buyer + "/" + rec.Source}} {
				row := x.row(g.group, g.key)
				sale(row)
				row.Sold++
			}
			if s.Return == nil {
				continue
			}
			returnedSales++
			credit := func(r *pnlFigures) {
				r.Returned++
				r.Revenue -= s.Price
				r.Cost -= s.Return.Clawback
			}
			x.add(rec.Campaign, rec.Source, day(s.Return.At), credit)
			credit(x.row("buyer", s.Buyer))
			credit(x.row("buyer_source", s.Buyer+"/"+rec.Source))
			if rec.Source == "claw" && len(rec.Sales) == 1 && s.Return.Clawback != 333 {
				t.Errorf("lead %s: clawback %s, want the fixed 3.33", rec.ID, s.Return.Clawback)
			}
		}
		allReturned := len(rec.Sales) > 0
		for _, s := range rec.Sales {
			allReturned = allReturned && s.Return != nil
		}
		if allReturned != (rec.Status == lead.Returned) {
			t.Errorf("lead %s is %s with sales %+v", rec.ID, rec.Status, rec.Sales)
		}
	}
	if returnedSales != returns || statuses[lead.Unsold] == 0 || statuses[lead.Rejected] == 0 || statuses[lead.Returned] == 0 {
		t.Fatalf("returned sales %d (posted %d); statuses %v", returnedSales, returns, statuses)
	}
	from, to := day(time.Now().Add(-24*time.Hour)), day(time.Now().Add(24*time.Hour))
	for _, group := range []string{"campaign", "source", "buyer", "buyer_source", "day"} {
		got := e.report(from, to, group)
		want := x[group]
		if len(got) != len(want) {
			t.Errorf("by %s: %d rows, want %d", group, len(got), len(want))
		}
		for _, g := range got {
			w := want[g.Key]
			if w == nil {
				t.Errorf("by %s: unexpected row %+v", group, g)
				continue
			}
			w.Profit = w.Revenue - w.Cost - w.AdSpend
			if g != *w {
				t.Errorf("by %s, %s:\n report  %+v\n records %+v", group, g.Key, g, *w)
			}
		}
	}
	// Postbacks: one per sale and per unsold or rejected lead of the
	// source that has a postback_url, signed; never one per redelivery.
	b.mu.Lock()
	got := 0
	for _, pbs := range b.postbacks {
		got += len(pbs)
	}
	bad := b.badSig
	b.mu.Unlock()
	if got != postbacks || bad != 0 {
		t.Errorf("postbacks: %d received (%d bad), want %d", got, bad, postbacks)
	}
	tot := x["campaign"]
	var rev, cost money.Amount
	for _, r := range tot {
		rev += r.Revenue
		cost += r.Cost
	}
	t.Logf("statuses %v; %d returned sales; revenue %s, cost %s; %d postbacks", statuses, returnedSales, rev, cost, got)
}

// settled reports whether a lead's routing is over.
func settled(rec *lead.Record) bool {
	switch {
	case rec.Assignment != nil:
		return false
	case rec.Status == lead.Unsold || rec.Status == lead.Rejected:
		return true
	case rec.Status != lead.Sold:
		return false
	case rec.Campaign != "home" || len(rec.Sales) >= 2:
		return true
	}
	last := rec.Events[len(rec.Events)-1]
	return last.Type == lead.EventNoBuyer
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// raw answers a request's body as text.
func (e *env) raw(method, path string, headers map[string]string) string {
	e.t.Helper()
	req, err := http.NewRequest(method, e.r.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
