package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/admin"
	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/feedback"
)

// scoringYAML: campaign "solar" (scored, a model from 10 labels), sources
// src (the test key), strict (reject_below 50) and bad; buyers premium
// (min_score 60, $40) and cheap ($5), both on buyerURL; campaign "home"
// with picky (rejects everything: rejectURL) before steady. The loops
// judge sources over a week and orders over a day; slackURL hears them.
func scoringYAML(buyerURL, rejectURL, slackURL string) string {
	return fmt.Sprintf(`
feedback:
  sources: {window: 168h, min_sold: 4, max_return_rate: 0.3}
  orders: {window: 24h, min_offers: 4, min_acceptance: 0.3}
  slack_url: %[6]q
campaigns:
  - id: solar
    fields:
      phone: {type: phone, required: true, pii: true}
      email: {type: email, pii: true}
      state: {type: us_state, required: true}
      ip_address: {type: string}
      trustedform_cert_url: {type: string}
    scoring: {min_labels: 10}
  - id: home
    fields:
      phone: {type: phone, required: true, pii: true}
      state: {type: us_state, required: true}
sources:
  - id: src
    campaigns: [solar, home]
    api_key_sha256: %[1]q
    payout: {type: fixed, amount: 4.00}
  - id: strict
    campaigns: [solar]
    api_key_sha256: %[2]q
    payout: {type: fixed, amount: 4.00}
    reject_below: 50
  - id: bad
    campaigns: [solar]
    api_key_sha256: %[3]q
    payout: {type: fixed, amount: 4.00}
buyers:
  - id: premium
    api_key_sha256: %[7]q
    delivery: {type: webhook, url: %[4]q, secret: %[8]q}
    orders:
      - {campaign: solar, price: 40.00, min_score: 60, priority: 1, return_window: 72h}
  - id: cheap
    api_key_sha256: %[9]q
    delivery: {type: webhook, url: %[4]q, secret: %[8]q}
    orders:
      - {campaign: solar, price: 5.00, priority: 2, return_window: 72h}
  - id: picky
    delivery: {type: webhook, url: %[5]q, secret: %[8]q}
    orders:
      - {campaign: home, price: 30.00, priority: 1}
  - id: steady
    delivery: {type: webhook, url: %[4]q, secret: %[8]q}
    orders:
      - {campaign: home, price: 10.00, priority: 2}
`, sourceHash, config.HashKey("key-strict"), config.HashKey("key-bad"), buyerURL, rejectURL, slackURL,
		config.HashKey("key-premium"), secret, config.HashKey("key-cheap"))
}

// A clean lead and a poor one: the poor one has a toll-free phone, a
// disposable email address and no consent certificate.
func cleanLead(i int) map[string]any {
	return map[string]any{"phone": phone(500 + i), "email": fmt.Sprintf("ada%d@acme-solar.com", i), "state": "CA",
		"ip_address": fmt.Sprintf("203.0.113.%d", i+1), "trustedform_cert_url": "https://cert.trustedform.com/abc"}
}

func poorLead(i int) map[string]any {
	return map[string]any{"phone": fmt.Sprintf("+1800555%04d", 100+i), "email": fmt.Sprintf("x%d@mailinator.com", i), "state": "CA"}
}

func (e *env) postAs(key, campaign string, fields map[string]any) response {
	e.t.Helper()
	b, _ := json.Marshal(map[string]any{"campaign": campaign, "fields": fields})
	return e.do("POST", "/v1/leads", "application/json", string(b), map[string]string{"X-API-Key": key})
}

func (e *env) adminLead(id string) map[string]any {
	e.t.Helper()
	r := e.do("GET", "/v1/admin/leads/"+id, "", "", map[string]string{"Authorization": "Bearer " + adminToken})
	if r.Status != http.StatusOK {
		e.t.Fatalf("admin lead %s: %d %v", id, r.Status, r.Body)
	}
	return r.Body
}

