package runner

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/store"
)

// searchYAML has no dedupe, so one phone number can carry many leads; acme
// buys leads from CA only.
func searchYAML(buyerURL string) string {
	return fmt.Sprintf(`
campaigns:
  - id: auto
    fields:
      phone: {type: phone, required: true, pii: true}
      email: {type: email, pii: true}
      state: {type: us_state, required: true}
  - id: home
    fields:
      phone: {type: phone, required: true}
sources:
  - id: src
    campaigns: [auto, home]
    api_key_sha256: %q
    payout: {type: fixed, amount: 4.00}
buyers:
  - id: acme
    delivery: {type: webhook, url: %q, secret: %q}
    orders:
      - campaign: auto
        price: 25.00
        filters:
          - {field: state, op: in, value: [CA]}
`, sourceHash, buyerURL, secret)
}

type found struct {
	LeadID    string
	Campaign  string
	Status    string
	CreatedAt time.Time
	Buyers    []string
	Revenue   float64
}

// search follows a search's cursors to the end, checking each page's
// size, and returns the leads and the number of pages.
func (e *env) search(query url.Values, limit int) ([]found, int) {
	e.t.Helper()
	query.Set("limit", fmt.Sprint(limit))
	var out []found
	pages := 0
	for {
		r := e.admin("GET", "/v1/admin/leads?"+query.Encode(), "")
		if r.Status != 200 {
			e.t.Fatalf("search %s: %d %v", query.Encode(), r.Status, r.Body)
		}
		pages++
		list := r.Body["leads"].([]any)
		if len(list) > limit {
			e.t.Fatalf("search %s: %d leads on a page of %d", query.Encode(), len(list), limit)
		}
		for _, x := range list {
			m := x.(map[string]any)
			at, err := time.Parse(time.RFC3339Nano, m["created_at"].(string))
			if err != nil {
				e.t.Fatal(err)
			}
			f := found{LeadID: m["lead_id"].(string), Campaign: m["campaign"].(string), Status: m["status"].(string), CreatedAt: at, Revenue: m["revenue"].(float64)}
			for _, b := range m["buyers"].([]any) {
				f.Buyers = append(f.Buyers, b.(string))
			}
			out = append(out, f)
		}
		next, _ := r.Body["next_cursor"].(string)
		if next == "" {
			return out, pages
		}
		query.Set("cursor", next)
	}
}

func ids(fs []found) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.LeadID
	}
	slices.Sort(out)
	return out
}

