package runner

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/store"
)

func (e *env) admin(method, path, body string, headers ...string) response {
	e.t.Helper()
	h := map[string]string{"Authorization": "Bearer " + adminToken}
	for i := 0; i+1 < len(headers); i += 2 {
		h[headers[i]] = headers[i+1]
	}
	ct := ""
	if body != "" {
		ct = "application/yaml"
	}
	return e.do(method, path, ct, body, h)
}

// configVersion is the stored configuration's version, by its ETag.
func (e *env) configVersion() string {
	e.t.Helper()
	r := e.admin("GET", "/v1/admin/config", "")
	if r.Status != 200 {
		e.t.Fatalf("GET config: %d %v", r.Status, r.Body)
	}
	return strings.Trim(r.Header.Get("ETag"), `"`)
}

// lineWith is the 1-based line of doc holding marker.
func lineWith(t *testing.T, doc, marker string) int {
	t.Helper()
	for i, l := range strings.Split(doc, "\n") {
		if strings.Contains(l, marker) {
			return i + 1
		}
	}
	t.Fatalf("no line holds %q", marker)
	return 0
}

func problems(r response) []map[string]any {
	errBody, _ := r.Body["error"].(map[string]any)
	list, _ := errBody["fields"].([]any)
	out := make([]map[string]any, len(list))
	for i, f := range list {
		out[i], _ = f.(map[string]any)
	}
	return out
}

// Every configuration problem the issue names is answered 400
// invalid_config with the field at fault and its line, and changes
// nothing: neither the document, nor its version, nor the audit log.
func TestInvalidConfigNamesFieldAndLineAndChangesNothing(t *testing.T) {
	b := newBuyer(t)
	good := campaignYAML(b.srv.URL, "daily: 100")
	e := start(t, good, nil)
	before := e.admin("GET", "/v1/admin/config", "")
	ver := e.configVersion()
	items := e.itemCount()

	filter := "{field: state, op: in, value: [CA, TX]}"
	cases := []struct {
		name, doc, field, code, marker string
	}{
		{"bad YAML line", strings.Replace(good, "      age:   {type: integer, min: 18, max: 100}", "      age:   {type: integer, min: 18, max: 100}\n\t  zip: {type: zip}", 1),
			"", config.CodeSyntax, "\t  zip:"},
		{"filter names an unknown field", strings.Replace(good, filter, "{field: income, op: gt, value: 5}", 1),
			"buyers[0].orders[0].filters[0].field", config.CodeReference, "field: income"},
		{"cap below zero", strings.Replace(good, "caps: {daily: 100}", "caps: {daily: -1}", 1),
			"buyers[0].orders[0].caps.daily", config.CodeInvalid, "daily: -1"},
		{"order for an unknown campaign", strings.Replace(good, "      - campaign: auto\n", "      - campaign: home-solar\n", 1),
			"buyers[0].orders[0].campaign", config.CodeReference, "campaign: home-solar"},
		{"duplicate id", strings.Replace(good, "  - id: other\n", "  - id: auto\n", 1),
			"campaigns[1].id", config.CodeDuplicate, "  - id: auto"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.doc == good {
				t.Fatal("the case did not change the document")
			}
			want := lineWith(t, c.doc, c.marker)
			if c.name == "duplicate id" { // the second "- id: auto"
				want = strings.Count(c.doc[:strings.LastIndex(c.doc, c.marker)], "\n") + 1
			}
			r := e.admin("PUT", "/v1/admin/config", c.doc)
			if r.Status != 400 || r.Body["error"].(map[string]any)["code"] != "invalid_config" {
				t.Fatalf("PUT: %d %v", r.Status, r.Body)
			}
			found := false
			for _, p := range problems(r) {
				if p["field"] == c.field && p["code"] == c.code && int(p["line"].(float64)) == want {
					found = true
				}
			}
			if !found {
				t.Fatalf("want field %q code %s at line %d; got %v", c.field, c.code, want, problems(r))
			}
			// The plan refuses it the same way.
			if p := e.admin("POST", "/v1/admin/config/plan", c.doc); p.Status != 400 {
				t.Fatalf("plan: %d %v", p.Status, p.Body)
			}
		})
	}
	after := e.admin("GET", "/v1/admin/config", "")
	if e.configVersion() != ver || fmt.Sprint(after.Body) != fmt.Sprint(before.Body) {
		t.Fatalf("a refused document changed the configuration: version %s → %s", ver, e.configVersion())
	}
	if n := e.itemCount(); n != items {
		t.Fatalf("the table had %d items, now %d", items, n)
	}
	if a := e.admin("GET", "/v1/admin/audit", ""); len(a.Body["records"].([]any)) != 0 {
		t.Fatalf("audit log after refusals: %v", a.Body)
	}
}