func signal(lead map[string]any, name string) map[string]any {
	d, _ := lead["score_detail"].(map[string]any)
	sigs, _ := d["signals"].([]any)
	for _, s := range sigs {
		if s := s.(map[string]any); s["name"] == name {
			return s
		}
	}
	return nil
}

func soldTo(lead map[string]any) string {
	sales, _ := lead["sales"].([]any)
	if len(sales) == 0 {
		return ""
	}
	return sales[0].(map[string]any)["buyer"].(string)
}

func rejectingBuyer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"status":"rejected","reason":"not in our area"}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// slack is a fake Slack incoming webhook.
type slack struct {
	srv  *httptest.Server
	mu   sync.Mutex
	msgs []string
}

func newSlack(t *testing.T) *slack {
	s := &slack{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct {
			Text string `json:"text"`
		}
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &m)
		s.mu.Lock()
		s.msgs = append(s.msgs, m.Text)
		s.mu.Unlock()
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *slack) said() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.msgs, "\n")
}

// Every lead is scored before routing: the score and its signals are on
// the lead, an order's min_score keeps poor leads away, a source told to
// refuse poor leads does (400, nothing stored), velocity counts the same
// person across sources, and the P&L groups by score band.
func TestLeadsAreScoredAndRoutedByScore(t *testing.T) {
	b := newBuyer(t)
	e := start(t, scoringYAML(b.srv.URL, rejectingBuyer(t).URL, newSlack(t).srv.URL), nil)

	clean := e.postAs(sourceKey, "solar", cleanLead(1))
	poor := e.postAs(sourceKey, "solar", poorLead(1))
	if clean.Status != http.StatusAccepted || poor.Status != http.StatusAccepted {
		t.Fatalf("posts: %d %v; %d %v", clean.Status, clean.Body, poor.Status, poor.Body)
	}
	cleanID, poorID := clean.Body["lead_id"].(string), poor.Body["lead_id"].(string)
	for _, id := range []string{cleanID, poorID} {
		if st := e.waitStatus(id); st != "sold" {
			t.Fatalf("lead %s: %s", id, st)
		}
	}
	c, p := e.adminLead(cleanID), e.adminLead(poorID)
	// A score of 0 is left out of the record (the poor lead's, scored at
	// night in the lead's zone, when the hour signal costs it more).
	cs, _ := c["score"].(float64)
	ps, _ := p["score"].(float64)
	if cs < 60 || ps >= 20 {
		t.Fatalf("scores: clean %v, poor %v", cs, ps)
	}
	if soldTo(c) != "premium" || soldTo(p) != "cheap" {
		t.Fatalf("clean sold to %q, poor to %q: want premium and cheap (min_score 60)", soldTo(c), soldTo(p))
	}
	if s := signal(p, "email_domain"); s == nil || s["value"] != "disposable" || s["points"].(float64) >= 0 {
		t.Fatalf("poor lead's email signal: %v", s)
	}
	if s := signal(p, "phone_type"); s == nil || s["value"] != "toll_free" {
		t.Fatalf("poor lead's phone signal: %v", s)
	}
	// The routing explanation says why premium was passed over.
	var explained bool
	for _, ev := range p["events"].([]any) {
		ev := ev.(map[string]any)
		if ev["type"] == "routed" && strings.Contains(fmt.Sprint(ev["data"]), "low_score") {
			explained = true
		}
	}
	if !explained {
		t.Fatalf("the poor lead's routing does not say low_score: %v", p["events"])
	}

	// A source told to refuse poor leads refuses them, and stores nothing.
	before := e.itemCount()
	r := e.postAs("key-strict", "solar", poorLead(2))
	errBody, _ := r.Body["error"].(map[string]any)
	if r.Status != http.StatusBadRequest || errBody["code"] != "low_score" || !strings.Contains(fmt.Sprint(errBody["fields"]), "email_domain") {
		t.Fatalf("strict source, poor lead: %d %v", r.Status, r.Body)
	}
	if after := e.itemCount(); after != before {
		t.Fatalf("a refused lead wrote %d item(s)", after-before)
	}
	if r := e.postAs("key-strict", "solar", cleanLead(2)); r.Status != http.StatusAccepted {
		t.Fatalf("strict source, clean lead: %d %v", r.Status, r.Body)
	}

	// The same person from another source: velocity, across sources.
	again := cleanLead(1)
	again["email"] = "ada1@acme-solar.com"
	r = e.postAs("key-bad", "solar", again)
	if r.Status != http.StatusAccepted {
		t.Fatalf("repeat from another source: %d %v", r.Status, r.Body)
	}
	repeat := e.adminLead(r.Body["lead_id"].(string))
	v := signal(repeat, "velocity")
	if v == nil || v["value"] != "2-3" || v["points"].(float64) >= 0 {
		t.Fatalf("velocity of a lead seen from another source (its phone, email and IP): %v", v)
	}
	if ev := repeat["events"].([]any)[1].(map[string]any); ev["type"] != "scored" || !strings.Contains(ev["detail"].(string), "velocity 2-3") {
		t.Fatalf("scored event: %v", ev)
	}

	// The P&L by score band.
	e.settle()
	now := time.Now().UTC() // the agency's zone: UTC; a day either side for a test across midnight
	from, to := now.Add(-24*time.Hour).Format(time.DateOnly), now.Add(24*time.Hour).Format(time.DateOnly)
	rep := e.do("GET", "/v1/admin/reports/pnl?group_by=score_band&from="+from+"&to="+to, "", "", map[string]string{"Authorization": "Bearer " + adminToken})
	if rep.Status != http.StatusOK {
		t.Fatalf("P&L by score band: %d %v", rep.Status, rep.Body)
	}
	bands := map[string]float64{}
	for _, row := range rep.Body["rows"].([]any) {
		row := row.(map[string]any)
		bands[row["key"].(string)] = row["leads"].(float64)
	}
	if bands["00-19"] != 1 || len(bands) < 2 {
		t.Fatalf("bands: %v (rows %v)", bands, rep.Body["rows"])
	}
}