// Lead search: by phone (any notation) and email (any case), by campaign
// with a status filter and a time range, over several pages; each page
// holds at most its limit, the cursors lose and repeat nothing, statuses
// are the leads' current ones. Bad searches are refused with the field.
func TestLeadSearch(t *testing.T) {
	b := newBuyer(t)
	e := start(t, searchYAML(b.srv.URL), nil)

	// Seven leads of one person (CA sells, NY does not), three of others,
	// and one of the person in another campaign.
	var mine, sold []string
	for i := range 7 {
		state := "CA"
		if i%2 == 1 {
			state = "NY"
		}
		r := e.post(map[string]any{"phone": "(415) 892-7310", "email": "Ada@Example.com", "state": state}, nil)
		if r.Status != 202 {
			t.Fatalf("post: %d %v", r.Status, r.Body)
		}
		mine = append(mine, r.Body["lead_id"].(string))
		if state == "CA" {
			sold = append(sold, r.Body["lead_id"].(string))
		}
	}
	var all []string
	all = append(all, mine...)
	for i := range 3 {
		r := e.post(map[string]any{"phone": phone(i), "email": fmt.Sprintf("x%d@example.com", i), "state": "NY"}, nil)
		if r.Status != 202 {
			t.Fatalf("post: %d %v", r.Status, r.Body)
		}
		all = append(all, r.Body["lead_id"].(string))
	}
	other := e.doJSON("POST", "/v1/leads", map[string]any{"campaign": "home", "fields": map[string]any{"phone": "+14158927310"}})
	if other.Status != 202 {
		t.Fatalf("post home: %d %v", other.Status, other.Body)
	}
	for _, id := range append(slices.Clone(all), other.Body["lead_id"].(string)) {
		e.waitStatus(id)
	}
	slices.Sort(mine)
	slices.Sort(sold)
	slices.Sort(all)

	// By phone, in another notation, 3 a page: this person's 7 leads in
	// campaign auto, on 3 pages, newest first.
	got, pages := e.search(url.Values{"phone": {"415.892.7310"}, "campaign": {"auto"}}, 3)
	if !slices.Equal(ids(got), mine) || pages != 3 {
		t.Fatalf("by phone: %d pages, %v; want %v", pages, ids(got), mine)
	}
	for i := 1; i < len(got); i++ {
		if got[i].CreatedAt.After(got[i-1].CreatedAt) {
			t.Fatalf("by phone: not newest first: %v", got)
		}
	}
	// Without the campaign, the other campaign's lead too.
	if got, _ = e.search(url.Values{"phone": {"+1 415 892 7310"}}, 50); len(got) != 8 {
		t.Fatalf("by phone, all campaigns: %d leads, want 8", len(got))
	}
	// By email, whatever its case.
	if got, _ = e.search(url.Values{"email": {"ADA@example.COM"}}, 2); !slices.Equal(ids(got), mine) {
		t.Fatalf("by email: %v; want %v", ids(got), mine)
	}
	// By phone and current status: the sold ones, with buyer and revenue.
	got, _ = e.search(url.Values{"phone": {"4158927310"}, "status": {"sold"}}, 2)
	if !slices.Equal(ids(got), sold) {
		t.Fatalf("by phone, sold: %v; want %v", ids(got), sold)
	}
	for _, f := range got {
		if f.Status != "sold" || !slices.Equal(f.Buyers, []string{"acme"}) || f.Revenue != 25 {
			t.Fatalf("sold lead: %+v", f)
		}
	}
	if got, _ = e.search(url.Values{"phone": {"4158927310"}, "buyer": {"acme"}}, 50); !slices.Equal(ids(got), sold) {
		t.Fatalf("by phone, buyer acme: %v; want %v", ids(got), sold)
	}

	// By campaign: every lead, 4 a page; unsold only, 2 a page.
	every, pages := e.search(url.Values{"campaign": {"auto"}}, 4)
	if !slices.Equal(ids(every), all) || pages != 3 {
		t.Fatalf("by campaign: %d pages, %v; want %v", pages, ids(every), all)
	}
	var unsold []string
	for _, id := range all {
		if !slices.Contains(sold, id) {
			unsold = append(unsold, id)
		}
	}
	if got, _ = e.search(url.Values{"campaign": {"auto"}, "status": {"unsold"}}, 2); !slices.Equal(ids(got), unsold) {
		t.Fatalf("by campaign, unsold: %v; want %v", ids(got), unsold)
	}
	if got, _ = e.search(url.Values{"campaign": {"auto"}, "source": {"nobody"}}, 5); len(got) != 0 {
		t.Fatalf("by campaign, unknown source: %v", got)
	}
	// A time range: the creation times of the 3rd to the 7th newest lead,
	// both included.
	from, to := every[6].CreatedAt, every[2].CreatedAt
	var want []string
	for _, f := range every {
		if !f.CreatedAt.Before(from) && !f.CreatedAt.After(to) {
			want = append(want, f.LeadID)
		}
	}
	slices.Sort(want)
	got, _ = e.search(url.Values{"campaign": {"auto"}, "from": {from.Format(time.RFC3339Nano)}, "to": {to.Format(time.RFC3339Nano)}}, 2)
	if !slices.Equal(ids(got), want) || len(want) < 5 {
		t.Fatalf("time range: %v; want %v", ids(got), want)
	}
	// Whole days (UTC): the days of the leads, and the day before them.
	day := every[0].CreatedAt.UTC().Format(time.DateOnly)
	if first := every[len(every)-1].CreatedAt.UTC().Format(time.DateOnly); first == day {
		if got, _ = e.search(url.Values{"campaign": {"auto"}, "from": {day}, "to": {day}}, 50); !slices.Equal(ids(got), all) {
			t.Fatalf("by day %s: %v; want %v", day, ids(got), all)
		}
	}
	before := every[len(every)-1].CreatedAt.UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	if got, _ = e.search(url.Values{"campaign": {"auto"}, "to": {before}}, 50); len(got) != 0 {
		t.Fatalf("before the first lead: %v", got)
	}

	// Bad searches: 400, naming the parameter.
	first := e.admin("GET", "/v1/admin/leads?campaign=auto&limit=2", "")
	cursor, _ := first.Body["next_cursor"].(string)
	if cursor == "" {
		t.Fatalf("no cursor: %v", first.Body)
	}
	for q, field := range map[string]string{
		"status=sold":                                 "campaign",
		"phone=12":                                    "phone",
		"email=not-an-address":                        "email",
		"phone=4158927310&email=a@b.com":              "email",
		"campaign=auto&status=bought":                 "status",
		"campaign=auto&limit=501":                     "limit",
		"campaign=auto&limit=0":                       "limit",
		"campaign=auto&from=yesterday":                "from",
		"campaign=auto&from=2025-02-02&to=2025-02-01": "to",
		"campaign=auto&colour=red":                    "colour",
		"campaign=auto&cursor=bm9wZQ":                 "cursor",
		"campaign=home&cursor=" + cursor:              "cursor",
		"phone=4158927310&cursor=" + cursor:           "cursor",
	} {
		r := e.admin("GET", "/v1/admin/leads?"+q, "")
		if r.Status != 400 || len(problems(r)) == 0 || problems(r)[0]["field"] != field {
			t.Fatalf("search %s: %d %v; want 400 naming %s", q, r.Status, r.Body, field)
		}
	}
}

