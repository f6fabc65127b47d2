package console

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/store"
)

// fakeNow is the tests' clock: 11:40 UTC.
var fakeNow = time.Date(2026, 12, 1, 11, 40, 0, 0, time.UTC)

const (
	testToken  = "operator-token-123"
	fakeSecret = "whsec_do_not_show"
)

// fakeAPI answers the admin routes the console calls with demo-sized data
// (leads per campaign, buyers), and records every request.
type fakeAPI struct {
	mu       sync.Mutex
	calls    []httpapi.Request
	campaign int // leads per campaign
	buyers   int
	// paused buyers, by id: a pause is the one change the tests look at.
	paused map[string]bool
	// noHealth answers 404 to the buyer health route.
	noHealth bool
}

func newFakeAPI(leadsPerCampaign, buyers int) *fakeAPI {
	return &fakeAPI{campaign: leadsPerCampaign, buyers: buyers, paused: map[string]bool{}}
}

// changes are the requests other than GET.
func (f *fakeAPI) changes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, r := range f.calls {
		if r.HTTPMethod != http.MethodGet {
			out = append(out, r.HTTPMethod+" "+r.Path)
		}
	}
	return out
}

func (f *fakeAPI) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

var fakeCampaigns = []string{"auto-insurance", "solar"}

func (f *fakeAPI) Handle(_ context.Context, req httpapi.Request) (httpapi.Response, error) {
	f.mu.Lock()
	f.calls = append(f.calls, req)
	f.mu.Unlock()
	if httpapi.Bearer(req) != "api-token" {
		return httpapi.Error(401, "unauthorized", "no token"), nil
	}
	p := req.Path
	switch {
	case req.HTTPMethod == "GET" && p == "/v1/admin/config":
		if strings.Contains(httpapi.Header(req, "Accept"), "yaml") {
			return httpapi.Response{StatusCode: 200, Headers: map[string]string{"Content-Type": "application/yaml", "ETag": `"7"`},
				Body: "campaigns:\n  - id: auto-insurance\nbuyers:\n  - id: acme\n    delivery: {type: webhook, url: \"https://acme.example/leads\", secret: (set)}\n"}, nil
		}
		var buyers []map[string]string
		for i := range f.buyers {
			buyers = append(buyers, map[string]string{"id": fmt.Sprintf("buyer-%d", i)})
		}
		return httpapi.JSON(200, map[string]any{"version": 7, "timezone": "America/New_York",
			"campaigns": []map[string]string{{"id": fakeCampaigns[0]}, {"id": fakeCampaigns[1]}}, "buyers": buyers}), nil
	case req.HTTPMethod == "GET" && p == "/v1/admin/reports/pnl":
		if strings.Contains(httpapi.Header(req, "Accept"), "text/csv") {
			return httpapi.Response{StatusCode: 200, Body: "key,leads\ntotal,50\n", Headers: map[string]string{
				"Content-Type": "text/csv; charset=utf-8", "Content-Disposition": `attachment; filename="pnl.csv"`}}, nil
		}
		q := req.QueryStringParameters
		var rows []map[string]any
		for i := range 10 {
			rows = append(rows, map[string]any{"key": fmt.Sprintf("%s-%d", q["group_by"], i), "leads": 5, "accepted": 5, "sold": 3,
				"duplicates": 1, "revenue": 75.5, "cost": 12, "ad_spend": 3.25, "profit": 60.25, "margin": 0.798, "return_rate": 0.1})
		}
		return httpapi.JSON(200, map[string]any{"from": q["from"], "to": q["to"], "group_by": q["group_by"], "rows": rows,
			"totals": map[string]any{"key": "total", "leads": 50, "accepted": 48, "sold": 30, "duplicates": 2, "revenue": 755.1,
				"cost": 120, "ad_spend": 32.5, "profit": 602.6, "margin": 0.798, "return_rate": 0.1}}), nil
	case req.HTTPMethod == "GET" && p == "/v1/admin/leads":
		q := req.QueryStringParameters
		var leads []map[string]any
		n := f.campaign
		if q["phone"] != "" || q["email"] != "" {
			n = 1
		}
		camp := cmpOr(q["campaign"], "auto-insurance")
		for i := range n {
			leads = append(leads, map[string]any{"lead_id": fmt.Sprintf("L-%s-%02d", camp, i), "campaign": camp,
				"source": "fb-1", "status": []string{"sold", "unsold", "routing"}[i%3], "created_at": fakeNow.Add(-time.Duration(i) * 7 * time.Minute),
				"buyers": []string{"acme"}, "revenue": 25})
		}
		return httpapi.JSON(200, map[string]any{"leads": leads}), nil
	case req.HTTPMethod == "GET" && strings.HasPrefix(p, "/v1/admin/leads/"):
		id := strings.TrimPrefix(p, "/v1/admin/leads/")
		if id == "missing" {
			return httpapi.Error(404, "lead_not_found", "no lead %q", id), nil
		}
		return httpapi.Response{StatusCode: 200, Body: fmt.Sprintf(fakeLead, id)}, nil
	case req.HTTPMethod == "GET" && p == "/v1/admin/buyers/health":
		if f.noHealth {
			return httpapi.Error(404, "not_found", "no such endpoint"), nil
		}
		var buyers []map[string]any
		for i := range f.buyers {
			id := fmt.Sprintf("buyer-%d", i)
			status := "active"
			if f.paused[id] {
				status = "paused"
			}
			buyers = append(buyers, map[string]any{"buyer": id, "name": "Buyer " + id, "status": status,
				"breaker": map[string]any{"state": []string{"closed", "open", "half_open"}[i%3], "failures": i % 3},
				"orders": []map[string]any{{"order": "auto", "campaign": "auto-insurance", "status": "active", "price": 25.0,
					"caps": []map[string]any{{"period": "daily", "kind": "leads", "limit": 100, "used": 12, "bucket": "2026-12-01"},
						{"period": "daily", "kind": "budget", "limit": 1000, "used": 250.5, "bucket": "2026-12-01"}},
					"offered": 40, "sold": 30, "acceptance": 0.75, "responses": 30, "avg_response_ms": 212}}})
		}
		return httpapi.JSON(200, map[string]any{"at": fakeNow, "window_days": 7, "buyers": buyers}), nil
	case req.HTTPMethod == "POST" && strings.HasPrefix(p, "/v1/admin/buyers/"):
		parts := strings.Split(p, "/")
		f.mu.Lock()
		f.paused[parts[4]] = parts[5] == "pause"
		f.mu.Unlock()
		return httpapi.JSON(200, map[string]any{"version": 8, "changed": true}), nil
	case req.HTTPMethod == "GET" && p == "/v1/admin/reports/hourly":
		hours := make([]int, 24)
		hours[11] = 30
		hours[10] = 20
		return httpapi.JSON(200, map[string]any{"date": req.QueryStringParameters["date"], "timezone": "America/New_York", "hours": hours,
			"campaigns": []map[string]any{{"campaign": fakeCampaigns[0], "hours": hours}, {"campaign": fakeCampaigns[1], "hours": make([]int, 24)}}}), nil
	case req.HTTPMethod == "GET" && p == "/v1/admin/audit":
		return httpapi.JSON(200, map[string]any{"records": []map[string]any{{"version": 7, "previous_version": 6, "at": fakeNow,
			"actor": "console:token", "action": "pause buyer", "target": "buyer/acme", "changes": []any{map[string]any{}}}}}), nil
	case req.HTTPMethod == "GET" && p == "/v1/admin/dlq":
		return httpapi.JSON(200, map[string]any{"dlqs": []map[string]any{{"queue": "routing", "messages": 0, "in_flight": 0},
			{"queue": "delivery", "messages": 2, "in_flight": 0}, {"queue": "meta", "messages": 0, "in_flight": 0}}}), nil
	case req.HTTPMethod == "POST" && p == "/v1/admin/config/plan":
		return httpapi.JSON(200, map[string]any{"version": 7, "changes": []map[string]any{{"kind": "buyer", "id": "acme", "action": "change",
			"fields": []map[string]any{{"path": "status", "before": "active", "after": "paused"}}}}}), nil
	case req.HTTPMethod == "PUT" && p == "/v1/admin/config":
		if httpapi.Header(req, "If-Match") != `"7"` {
			return httpapi.Error(412, "version_conflict", "the configuration is at version 7"), nil
		}
		return httpapi.JSON(200, map[string]any{"version": 8, "changed": true}), nil
	case req.HTTPMethod == "POST" && (strings.HasSuffix(p, "/reroute") || strings.HasSuffix(p, "/return") || p == "/v1/admin/redrive"):
		return httpapi.JSON(200, map[string]any{"ok": true}), nil
	}
	return httpapi.Error(404, "not_found", "no such endpoint: %s %s", req.HTTPMethod, p), nil
}