// Buyers report outcomes (their key, their leads only, known events), the
// model learns from them on demand, shows what it learned, and takes part
// in the next leads' scores.
func TestOutcomesTrainTheCampaignsModel(t *testing.T) {
	b := newBuyer(t)
	e := start(t, scoringYAML(b.srv.URL, rejectingBuyer(t).URL, newSlack(t).srv.URL), func(o *Options) { o.ConfigTTL = time.Second })
	adm := map[string]string{"Authorization": "Bearer " + adminToken}

	// No labels yet.
	if r := e.do("POST", "/v1/admin/scoring/train", "application/json", `{"campaign":"solar"}`, adm); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("train without labels: %d %v", r.Status, r.Body)
	}
	var premium, cheap []string
	for i := range 8 {
		for _, fields := range []map[string]any{cleanLead(10 + i), poorLead(10 + i)} {
			r := e.postAs(sourceKey, "solar", fields)
			if r.Status != http.StatusAccepted {
				t.Fatalf("post: %d %v", r.Status, r.Body)
			}
			id := r.Body["lead_id"].(string)
			if st := e.waitStatus(id); st != "sold" {
				t.Fatalf("lead %s: %s", id, st)
			}
			if fields["trustedform_cert_url"] != nil {
				premium = append(premium, id)
			} else {
				cheap = append(cheap, id)
			}
		}
	}
	outcome := func(key, body string) response {
		return e.do("POST", "/v1/outcomes", "application/json", body, map[string]string{"X-API-Key": key})
	}
	expect := func(what string, r response, status int, code, field string) {
		t.Helper()
		errBody, _ := r.Body["error"].(map[string]any)
		if r.Status != status || (code != "" && errBody["code"] != code) || !strings.Contains(fmt.Sprint(errBody["fields"]), field) {
			t.Errorf("%s: %d %v; want %d %s on %s", what, r.Status, r.Body, status, code, field)
		}
	}
	conv := func(id string) string { return fmt.Sprintf(`{"lead_id":%q,"event":"converted","value":1200.50}`, id) }
	expect("no key", e.do("POST", "/v1/outcomes", "application/json", conv(premium[0]), nil), 401, "unauthorized", "")
	expect("a source's key", outcome(sourceKey, conv(premium[0])), 401, "unauthorized", "")
	expect("another buyer's lead", outcome("key-cheap", conv(premium[0])), 404, "lead_not_found", "")
	expect("no such lead", outcome("key-premium", conv("nope")), 404, "lead_not_found", "")
	expect("unknown event", outcome("key-premium", fmt.Sprintf(`{"lead_id":%q,"event":"loved"}`, premium[0])), 400, "validation_failed", "event")
	expect("negative value", outcome("key-premium", fmt.Sprintf(`{"lead_id":%q,"event":"converted","value":-1}`, premium[0])), 400, "validation_failed", "value")
	expect("unknown property", outcome("key-premium", fmt.Sprintf(`{"lead_id":%q,"event":"converted","score":100}`, premium[0])), 400, "validation_failed", "score")
	expect("not JSON", outcome("key-premium", `{"lead_id":`), 400, "invalid_json", "")

	for _, id := range premium {
		for range 2 { // a repeat changes nothing
			if r := outcome("key-premium", conv(id)); r.Status != http.StatusAccepted || r.Body["status"] != "recorded" {
				t.Fatalf("outcome: %d %v", r.Status, r.Body)
			}
		}
	}
	for _, id := range cheap {
		r := e.do("POST", "/v1/returns", "application/json", fmt.Sprintf(`{"lead_id":%q,"reason":"fraud"}`, id), map[string]string{"X-API-Key": "key-cheap"})
		if r.Status != http.StatusOK {
			t.Fatalf("return: %d %v", r.Status, r.Body)
		}
	}
	lead := e.adminLead(premium[0])
	reports, _ := lead["reports"].([]any)
	if len(reports) != 1 || reports[0].(map[string]any)["event"] != "converted" || reports[0].(map[string]any)["value"] != 1200.5 {
		t.Fatalf("reports: %v", lead["reports"])
	}

	// Bad training requests.
	expect("unknown campaign", e.do("POST", "/v1/admin/scoring/train", "application/json", `{"campaign":"nope"}`, adm), 404, "campaign_not_found", "")
	expect("no campaign", e.do("POST", "/v1/admin/scoring/train", "application/json", `{}`, adm), 400, "validation_failed", "campaign")
	expect("other property", e.do("POST", "/v1/admin/scoring/train", "application/json", `{"campaign":"solar","x":1}`, adm), 400, "validation_failed", "campaign")

	// Train: version 1, its held-out metrics, its largest terms.
	r := e.do("POST", "/v1/admin/scoring/train", "application/json", `{"campaign":"solar"}`, adm)
	if r.Status != http.StatusOK {
		t.Fatalf("train: %d %v", r.Status, r.Body)
	}
	m, _ := r.Body["model"].(map[string]any)
	metrics, _ := m["metrics"].(map[string]any)
	if m == nil || m["version"] != 1.0 || m["labels"] != 16.0 || metrics["n"] != 16.0 || metrics["positives"] != 8.0 || r.Body["blend"].(float64) <= 0 {
		t.Fatalf("trained: %v", r.Body)
	}
	if r := e.do("POST", "/v1/admin/scoring/train", "application/json", `{"campaign":"solar"}`, adm); r.Body["model"].(map[string]any)["version"] != 2.0 {
		t.Fatalf("trained again: %v", r.Body)
	}
	got := e.do("GET", "/v1/admin/scoring/solar", "", "", adm)
	terms, _ := got.Body["model"].(map[string]any)["largest_terms"].([]any)
	if got.Status != http.StatusOK || len(terms) == 0 {
		t.Fatalf("model: %d %v", got.Status, got.Body)
	}
	// What it learned: disposable email addresses go with fraud.
	var disposable float64
	for _, term := range terms {
		if term := term.(map[string]any); term["feature"] == "email=disposable" {
			disposable = term["weight"].(float64)
		}
	}
	if disposable >= 0 {
		t.Fatalf("email=disposable's weight %v, want negative: %v", disposable, terms)
	}
	if r := e.do("GET", "/v1/admin/scoring/home", "", "", adm); r.Status != http.StatusOK || r.Body["model"] != nil {
		t.Fatalf("a campaign without a model: %d %v", r.Status, r.Body)
	}

	// The next lead's score has the model's part (the runner's model
	// cache lasts its ConfigTTL).
	time.Sleep(1100 * time.Millisecond)
	r = e.postAs(sourceKey, "solar", cleanLead(40))
	if r.Status != http.StatusAccepted {
		t.Fatalf("post: %d %v", r.Status, r.Body)
	}
	d, _ := e.adminLead(r.Body["lead_id"].(string))["score_detail"].(map[string]any)
	part, _ := d["model"].(map[string]any)
	if part == nil || part["version"] != 2.0 || part["blend"].(float64) <= 0 || len(part["terms"].([]any)) == 0 {
		t.Fatalf("score detail after training: %v", d)
	}
}