// Two operators apply different documents over the same version: one is
// applied, the other refused with 412 and changes nothing.
func TestConcurrentPutsWithSameIfMatch(t *testing.T) {
	b := newBuyer(t)
	e := start(t, campaignYAML(b.srv.URL, "daily: 100"), nil)
	ver := e.configVersion()
	docs := []string{campaignYAML(b.srv.URL, "daily: 7"), campaignYAML(b.srv.URL, "daily: 9")}
	statuses := make([]int, 2)
	var wg sync.WaitGroup
	for i := range docs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = e.admin("PUT", "/v1/admin/config", docs[i], "If-Match", `"`+ver+`"`).Status
		}()
	}
	wg.Wait()
	got := append([]int(nil), statuses...)
	sort.Ints(got)
	if got[0] != 200 || got[1] != 412 {
		t.Fatalf("statuses %v, want one 200 and one 412", statuses)
	}
	winner := 0
	if statuses[1] == 200 {
		winner = 1
	}
	cfg := e.admin("GET", "/v1/admin/buyers/acme/orders/auto", "")
	want := []float64{7, 9}[winner]
	if caps := cfg.Body["caps"].(map[string]any); caps["daily"] != want {
		t.Fatalf("stored caps %v, want the winner's daily %v", caps, want)
	}
	if a := e.admin("GET", "/v1/admin/audit", ""); len(a.Body["records"].([]any)) != 1 {
		t.Fatalf("audit log: want one record, got %v", a.Body)
	}
}

