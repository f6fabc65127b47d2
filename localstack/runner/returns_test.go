package runner

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/store"
)

func returnsYAML(url string) string {
	return fmt.Sprintf(`
timezone: America/New_York
campaigns:
  - id: auto
    fields:
      phone: {type: phone, required: true}
      state: {type: us_state, required: true}
    dedupe: {fields: [phone], window: 24h}
sources:
  - id: src
    campaigns: [auto]
    api_key_sha256: %[1]q
    payout: {type: fixed, amount: 4.00}
    clawback: true
buyers:
  - id: acme
    api_key_sha256: %[2]q
    delivery: {type: webhook, url: %[4]q, secret: %[5]q}
    orders:
      - {campaign: auto, price: 25.00, return_window: 72h}
  - id: other
    api_key_sha256: %[3]q
    delivery: {type: webhook, url: %[4]q, secret: %[5]q}
    orders:
      - {campaign: auto, price: 1.00, priority: 9}
`, sourceHash, config.HashKey("key-acme"), config.HashKey("key-other"), url, secret)
}

// ledgerOf reads one day's figures of one dimension's id.
func (e *env) ledgerOf(day, dim, id string) map[string]int64 {
	e.t.Helper()
	e.settle()
	rows, err := e.r.App.Store.Ledger(context.Background(), day)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, r := range rows {
		if r.Dimension == dim && r.ID == id {
			return r.Counts
		}
	}
	return map[string]int64{}
}