// Suppression lists: JSON and CSV imports (invalid values reported, valid
// ones written), a lead carrying a suppressed phone or email refused 403
// with the field and nothing written, removal lets it through.
func TestSuppressionLists(t *testing.T) {
	b := newBuyer(t)
	e := start(t, campaignYAML(b.srv.URL, "daily: 100"), nil)
	adm := map[string]string{"Authorization": "Bearer " + adminToken}

	r := e.do("POST", "/v1/admin/suppressions", "application/json",
		`{"phones": ["(415) 892-7310", "nope"], "emails": ["Spam@Example.com"], "list": "dnc"}`, adm)
	if r.Status != 200 || r.Body["added"] != 2.0 || r.Body["list"] != "dnc" {
		t.Fatalf("JSON import: %d %v", r.Status, r.Body)
	}
	inv := r.Body["invalid"].([]any)
	if len(inv) != 1 || inv[0].(map[string]any)["field"] != "phones[1]" || inv[0].(map[string]any)["value"] != "nope" {
		t.Fatalf("JSON import invalid: %v", inv)
	}
	csv := "phone,email\n415-892-7311,\nnot-a-phone,\"Complaint@Example.com\"\n,\n+1 415 892 7312,x@example.com\n"
	r = e.do("POST", "/v1/admin/suppressions?list=complaints", "text/csv", csv, adm)
	if r.Status != 200 || r.Body["added"] != 4.0 || r.Body["list"] != "complaints" {
		t.Fatalf("CSV import: %d %v", r.Status, r.Body)
	}
	inv = r.Body["invalid"].([]any)
	if len(inv) != 1 || inv[0].(map[string]any)["line"] != 3.0 || inv[0].(map[string]any)["value"] != "not-a-phone" ||
		!strings.Contains(inv[0].(map[string]any)["message"].(string), "phone") {
		t.Fatalf("CSV import invalid: %v", inv)
	}
	r = e.do("POST", "/v1/admin/suppressions", "text/csv", "4158927313\nlist@example.com\n", adm)
	if r.Status != 200 || r.Body["added"] != 2.0 || len(r.Body["invalid"].([]any)) != 0 {
		t.Fatalf("CSV import, one value a line: %d %v", r.Status, r.Body)
	}

	before := e.itemCount()
	// Bad requests change nothing.
	for _, c := range []struct{ ct, body string }{
		{"application/json", `{"phones": "4158927314"}`},
		{"application/json", `{"phones": ["4158927314"], "colour": "red"}`},
		{"application/json", `{"phones": ["4158927314"], "list": "Not A List"}`},
		{"application/json", `{"phones": ["nope"]}`},
		{"application/json", `{}`},
		{"text/csv", "phone\n\"unterminated\n"},
		{"text/plain", "4158927314"},
	} {
		if r := e.do("POST", "/v1/admin/suppressions", c.ct, c.body, adm); r.Status < 400 || r.Status > 415 {
			t.Fatalf("bad import %q: %d %v", c.body, r.Status, r.Body)
		}
	}
	// Suppressed leads are refused with the field, and nothing is written.
	for _, c := range []struct {
		fields map[string]any
		field  string
	}{
		{map[string]any{"phone": "+14158927310", "state": "CA"}, "phone"},
		{map[string]any{"phone": phone(50), "email": "spam@example.com", "state": "CA"}, "email"},
		{map[string]any{"phone": "(415) 892-7311", "state": "CA"}, "phone"},
		{map[string]any{"phone": phone(51), "email": "complaint@EXAMPLE.com", "state": "CA"}, "email"},
		{map[string]any{"phone": "415 892 7313", "state": "CA"}, "phone"},
	} {
		r := e.post(c.fields, nil)
		errBody, _ := r.Body["error"].(map[string]any)
		if r.Status != 403 || errBody["code"] != "suppressed" || len(problems(r)) != 1 ||
			problems(r)[0]["field"] != c.field || problems(r)[0]["code"] != "suppressed" {
			t.Fatalf("suppressed lead %v: %d %v", c.fields, r.Status, r.Body)
		}
	}
	test := e.doJSON("POST", "/v1/leads", map[string]any{"campaign": "auto", "test": true, "fields": map[string]any{"phone": "+14158927310", "state": "CA"}})
	if test.Status != 403 {
		t.Fatalf("suppressed test lead: %d %v", test.Status, test.Body)
	}
	if after := e.itemCount(); after != before {
		t.Fatalf("refused requests wrote %d item(s)", after-before)
	}

	// Removal (the list does not matter) lets the lead through.
	r = e.do("DELETE", "/v1/admin/suppressions", "application/json", `{"phones": ["415.892.7310", "bad"]}`, adm)
	if r.Status != 200 || r.Body["removed"] != 1.0 || len(r.Body["invalid"].([]any)) != 1 {
		t.Fatalf("remove: %d %v", r.Status, r.Body)
	}
	r = e.do("DELETE", "/v1/admin/suppressions", "text/csv", "email\ncomplaint@example.com\n", adm)
	if r.Status != 200 || r.Body["removed"] != 1.0 {
		t.Fatalf("remove CSV: %d %v", r.Status, r.Body)
	}
	ok := e.post(map[string]any{"phone": "(415) 892-7310", "email": "Complaint@Example.com", "state": "CA"}, nil)
	if ok.Status != 202 {
		t.Fatalf("after removal: %d %v", ok.Status, ok.Body)
	}
	if st := e.waitStatus(ok.Body["lead_id"].(string)); st != "sold" {
		t.Fatalf("after removal: %s", st)
	}
}