// The per-entity API: create, read, change, refuse, pause, delete, rotate
// keys, and an audit record for each change, newest first.
func TestEntityEndpointsAndAudit(t *testing.T) {
	b := newBuyer(t)
	e := start(t, campaignYAML(b.srv.URL, "daily: 100"), nil)

	// A new campaign, created by PUT.
	camp := "fields:\n  phone: {type: phone, required: true}\n  zip: {type: zip}\ndistribution: round_robin\n"
	if r := e.admin("PUT", "/v1/admin/campaigns/solar", camp); r.Status != 201 || r.Body["changed"] != true {
		t.Fatalf("PUT campaign: %d %v", r.Status, r.Body)
	}
	if r := e.admin("GET", "/v1/admin/campaigns/solar", ""); r.Status != 200 || r.Body["distribution"] != "round_robin" || r.Body["id"] != "solar" {
		t.Fatalf("GET campaign: %d %v", r.Status, r.Body)
	}
	// The same body again changes nothing.
	if r := e.admin("PUT", "/v1/admin/campaigns/solar", camp); r.Status != 200 || r.Body["changed"] != false {
		t.Fatalf("PUT again: %d %v", r.Status, r.Body)
	}
	// A bad entity: the field relative to it, and its line in the body.
	bad := "fields:\n  phone: {type: phone}\ndistribution: waterfall\nmax_sales: 50\n"
	r := e.admin("PUT", "/v1/admin/campaigns/solar", bad)
	if r.Status != 400 || len(problems(r)) != 1 || problems(r)[0]["field"] != "max_sales" || problems(r)[0]["line"] != 4.0 {
		t.Fatalf("bad campaign: %d %v", r.Status, r.Body)
	}
	if r := e.admin("PUT", "/v1/admin/campaigns/solar", "id: wind\n"+camp); r.Status != 400 || problems(r)[0]["field"] != "id" {
		t.Fatalf("id mismatch: %d %v", r.Status, r.Body)
	}
	// An order for it, then a campaign still in use cannot be deleted.
	if r := e.admin("PUT", "/v1/admin/buyers/acme/orders/solar-1", "campaign: solar\nprice: 12.5\n"); r.Status != 201 {
		t.Fatalf("PUT order: %d %v", r.Status, r.Body)
	}
	if r := e.admin("DELETE", "/v1/admin/campaigns/solar", ""); r.Status != 409 || r.Body["error"].(map[string]any)["code"] != "campaign_in_use" ||
		!strings.Contains(r.Body["error"].(map[string]any)["message"].(string), "order acme/solar-1") {
		t.Fatalf("DELETE used campaign: %d %v", r.Status, r.Body)
	}
	for _, path := range []string{"/v1/admin/campaigns/nope", "/v1/admin/sources/nope", "/v1/admin/buyers/nope", "/v1/admin/buyers/nope/orders/x", "/v1/admin/buyers/acme/orders/nope"} {
		if r := e.admin("GET", path, ""); r.Status != 404 {
			t.Fatalf("GET %s: %d %v", path, r.Status, r.Body)
		}
	}
	if r := e.admin("DELETE", "/v1/admin/buyers/nope", ""); r.Status != 404 || r.Body["error"].(map[string]any)["code"] != "buyer_not_found" {
		t.Fatalf("DELETE unknown buyer: %d %v", r.Status, r.Body)
	}
	// If-Match: a stale version is refused.
	ver := e.configVersion()
	if r := e.admin("POST", "/v1/admin/buyers/acme/pause", "", "If-Match", `"1"`); r.Status != 412 {
		t.Fatalf("pause with a stale If-Match: %d %v", r.Status, r.Body)
	}
	if r := e.admin("POST", "/v1/admin/buyers/acme/pause", "", "If-Match", `"`+ver+`"`); r.Status != 200 || r.Body["changed"] != true {
		t.Fatalf("pause: %d %v", r.Status, r.Body)
	}
	if r := e.admin("GET", "/v1/admin/buyers/acme", ""); r.Body["status"] != "paused" || len(r.Body["orders"].([]any)) != 2 {
		t.Fatalf("paused buyer: %v", r.Body)
	}
	if r := e.admin("POST", "/v1/admin/buyers/acme/orders/solar-1/pause", ""); r.Status != 200 {
		t.Fatalf("pause order: %d %v", r.Status, r.Body)
	}
	if r := e.admin("POST", "/v1/admin/buyers/acme/resume", ""); r.Status != 200 {
		t.Fatalf("resume: %d %v", r.Status, r.Body)
	}
	if r := e.admin("DELETE", "/v1/admin/buyers/acme/orders/solar-1", ""); r.Status != 200 {
		t.Fatalf("DELETE order: %d %v", r.Status, r.Body)
	}
	if r := e.admin("DELETE", "/v1/admin/campaigns/solar", ""); r.Status != 200 {
		t.Fatalf("DELETE campaign: %d %v", r.Status, r.Body)
	}

	// Key rotation: the new key works, the old one stops.
	k := e.admin("POST", "/v1/admin/sources/src/keys", "")
	newKey, _ := k.Body["api_key"].(string)
	if k.Status != 201 || !strings.HasPrefix(newKey, "lrk_") || k.Body["api_key_sha256"] != config.HashKey(newKey) {
		t.Fatalf("issue key: %d %v", k.Status, k.Body)
	}
	if r := e.admin("GET", "/v1/admin/sources/src", ""); r.Body["api_key_sha256"] != config.HashKey(newKey) {
		t.Fatalf("stored hash: %v", r.Body)
	}
	fields := map[string]any{"phone": phone(1), "state": "CA"}
	if r := e.post(fields, nil); r.Status != 401 {
		t.Fatalf("old key: %d %v", r.Status, r.Body)
	}
	if r := e.post(fields, map[string]string{"X-API-Key": newKey}); r.Status != 202 {
		t.Fatalf("new key: %d %v", r.Status, r.Body)
	}

	// The audit log: newest first, who, what, before and after.
	a := e.admin("GET", "/v1/admin/audit?limit=3", "")
	recs := a.Body["records"].([]any)
	if a.Status != 200 || len(recs) != 3 {
		t.Fatalf("audit: %d %v", a.Status, a.Body)
	}
	first := recs[0].(map[string]any)
	if first["action"] != "rotate source key" || first["actor"] != "token" || first["target"] != "source/src" {
		t.Fatalf("newest audit record: %v", first)
	}
	if recs[1].(map[string]any)["action"] != "delete campaign" || recs[2].(map[string]any)["action"] != "delete order" {
		t.Fatalf("audit order: %v", recs)
	}
	ch := first["changes"].([]any)[0].(map[string]any)
	if ch["kind"] != "source" || ch["action"] != "change" || ch["before"] == nil || ch["after"] == nil {
		t.Fatalf("audit change: %v", ch)
	}
	all := e.admin("GET", "/v1/admin/audit?limit=200", "")
	var pause map[string]any
	for _, r := range all.Body["records"].([]any) {
		if m := r.(map[string]any); m["action"] == "pause buyer" {
			pause = m
		}
	}
	if pause == nil {
		t.Fatalf("no pause record: %v", all.Body)
	}
	pc := pause["changes"].([]any)[0].(map[string]any)
	if pc["before"].(map[string]any)["status"] != "active" || pc["after"].(map[string]any)["status"] != "paused" {
		t.Fatalf("pause record before/after: %v", pc)
	}
	if r := e.admin("GET", "/v1/admin/audit?limit=0", ""); r.Status != 400 || problems(r)[0]["field"] != "limit" {
		t.Fatalf("bad limit: %d %v", r.Status, r.Body)
	}
}