// Returns: bad or refused returns change nothing; a return inside the
// window (injected clock) credits the sale once, claws back the fixed
// payout, marks the lead returned, and counts on the day of the return in
// the agency's timezone. Duplicates, ad spend and report queries too.
func TestReturnsSpendAndReportRules(t *testing.T) {
	b := newBuyer(t)
	e := start(t, returnsYAML(b.srv.URL), nil)
	ny, _ := time.LoadLocation("America/New_York")
	r := e.post(map[string]any{"phone": phone(1), "state": "CA"}, nil)
	if r.Status != 202 {
		t.Fatalf("post: %d %v", r.Status, r.Body)
	}
	id := r.Body["lead_id"].(string)
	if st := e.waitStatus(id); st != "sold" {
		t.Fatalf("lead %s", st)
	}
	ctx := context.Background()
	rec, err := e.r.App.Store.GetLead(ctx, id, true)
	if err != nil {
		t.Fatal(err)
	}
	sale := rec.Sales[0]
	saleDay := store.LedgerDay(sale.At, ny)
	if c := e.ledgerOf(saleDay, store.DimBuyerSource, "acme/src"); c["sales"] != 1 || c["revenue"] != 2500 || c["cost"] != 400 {
		t.Fatalf("buyer×source ledger of %s: %v", saleDay, c)
	}

	// A duplicate is refused and counted, nothing else.
	if r := e.post(map[string]any{"phone": phone(1), "state": "TX"}, nil); r.Status != 409 {
		t.Fatalf("duplicate: %d", r.Status)
	}
	if c := e.ledgerOf(store.LedgerDay(time.Now(), ny), store.DimSource, "src"); c["duplicates"] != 1 {
		t.Fatalf("duplicates not counted: %v", c)
	}

	before := e.itemCount()
	acme := map[string]string{"X-API-Key": "key-acme"}
	body := func(lead, reason string) string { return fmt.Sprintf(`{"lead_id":%q,"reason":%q}`, lead, reason) }
	bad := []struct {
		name    string
		ct      string
		body    string
		headers map[string]string
		status  int
		code    string
		field   string
	}{
		{"no key", "application/json", body(id, "fraud"), nil, 401, "unauthorized", ""},
		{"a source's key", "application/json", body(id, "fraud"), map[string]string{"X-API-Key": sourceKey}, 401, "unauthorized", ""},
		{"form body", "application/x-www-form-urlencoded", "lead_id=" + id, acme, 415, "unsupported_media_type", ""},
		{"not json", "application/json", `{"lead_id":`, acme, 400, "invalid_json", ""},
		{"no reason", "application/json", fmt.Sprintf(`{"lead_id":%q}`, id), acme, 400, "validation_failed", "reason"},
		{"unknown reason", "application/json", body(id, "changed_my_mind"), acme, 400, "validation_failed", "reason"},
		{"not the buyer's lead", "application/json", body(id, "fraud"), map[string]string{"X-API-Key": "key-other"}, 404, "lead_not_found", ""},
		{"no such lead", "application/json", body("nope", "fraud"), acme, 404, "lead_not_found", ""},
	}
	for _, c := range bad {
		r := e.do("POST", "/v1/returns", c.ct, c.body, c.headers)
		errBody, _ := r.Body["error"].(map[string]any)
		if r.Status != c.status || errBody == nil || errBody["code"] != c.code {
			t.Fatalf("%s: %d %v; want %d %s", c.name, r.Status, r.Body, c.status, c.code)
		}
		if c.field != "" {
			if f, _ := errBody["fields"].([]any); len(f) == 0 || f[0].(map[string]any)["field"] != c.field {
				t.Fatalf("%s: fields %v", c.name, errBody["fields"])
			}
		}
	}

	// The ingest handler with an injected clock: one second late is refused.
	h := e.r.App.Ingest()
	returnAt := func(at time.Time) httpapi.Response {
		h.Now = func() time.Time { return at }
		resp, err := h.Handle(ctx, httpapi.Request{HTTPMethod: "POST", Path: "/v1/returns", Body: body(id, "wrong_person"),
			Headers: map[string]string{"Content-Type": "application/json", "Authorization": "Bearer key-acme"}})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if resp := returnAt(sale.At.Add(72*time.Hour + time.Second)); resp.StatusCode != 422 || !contains(resp.Body, `"return_window_closed"`) {
		t.Fatalf("late return: %d %s", resp.StatusCode, resp.Body)
	}
	if after := e.itemCount(); after != before {
		t.Fatalf("refused returns wrote %d items", after-before)
	}
	if rec2, _ := e.r.App.Store.GetLead(ctx, id, true); len(rec2.Events) != len(rec.Events) || rec2.Sales[0].Return != nil {
		t.Fatal("a refused return changed the lead")
	}

	// In the window, at 02:00 UTC (the evening before in New York).
	at := sale.At.UTC().Truncate(24 * time.Hour).Add(26 * time.Hour)
	if resp := returnAt(at); resp.StatusCode != 200 || !contains(resp.Body, `"status":"returned"`) || !contains(resp.Body, `"credited":25`) {
		t.Fatalf("return: %d %s", resp.StatusCode, resp.Body)
	}
	if resp := returnAt(at.Add(time.Minute)); resp.StatusCode != 409 || !contains(resp.Body, `"already_returned"`) {
		t.Fatalf("second return: %d %s", resp.StatusCode, resp.Body)
	}
	rec, _ = e.r.App.Store.GetLead(ctx, id, true)
	if rec.Status != lead.Returned || rec.Sales[0].Return == nil || rec.Sales[0].Return.Clawback != 400 || rec.Sales[0].Return.Reason != "wrong_person" ||
		rec.Events[len(rec.Events)-1].Type != lead.EventReturned || rec.Payout() != 0 || rec.Revenue() != 0 {
		t.Fatalf("returned lead: %s %+v", rec.Status, rec.Sales[0])
	}
	if r := e.do("GET", "/v1/leads/"+id, "", "", map[string]string{"X-API-Key": sourceKey}); r.Body["status"] != "returned" || r.Body["payout"] != float64(0) {
		t.Fatalf("source's view: %v", r.Body)
	}
	nyDay, utcDay := store.LedgerDay(at, ny), at.Format(time.DateOnly)
	if nyDay == utcDay {
		t.Fatalf("test setup: %s is the same date in UTC and New York", at)
	}
	for _, dim := range []struct{ dim, id string }{{store.DimCampaign, "auto"}, {store.DimSource, "src"}, {store.DimBuyer, "acme"}, {store.DimBuyerSource, "acme/src"}} {
		c := e.ledgerOf(nyDay, dim.dim, dim.id)
		wantRev, wantCost := int64(-2500), int64(-400)
		if nyDay == saleDay { // the sale counts on that day too
			wantRev, wantCost = 0, 0
		}
		if c["returned"] != 1 || c["revenue"] != wantRev || c["cost"] != wantCost {
			t.Errorf("%s %s on %s: %v", dim.dim, dim.id, nyDay, c)
		}
		if nyDay != saleDay {
			if c := e.ledgerOf(utcDay, dim.dim, dim.id); c["returned"] != 0 {
				t.Errorf("the return was counted on the UTC date %s", utcDay)
			}
		}
	}

	// Ad spend and report queries: bad input is refused and changes nothing.
	admin := map[string]string{"Authorization": "Bearer " + adminToken}
	before = e.itemCount()
	spends := []struct {
		ct, body, field string
	}{
		{"application/json", `{"source":"nope","campaign":"auto","date":"2025-03-01","amount":10}`, "rows[0].source"},
		{"application/json", `{"source":"src","campaign":"boats","date":"2025-03-01","amount":10}`, "rows[0].campaign"},
		{"application/json", `[{"source":"src","campaign":"auto","date":"2025-03-01","amount":10},{"source":"src","campaign":"auto","date":"03/01/2025","amount":10}]`, "rows[1].date"},
		{"application/json", `{"source":"src","campaign":"auto","date":"2025-03-01","amount":-5}`, "rows[0].amount"},
		{"application/json", `{"source":"src","campaign":"auto","date":"2025-03-01","amount":1.005}`, "rows[0]"},
		{"text/csv", "source,campaign,amount\nsrc,auto,10\n", "line 1"},
		{"text/csv", "source,campaign,date,amount\nsrc,auto,2025-03-01,ten\n", "rows[0].amount"},
	}
	for _, c := range spends {
		r := e.do("POST", "/v1/admin/spend", c.ct, c.body, admin)
		errBody, _ := r.Body["error"].(map[string]any)
		f, _ := errBody["fields"].([]any)
		if r.Status != 400 || len(f) == 0 || f[0].(map[string]any)["field"] != c.field {
			t.Fatalf("spend %s: %d %v; want 400 naming %s", c.body, r.Status, r.Body, c.field)
		}
	}
	for _, q := range []struct{ query, field string }{
		{"from=2025-01-01&to=2025-13-01", "to"},
		{"from=2025-02-01&to=2025-01-01", "to"},
		{"from=2024-01-01&to=2025-01-02", "to"},
		{"to=2025-01-01", "from"},
		{"from=2025-01-01&to=2025-01-02&group_by=orders", "group_by"},
	} {
		r := e.do("GET", "/v1/admin/reports/pnl?"+q.query, "", "", admin)
		errBody, _ := r.Body["error"].(map[string]any)
		f, _ := errBody["fields"].([]any)
		if r.Status != 400 || len(f) == 0 || f[0].(map[string]any)["field"] != q.field {
			t.Fatalf("report %s: %d %v; want 400 naming %s", q.query, r.Status, r.Body, q.field)
		}
	}
	if after := e.itemCount(); after != before {
		t.Fatalf("refused spend wrote %d items", after-before)
	}
	// A report as CSV.
	req := fmt.Sprintf("from=%s&to=%s&group_by=buyer", saleDay, nyDay)
	if nyDay < saleDay {
		req = fmt.Sprintf("from=%s&to=%s&group_by=buyer", nyDay, saleDay)
	}
	e.settle()
	resp := e.raw("GET", "/v1/admin/reports/pnl?"+req, map[string]string{"Authorization": "Bearer " + adminToken, "Accept": "text/csv"})
	if !contains(resp, "key,leads,accepted,rejected,duplicates,sold,unsold,returned,sales,revenue,cost,ad_spend,profit,margin,avg_sale_price,return_rate,connected,billable,call_seconds,avg_call_duration\n") ||
		!contains(resp, "\nacme,0,0,0,0,1,0,1,1,0.00,0.00,0.00,0.00,0,0.00,1,0,0,0,0\n") {
		t.Fatalf("csv report:\n%s", resp)
	}
}