// fakeLead is a lead with every section of its page: %s is its id.
const fakeLead = `{"lead_id": "%s", "campaign": "auto-insurance", "source": "fb-1", "fields": {"phone": "+15555550100", "state": "TX"},
 "created_at": "2026-12-01T11:30:00Z", "status": "sold", "seq": 2, "score": 72,
 "score_detail": {"score": 72, "rule": 70, "signals": [{"name": "phone_type", "value": "mobile", "points": 10}],
   "model": {"version": 3, "probability": 0.61, "blend": 0.4, "terms": [{"feature": "state=TX", "weight": 0.3}]}},
 "sales": [{"buyer": "acme", "order": "auto", "price": 25, "payout": 4, "at": "2026-12-01T11:30:02Z"}],
 "events": [
  {"at": "2026-12-01T11:30:00Z", "type": "received", "detail": "accepted from fb-1"},
  {"at": "2026-12-01T11:30:01Z", "type": "auction", "detail": "2 of 2 orders bid", "data": {"bids": [{"order": "acme/auto", "outcome": "bid", "bid": 25, "latency_ms": 40, "rank": 1}, {"order": "zeta/auto", "outcome": "no_bid", "latency_ms": 800}]}},
  {"at": "2026-12-01T11:30:01Z", "type": "routed", "buyer": "acme", "order": "auto", "detail": "waterfall", "data": {"orders": 2, "verdicts": [{"order": "acme/auto", "eligible": true, "rank": 1}, {"order": "zeta/auto", "eligible": false, "reason": "filter", "detail": "state not in [CA]"}]}},
  {"at": "2026-12-01T11:30:02Z", "type": "attempt", "buyer": "acme", "order": "auto", "detail": "accepted (2xx)", "data": {"outcome": "accepted", "reason": "2xx", "status": 200, "latency_ms": 120, "response": "{\"ok\":true}"}},
  {"at": "2026-12-01T11:30:02Z", "type": "accepted", "buyer": "acme", "order": "auto"}
 ],
 "updated_at": "2026-12-01T11:30:02Z"}`