// The plan is what a PUT would change, and makes no change itself.
func TestPlanShowsChangesWithoutApplying(t *testing.T) {
	b := newBuyer(t)
	doc := campaignYAML(b.srv.URL, "daily: 100")
	e := start(t, doc, nil)
	ver := e.configVersion()
	next := strings.Replace(doc, "price: 25.00", "price: 30.00", 1)
	next = strings.Replace(next, "  - id: other\n    fields:\n      phone: {type: phone, required: true}\n", "", 1)
	next = strings.Replace(next, "sources:\n", "sources:\n  - id: src2\n    campaigns: [auto]\n    api_key_sha256: \""+strings.Repeat("ab", 32)+"\"\n", 1)
	r := e.admin("POST", "/v1/admin/config/plan", next)
	if r.Status != 200 || fmt.Sprint(r.Body["version"]) != ver {
		t.Fatalf("plan: %d %v", r.Status, r.Body)
	}
	var got []string
	for _, c := range r.Body["changes"].([]any) {
		m := c.(map[string]any)
		got = append(got, fmt.Sprintf("%s %s %s", m["action"], m["kind"], m["id"]))
		if m["kind"] == "order" {
			f := m["fields"].([]any)[0].(map[string]any)
			if f["path"] != "price" || f["before"] != 25.0 || f["after"] != 30.0 {
				t.Fatalf("order change: %v", m)
			}
		}
	}
	want := "remove campaign other, add source src2, change order acme/auto"
	if strings.Join(got, ", ") != want {
		t.Fatalf("plan %q, want %q", strings.Join(got, ", "), want)
	}
	if e.configVersion() != ver {
		t.Fatal("the plan changed the configuration")
	}
}

// A change made elsewhere (another function instance's admin call, so no
// local cache invalidation) reaches the router once the configuration
// cache's TTL lapses.
func TestRouterSeesConfigChangeAfterTTL(t *testing.T) {
	b := newBuyer(t)
	doc := campaignYAML(b.srv.URL, "daily: 100")
	e := start(t, doc, func(o *Options) { o.ConfigTTL = time.Second })
	r := e.post(map[string]any{"phone": phone(1), "state": "CA"}, nil)
	if st := e.waitStatus(r.Body["lead_id"].(string)); st != "sold" {
		t.Fatalf("before the change: %s", st)
	}
	// Pause the buyer straight in the table, as another admin instance would.
	other := store.New(dynamodb.NewFromConfig(e.cfg), e.r.App.Settings.Table, time.Now)
	cur, err := other.LoadConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cur.Buyers[0].Status = config.StatusPaused
	if _, _, err := other.SaveConfig(context.Background(), cur, cur.Version); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for i := 2; ; i++ {
		r := e.post(map[string]any{"phone": phone(i), "state": "CA"}, nil)
		if r.Status != http.StatusAccepted {
			t.Fatalf("post: %d %v", r.Status, r.Body)
		}
		if st := e.waitStatus(r.Body["lead_id"].(string)); st == "unsold" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the router never saw the paused buyer")
		}
		time.Sleep(200 * time.Millisecond)
	}
}
