package runner

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/leadrelay/leadrelay/shared/store"
)

// consoleClient is a browser's view of the console: a cookie jar, HTML
// pages.
type consoleClient struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newConsoleClient(t *testing.T, base string) *consoleClient {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &consoleClient{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// do sends a request (following redirects, as a browser does) and answers
// the final status and body.
func (cc *consoleClient) do(method, path string, form url.Values) (int, string) {
	cc.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, cc.base+path, body)
	if err != nil {
		cc.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", cc.base)
	}
	resp, err := cc.c.Do(req)
	if err != nil {
		cc.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// csrf is the page's CSRF token.
func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]{64})"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the page: %s", page)
	}
	return m[1]
}

// The console signs in with the operator token, shows a posted lead in the
// live feed and the search, its P&L equals the API's to the cent, and a
// buyer paused through it (with the CSRF token) is paused in the
// configuration.
func TestConsoleAgainstTheRunner(t *testing.T) {
	b := newBuyer(t)
	e := start(t, campaignYAML(b.srv.URL, "daily: 100"), nil)
	cc := newConsoleClient(t, e.r.URL)

	// Signed out, the console sends the browser to sign in.
	st, page := cc.do("GET", "/console", nil)
	if st != 200 || !strings.Contains(page, `<input id="token" name="token" type="password"`) {
		t.Fatalf("GET /console signed out: %d %s", st, page)
	}
	if st, page = cc.do("POST", "/console/login", url.Values{"token": {"wrong"}}); st != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", st)
	}
	st, page = cc.do("POST", "/console/login", url.Values{"token": {adminToken}})
	if st != 200 || !strings.Contains(page, `<dl id="kpis"`) {
		t.Fatalf("sign in: %d %s", st, page)
	}
	csrf := csrfOf(t, page)

	// A lead posted through the API shows in the live feed and the search.
	ph := phone(700)
	r := e.post(map[string]any{"phone": ph, "state": "TX"}, nil)
	if r.Status != 202 {
		t.Fatalf("post lead: %d %v", r.Status, r.Body)
	}
	id := r.Body["lead_id"].(string)
	if st := e.waitStatus(id); st != "sold" {
		t.Fatalf("lead %s: %s", id, st)
	}
	if st, page = cc.do("GET", "/console/overview/feed", nil); st != 200 || !strings.Contains(page, `data-lead-id="`+id+`"`) {
		t.Fatalf("feed: %d, lead %s not in %s", st, id, page)
	}
	if st, page = cc.do("GET", "/console/leads?q="+url.QueryEscape(ph), nil); st != 200 || !strings.Contains(page, `<tr data-lead-id="`+id+`"`) {
		t.Fatalf("search by phone: %d, lead %s not in %s", st, id, page)
	}
	st, page = cc.do("GET", "/console/leads/"+id, nil)
	for _, want := range []string{`id="timeline"`, `data-order="acme/auto" data-eligible="true"`, `<table id="attempts">`, `data-type="attempt"`, `<form id="return"`} {
		if st != 200 || !strings.Contains(page, want) {
			t.Fatalf("lead page: %d, lacks %s: %s", st, want, page)
		}
	}

	// The P&L page's totals are the API's, to the cent.
	if err := e.r.SettleLedger(t.Context()); err != nil {
		t.Fatal(err)
	}
	day := time.Now().UTC().Format(time.DateOnly)
	q := url.Values{"from": {day}, "to": {day}}
	st, page = cc.do("GET", "/console/pnl?group=campaign&"+q.Encode(), nil)
	if st != 200 || !strings.Contains(page, `id="pnl-chart"`) {
		t.Fatalf("P&L page: %d %s", st, page)
	}
	var rep struct {
		Totals map[string]any `json:"totals"`
	}
	raw := apiBody(t, e, q)
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("P&L API: %v %s", err, raw)
	}
	if rep.Totals["revenue"] != json.Number("25") || rep.Totals["cost"] != json.Number("4") {
		t.Fatalf("P&L API totals: %v", rep.Totals)
	}
	for _, col := range []string{"revenue", "cost", "ad_spend", "profit", "leads", "sold"} {
		m := regexp.MustCompile(`data-col="` + col + `" data-value="([^"]*)"`).FindStringSubmatch(page[strings.Index(page, `id="pnl-total"`):])
		if m == nil || json.Number(m[1]) != rep.Totals[col] {
			t.Errorf("P&L total %s: page %v, API %s", col, m, rep.Totals[col])
		}
	}

	// The configuration page shows secrets as set, never their values.
	if st, page = cc.do("GET", "/console/config", nil); st != 200 || !strings.Contains(page, "(set)") || strings.Contains(page, secret) {
		t.Fatalf("config page: %d, secret shown or not marked set", st)
	}
	if !strings.Contains(page, `<tr data-queue="delivery">`) {
		t.Fatalf("config page without the DLQs: %s", page)
	}
	// The document as shown plans to no change, and applies over its
	// version (its secrets kept), but not over an older one.
	m := regexp.MustCompile(`(?s)<textarea id="config-editor"[^>]*>(.*?)</textarea>`).FindStringSubmatch(page)
	v := regexp.MustCompile(`name="version" value="(\d+)"`).FindStringSubmatch(page)
	if m == nil || v == nil {
		t.Fatalf("config page without the editor or its version: %s", page)
	}
	doc := html.UnescapeString(m[1])
	if st, page = cc.do("POST", "/console/config/plan", url.Values{"csrf": {csrf}, "version": {v[1]}, "document": {doc}}); st != 200 || !strings.Contains(page, "No change.") {
		t.Fatalf("plan of the document as shown: %d %s", st, page)
	}
	if st, page = cc.do("POST", "/console/config/apply", url.Values{"csrf": {csrf}, "version": {"0"}, "document": {doc}}); st != http.StatusPreconditionFailed || !strings.Contains(page, `id="config-problem"`) {
		t.Fatalf("apply over an old version: %d %s", st, page)
	}
	if st, page = cc.do("POST", "/console/config/apply", url.Values{"csrf": {csrf}, "version": {v[1]}, "document": {doc}}); st != 200 || !strings.Contains(page, "The configuration was applied.") {
		t.Fatalf("apply: %d %s", st, page)
	}
	if r := e.post(map[string]any{"phone": phone(701), "state": "TX"}, nil); r.Status != 202 || e.waitStatus(r.Body["lead_id"].(string)) != "sold" {
		t.Fatalf("a lead after applying the document as shown: %d %v", r.Status, r.Body)
	}
	if bad := b.bad.Load(); bad != 0 {
		t.Fatalf("%d posts' signatures did not verify after the apply: the secret was not kept", bad)
	}

	// Pausing a buyer without the CSRF token changes nothing; with it,
	// the buyer is paused.
	if st, _ = cc.do("POST", "/console/buyers/acme/pause", url.Values{}); st != http.StatusForbidden {
		t.Fatalf("pause without CSRF: %d", st)
	}
	if got := buyerStatus(t, e); got != "" && got != "active" {
		t.Fatalf("buyer %q after a refused pause", got)
	}
	if st, page = cc.do("POST", "/console/buyers/acme/pause", url.Values{"csrf": {csrf}}); st != 200 || !strings.Contains(page, `<table id="buyers">`) {
		t.Fatalf("pause: %d %s", st, page)
	}
	if got := buyerStatus(t, e); got != "paused" {
		t.Fatalf("buyer %q after the console paused it", got)
	}
	if !strings.Contains(page, `<form data-action="resume" data-buyer="acme"`) {
		t.Fatalf("buyers page after the pause offers no resume: %s", page)
	}

	// The overview's hourly chart counts the day's two leads (from the
	// campaign's day aggregate: one ledger read).
	e.settle()
	hr := e.do("GET", "/v1/admin/reports/hourly", "", "", map[string]string{"Authorization": "Bearer " + adminToken})
	var n float64
	for _, h := range hr.Body["hours"].([]any) {
		n += h.(float64)
	}
	if hr.Status != 200 || n != 2 {
		t.Fatalf("hourly report: %d, %v leads: %v", hr.Status, n, hr.Body)
	}
	// In the hour they came (the agency's zone is UTC here; the previous
	// hour if the test straddled one).
	hours, now := hr.Body["hours"].([]any), time.Now().UTC()
	if hours[now.Hour()].(float64)+hours[now.Add(-time.Minute).Hour()].(float64) == 0 {
		t.Fatalf("hourly report: the leads are not in hour %d: %v", now.Hour(), hours)
	}
	if st, page = cc.do("GET", "/console/overview", nil); st != 200 || !strings.Contains(page, `id="hourly-chart"`) {
		t.Fatalf("overview: %d", st)
	}

	// Signing out ends the session.
	if st, _ = cc.do("POST", "/console/logout", url.Values{"csrf": {csrf}}); st != 200 {
		t.Fatalf("sign out: %d", st)
	}
	if st, page = cc.do("GET", "/console/overview", nil); st != 200 || !strings.Contains(page, `id="sign-in"`) {
		t.Fatalf("overview after signing out: %d", st)
	}
}