// memSessions is Sessions in memory, expiring as the store does.
type memSessions struct {
	mu   sync.Mutex
	now  func() time.Time
	byID map[string]store.Session
}

func (m *memSessions) PutSession(_ context.Context, id string, s store.Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.byID[id]; ok {
		return fmt.Errorf("session exists")
	}
	m.byID[id] = s
	return nil
}

func (m *memSessions) Session(_ context.Context, id string) (*store.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.byID[id]
	if !ok || !m.now().Before(s.Expires) {
		return nil, store.ErrNotFound
	}
	return &s, nil
}

func (m *memSessions) EndSession(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.byID[id]; ok {
		s.Expires = m.now()
		m.byID[id] = s
	}
	return nil
}

func (m *memSessions) live() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, s := range m.byID {
		if m.now().Before(s.Expires) {
			n++
		}
	}
	return n
}

// testConsole is a console over the fake API, served by httptest.
type testConsole struct {
	t        *testing.T
	srv      *httptest.Server
	console  *Server
	api      *fakeAPI
	sessions *memSessions
}

func newTestConsole(t *testing.T, mod func(*Server)) *testConsole {
	t.Helper()
	api := newFakeAPI(25, 10)
	now := func() time.Time { return fakeNow }
	sessions := &memSessions{now: now, byID: map[string]store.Session{}}
	c := &Server{API: api, APIToken: "api-token", Sessions: sessions, Token: testToken, Now: now,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	tc := &testConsole{t: t, console: c, api: api, sessions: sessions}
	tc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := httpapi.Request{HTTPMethod: r.Method, Path: r.URL.Path, Body: string(body),
			Headers: map[string]string{"Host": r.Host}, QueryStringParameters: map[string]string{}}
		for k, v := range r.Header {
			req.Headers[k] = strings.Join(v, "; ")
		}
		for k, v := range r.URL.Query() {
			req.QueryStringParameters[k] = v[0]
		}
		resp, err := c.Handle(r.Context(), req)
		if err != nil {
			t.Errorf("console: %v", err)
			w.WriteHeader(500)
			return
		}
		for k, v := range resp.Headers {
			w.Header().Set(k, v)
		}
		for k, vs := range resp.MultiValueHeaders {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.WriteString(w, resp.Body)
	}))
	t.Cleanup(tc.srv.Close)
	c.PublicURL = tc.srv.URL
	if mod != nil {
		mod(c)
	}
	return tc
}

// answer is an HTTP answer, read whole.
type answer struct {
	*http.Response
	body string
}

// do sends a request without following redirects; cookie, when set, is
// the session's.
func (tc *testConsole) do(method, path string, form url.Values, headers map[string]string) answer {
	tc.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, tc.srv.URL+path, body)
	if err != nil {
		tc.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept", "text/html")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		tc.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp, string(b)}
}

// signIn signs in with the token and answers the session cookie and the
// session's CSRF token.
func (tc *testConsole) signIn() (cookie, csrf string) {
	tc.t.Helper()
	a := tc.do("POST", "/console/login", url.Values{"token": {testToken}}, nil)
	if a.StatusCode != http.StatusSeeOther {
		tc.t.Fatalf("sign in: %d %s", a.StatusCode, a.body)
	}
	for _, c := range a.Cookies() {
		if c.Name == sessionCookie {
			cookie = c.Name + "=" + c.Value
		}
	}
	if cookie == "" {
		tc.t.Fatal("no session cookie")
	}
	page := tc.do("GET", "/console/overview", nil, map[string]string{"Cookie": cookie})
	_, rest, ok := strings.Cut(page.body, `name="csrf" value="`)
	if !ok {
		tc.t.Fatalf("no CSRF token on the overview: %s", page.body)
	}
	csrf, _, _ = strings.Cut(rest, `"`)
	return cookie, csrf
}

// decodeJSON decodes an answer's JSON body.
func decodeJSON(t *testing.T, body string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("not JSON: %v: %s", err, body)
	}
	return m
}