// The loops act by themselves: a source whose sales come back is paused
// (the audit log says by whom, Slack hears of it, its leads are refused),
// an operator can resume it, and the loop restores it once its rate is
// under the restore line; an order that refuses what it is offered is
// demoted.
func TestFeedbackLoopsPauseAndDemote(t *testing.T) {
	b, sl := newBuyer(t), newSlack(t)
	e := start(t, scoringYAML(b.srv.URL, rejectingBuyer(t).URL, sl.srv.URL), func(o *Options) { o.ConfigTTL = time.Second })
	adm := map[string]string{"Authorization": "Bearer " + adminToken}
	ctx := context.Background()

	var bad []string
	for i := range 5 {
		r := e.postAs("key-bad", "solar", cleanLead(60+i))
		id := r.Body["lead_id"].(string)
		if st := e.waitStatusAs("key-bad", id); st != "sold" {
			t.Fatalf("lead %s: %s", id, st)
		}
		bad = append(bad, id)
	}
	for i := range 4 {
		r := e.postAs(sourceKey, "home", map[string]any{"phone": phone(700 + i), "state": "CA"})
		if st := e.waitStatus(r.Body["lead_id"].(string)); st != "sold" {
			t.Fatalf("home lead: %s", st)
		}
	}
	// Nothing to do yet for the source: no returns.
	e.settle()
	acts, err := e.r.Admin.RunLoops(ctx)
	if err != nil || len(acts) != 1 || acts[0].Kind != "demote_order" || acts[0].Buyer != "picky" {
		t.Fatalf("first run: %v %+v", err, acts)
	}
	for _, id := range bad[:3] {
		r := e.do("POST", "/v1/returns", "application/json", fmt.Sprintf(`{"lead_id":%q,"reason":"wrong_person"}`, id), map[string]string{"X-API-Key": "key-premium"})
		if r.Status != http.StatusOK {
			t.Fatalf("return: %d %v", r.Status, r.Body)
		}
	}
	e.settle()
	if err := e.r.Admin.RunTask(ctx, admin.Task{Task: admin.TaskFeedback}); err != nil {
		t.Fatal(err)
	}
	cfg := e.do("GET", "/v1/admin/sources/bad", "", "", adm)
	if cfg.Body["status"] != "paused" || cfg.Body["paused_by"] != "feedback" {
		t.Fatalf("source bad after 3 of 5 returned: %v", cfg.Body)
	}
	order := e.do("GET", "/v1/admin/buyers/picky", "", "", adm).Body["orders"].([]any)[0].(map[string]any)
	if order["priority"] != 2.0 || order["demoted"] == nil {
		t.Fatalf("picky's order after refusing 4 of 4: %v", order)
	}
	audit := e.do("GET", "/v1/admin/audit", "", "", adm)
	records, _ := audit.Body["records"].([]any)
	if len(records) == 0 || records[0].(map[string]any)["actor"] != admin.LoopActor {
		t.Fatalf("audit: %v", audit.Body)
	}
	if said := sl.said(); !strings.Contains(said, "source bad paused: return rate 60%") || !strings.Contains(said, "order picky/home demoted") {
		t.Fatalf("Slack heard: %q", said)
	}
	time.Sleep(1100 * time.Millisecond) // ingest's configuration cache (ConfigTTL)
	if r := e.postAs("key-bad", "solar", cleanLead(70)); r.Status != http.StatusForbidden {
		t.Fatalf("a paused source's lead: %d %v", r.Status, r.Body)
	}
	// Run again: nothing new (no flapping).
	if acts, err := e.r.Admin.RunLoops(ctx); err != nil || len(acts) != 0 {
		t.Fatalf("run again: %v %+v", err, acts)
	}
	// An operator resumes it: the loop's mark goes with the pause. Its
	// rates still over the limit, the next run pauses it again.
	if r := e.do("POST", "/v1/admin/sources/bad/resume", "", "", adm); r.Status != http.StatusOK {
		t.Fatalf("resume: %d %v", r.Status, r.Body)
	}
	if cfg := e.do("GET", "/v1/admin/sources/bad", "", "", adm); cfg.Body["status"] != "active" || cfg.Body["paused_by"] != nil {
		t.Fatalf("resumed: %v", cfg.Body)
	}
	if acts, err := e.r.Admin.RunLoops(ctx); err != nil || len(acts) != 1 || acts[0].Kind != "pause_source" {
		t.Fatalf("after the operator's resume: %v %+v", err, acts)
	}

	// The agency accepts more returns from its sources: the loop restores
	// what it paused, since its rate is now under the restore line.
	doc := strings.Replace(scoringYAML(b.srv.URL, rejectingBuyer(t).URL, sl.srv.URL), "max_return_rate: 0.3", "max_return_rate: 0.9, restore_below: 0.7", 1)
	doc = strings.Replace(doc, "  - id: bad\n", "  - id: bad\n    status: paused\n    paused_by: feedback\n", 1)
	if r := e.admin("PUT", "/v1/admin/config", doc); r.Status != http.StatusOK {
		t.Fatalf("put config: %d %v", r.Status, r.Body)
	}
	acts, err = e.r.Admin.RunLoops(ctx)
	if err != nil || !slices.ContainsFunc(acts, func(a feedback.Action) bool { return a.Kind == feedback.RestoreSource && a.Source == "bad" }) {
		t.Fatalf("after the limit was raised: %v %+v", err, acts)
	}
	if cfg := e.do("GET", "/v1/admin/sources/bad", "", "", adm); cfg.Body["status"] != "active" || cfg.Body["paused_by"] != nil {
		t.Fatalf("restored by the loop: %v", cfg.Body)
	}
	if said := sl.said(); !strings.Contains(said, "source bad restored: return rate 60% over 7d is back under 70%") {
		t.Fatalf("Slack heard: %q", said)
	}
	time.Sleep(1100 * time.Millisecond)
	if r := e.postAs("key-bad", "solar", cleanLead(71)); r.Status != http.StatusAccepted {
		t.Fatalf("a restored source's lead: %d %v", r.Status, r.Body)
	}
}