// apiBody is the P&L API's JSON of a day, by campaign.
func apiBody(t *testing.T, e *env, q url.Values) string {
	t.Helper()
	req, _ := http.NewRequest("GET", e.r.URL+"/v1/admin/reports/pnl?group_by=campaign&"+q.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// buyerStatus is acme's status in GET /v1/admin/config.
func buyerStatus(t *testing.T, e *env) string {
	t.Helper()
	r := e.do("GET", "/v1/admin/config", "", "", map[string]string{"Authorization": "Bearer " + adminToken})
	for _, b := range r.Body["buyers"].([]any) {
		if b := b.(map[string]any); b["id"] == "acme" {
			s, _ := b["status"].(string)
			return s
		}
	}
	t.Fatal("no buyer acme")
	return ""
}

// The console's sessions in the table: read back, refused once expired
// (moto never deletes), ended at once by a sign-out, kept under the
// SHA-256 of the cookie's id.
func TestConsoleSessionsInTheTable(t *testing.T) {
	e := start(t, campaignYAML("http://127.0.0.1:1", "daily: 1"), nil)
	ctx, st := t.Context(), e.r.App.Store
	now := time.Now().UTC().Truncate(time.Second)
	live := store.Session{Kind: store.SessionOperator, Who: "token", CSRF: "c5rf", Created: now, Expires: now.Add(time.Hour)}
	if err := st.PutSession(ctx, "cookie-1", live); err != nil {
		t.Fatal(err)
	}
	if err := st.PutSession(ctx, "cookie-1", live); err == nil {
		t.Fatal("a session id was put twice")
	}
	got, err := st.Session(ctx, "cookie-1")
	if err != nil || got.Who != "token" || got.CSRF != "c5rf" || !got.Expires.Equal(live.Expires) || !got.Created.Equal(now) {
		t.Fatalf("session read back: %+v %v", got, err)
	}
	old := live
	old.Expires = now.Add(-time.Second)
	if err := st.PutSession(ctx, "cookie-2", old); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Session(ctx, "cookie-2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired session: %v", err)
	}
	if err := st.EndSession(ctx, "cookie-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Session(ctx, "cookie-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ended session: %v", err)
	}
	if err := st.EndSession(ctx, "never-was"); err != nil {
		t.Fatalf("ending no session: %v", err)
	}
	if _, err := st.Session(ctx, "never-was"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("no session: %v", err)
	}
	// The table holds the id's hash, never the id.
	out, err := dynamodb.NewFromConfig(e.cfg).GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(e.r.App.Settings.Table),
		Key: map[string]ddbtypes.AttributeValue{
			"pk": &ddbtypes.AttributeValueMemberS{Value: "SESSION#" + fmt.Sprintf("%x", sha256.Sum256([]byte("cookie-1")))},
			"sk": &ddbtypes.AttributeValueMemberS{Value: "SESSION"},
		},
	})
	if err != nil || out.Item == nil {
		t.Fatalf("session item by the id's hash: %v %v", out, err)
	}
}