// An operator marks a sale returned, without the order's return window
// (acme's order has none, so acme itself could not): the same credit as a
// buyer's return, counted once; bad requests change nothing.
func TestOperatorReturn(t *testing.T) {
	b := newBuyer(t)
	e := start(t, strings.Replace(searchYAML(b.srv.URL), "    delivery:", "    api_key_sha256: "+config.HashKey("key-acme")+"\n    delivery:", 1), nil)
	r := e.post(map[string]any{"phone": phone(1), "state": "CA"}, nil)
	id := r.Body["lead_id"].(string)
	if st := e.waitStatus(id); st != "sold" {
		t.Fatalf("lead %s", st)
	}
	// The buyer's own return is refused: the order takes no returns.
	br := e.do("POST", "/v1/returns", "application/json", fmt.Sprintf(`{"lead_id": %q, "reason": "fraud"}`, id), map[string]string{"X-API-Key": "key-acme"})
	if br.Status != 422 {
		t.Fatalf("buyer's return: %d %v", br.Status, br.Body)
	}

	before := e.itemCount()
	for _, c := range []struct {
		path, body string
		status     int
		field      string
	}{
		{"/v1/admin/leads/" + id + "/return", `{"buyer": "acme"}`, 400, "reason"},
		{"/v1/admin/leads/" + id + "/return", `{"buyer": 7, "reason": "x"}`, 400, "buyer"},
		{"/v1/admin/leads/" + id + "/return", `{"buyer": "acme", "reason": "x", "colour": 1}`, 400, "colour"},
		{"/v1/admin/leads/" + id + "/return", `{"buyer": "nobody", "reason": "fraud"}`, 404, "buyer"},
		{"/v1/admin/leads/nope/return", `{"buyer": "acme", "reason": "fraud"}`, 404, ""},
		{"/v1/admin/leads/" + id + "/return", `not json`, 400, ""},
	} {
		r := e.admin("POST", c.path, c.body)
		if r.Status != c.status || (c.field != "" && (len(problems(r)) == 0 || problems(r)[0]["field"] != c.field)) {
			t.Fatalf("return %s %s: %d %v", c.path, c.body, r.Status, r.Body)
		}
	}
	if after := e.itemCount(); after != before {
		t.Fatalf("refused returns wrote %d item(s)", after-before)
	}

	r = e.admin("POST", "/v1/admin/leads/"+id+"/return", `{"buyer": "acme", "reason": "chargeback"}`)
	if r.Status != 200 || r.Body["status"] != "returned" || r.Body["credited"] != 25.0 || r.Body["buyer"] != "acme" {
		t.Fatalf("operator return: %d %v", r.Status, r.Body)
	}
	again := e.admin("POST", "/v1/admin/leads/"+id+"/return", `{"buyer": "acme", "reason": "chargeback"}`)
	if errBody, _ := again.Body["error"].(map[string]any); again.Status != 409 || errBody["code"] != "already_returned" {
		t.Fatalf("return again: %d %v", again.Status, again.Body)
	}
	rec, err := e.r.App.Store.GetLead(context.Background(), id, true)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != lead.Returned || rec.Sales[0].Return == nil || rec.Sales[0].Return.Reason != "chargeback" {
		t.Fatalf("lead after the return: %s %+v", rec.Status, rec.Sales)
	}
	ev := rec.Events[len(rec.Events)-1]
	if ev.Type != lead.EventReturned || ev.Data["by"] != "operator" {
		t.Fatalf("return event: %+v", ev)
	}
	day := rec.Sales[0].Return.At.UTC().Format(time.DateOnly)
	if c := e.ledgerOf(day, store.DimBuyer, "acme"); c["returned"] != 1 {
		t.Fatalf("acme's ledger on %s: %v", day, c)
	}
	// Search shows it returned, without revenue.
	got, _ := e.search(url.Values{"phone": {phone(1)}}, 10)
	if len(got) != 1 || got[0].Status != "returned" || got[0].Revenue != 0 || !slices.Equal(got[0].Buyers, []string{"acme"}) {
		t.Fatalf("search after the return: %+v", got)
	}
}
