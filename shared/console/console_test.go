package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

func TestRootSendsToSignInThenOverview(t *testing.T) {
	tc := newTestConsole(t, nil)
	a := tc.do("GET", "/console", nil, nil)
	if a.StatusCode != http.StatusSeeOther || a.Header.Get("Location") != "/console/login" {
		t.Fatalf("GET /console signed out: %d %s", a.StatusCode, a.Header.Get("Location"))
	}
	cookie, _ := tc.signIn()
	for _, p := range []string{"/console", "/console/"} {
		a = tc.do("GET", p, nil, map[string]string{"Cookie": cookie})
		if a.StatusCode != http.StatusSeeOther || a.Header.Get("Location") != "/console/overview" {
			t.Fatalf("GET %s signed in: %d %s", p, a.StatusCode, a.Header.Get("Location"))
		}
	}
	if a = tc.do("GET", "/console/overview", nil, nil); a.StatusCode != http.StatusSeeOther || a.Header.Get("Location") != "/console/login" {
		t.Fatalf("overview signed out: %d %s", a.StatusCode, a.Header.Get("Location"))
	}
	// An htmx fragment without a session is told where to sign in.
	a = tc.do("GET", "/console/overview/feed", nil, map[string]string{"HX-Request": "true"})
	if a.StatusCode != http.StatusUnauthorized || a.Header.Get("HX-Redirect") != "/console/login" {
		t.Fatalf("feed signed out: %d %v", a.StatusCode, a.Header)
	}
}

func TestLoginWithTheToken(t *testing.T) {
	tc := newTestConsole(t, nil)
	a := tc.do("GET", "/console/login", nil, nil)
	for _, want := range []string{`<label for="token">Operator token</label>`, `id="token" name="token" type="password"`, `<button id="sign-in"`} {
		if !strings.Contains(a.body, want) {
			t.Errorf("login form lacks %s", want)
		}
	}
	a = tc.do("POST", "/console/login", url.Values{"token": {"wrong"}}, nil)
	if a.StatusCode != http.StatusUnauthorized || !strings.Contains(a.body, `id="token"`) || !strings.Contains(a.body, `id="login-error"`) {
		t.Fatalf("wrong token: %d %s", a.StatusCode, a.body)
	}
	if len(a.Cookies()) != 0 || tc.sessions.live() != 0 {
		t.Fatalf("wrong token started a session: %v", a.Cookies())
	}
	a = tc.do("POST", "/console/login", url.Values{"token": {testToken}}, nil)
	if a.StatusCode != http.StatusSeeOther || a.Header.Get("Location") != "/console/overview" {
		t.Fatalf("right token: %d %s", a.StatusCode, a.Header.Get("Location"))
	}
	set := a.Header.Get("Set-Cookie")
	for _, want := range []string{"lr_session=", "Path=/console", "HttpOnly", "SameSite=Strict", "Max-Age=43200"} {
		if !strings.Contains(set, want) {
			t.Errorf("session cookie %q lacks %s", set, want)
		}
	}
	if strings.Contains(set, "Secure") {
		t.Errorf("cookie over http is Secure: %s", set)
	}
	// Behind an https proxy, or at an https public URL, the cookie is Secure.
	a = tc.do("POST", "/console/login", url.Values{"token": {testToken}}, map[string]string{"X-Forwarded-Proto": "https"})
	if !strings.Contains(a.Header.Get("Set-Cookie"), "Secure") {
		t.Errorf("cookie behind https is not Secure: %s", a.Header.Get("Set-Cookie"))
	}
	tc.console.https = true
	a = tc.do("POST", "/console/login", url.Values{"token": {testToken}}, nil)
	if !strings.Contains(a.Header.Get("Set-Cookie"), "Secure") {
		t.Errorf("cookie of an https console is not Secure: %s", a.Header.Get("Set-Cookie"))
	}
	// A sign-in posted from another site is refused.
	tc.console.https = false
	a = tc.do("POST", "/console/login", url.Values{"token": {testToken}}, map[string]string{"Origin": "https://evil.example"})
	if a.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site sign-in: %d", a.StatusCode)
	}
}

func TestLogoutEndsTheSession(t *testing.T) {
	tc := newTestConsole(t, nil)
	cookie, csrf := tc.signIn()
	h := map[string]string{"Cookie": cookie}
	if a := tc.do("POST", "/console/logout", url.Values{}, h); a.StatusCode != http.StatusForbidden {
		t.Fatalf("sign-out without CSRF: %d", a.StatusCode)
	}
	a := tc.do("POST", "/console/logout", url.Values{"csrf": {csrf}}, h)
	if a.StatusCode != http.StatusSeeOther || a.Header.Get("Location") != "/console/login" {
		t.Fatalf("sign-out: %d %s", a.StatusCode, a.Header.Get("Location"))
	}
	if set := a.Header.Get("Set-Cookie"); !strings.Contains(set, "lr_session=;") || !strings.Contains(set, "Max-Age=0") {
		t.Errorf("sign-out leaves the cookie: %s", set)
	}
	if tc.sessions.live() != 0 {
		t.Fatal("the session outlived the sign-out")
	}
	if a := tc.do("GET", "/console/overview", nil, h); a.StatusCode != http.StatusSeeOther {
		t.Fatalf("the old cookie still opens the overview: %d", a.StatusCode)
	}
}

func TestChangesNeedTheCSRFToken(t *testing.T) {
	tc := newTestConsole(t, nil)
	cookie, csrf := tc.signIn()
	h := map[string]string{"Cookie": cookie, "Accept": "application/json"}
	for name, c := range map[string]struct {
		form    url.Values
		headers map[string]string
	}{
		"no token":       {url.Values{}, nil},
		"wrong token":    {url.Values{"csrf": {"0123"}}, nil},
		"wrong header":   {url.Values{}, map[string]string{"X-CSRF-Token": strings.Repeat("0", 64)}},
		"other site":     {url.Values{"csrf": {csrf}}, map[string]string{"Origin": "https://evil.example"}},
		"other referrer": {url.Values{"csrf": {csrf}}, map[string]string{"Referer": "https://evil.example/page"}},
	} {
		hh := map[string]string{}
		for k, v := range h {
			hh[k] = v
		}
		for k, v := range c.headers {
			hh[k] = v
		}
		for _, path := range []string{"/console/buyers/buyer-1/pause", "/console/config/apply", "/console/leads/L-1/reroute", "/console/dlq/delivery/redrive"} {
			a := tc.do("POST", path, c.form, hh)
			if a.StatusCode != http.StatusForbidden {
				t.Fatalf("%s, %s: %d %s", name, path, a.StatusCode, a.body)
			}
			if code := decodeJSON(t, a.body)["error"].(map[string]any)["code"]; code != "csrf" {
				t.Fatalf("%s, %s: code %v", name, path, code)
			}
		}
	}
	// A browser gets a page with the same code.
	a := tc.do("POST", "/console/buyers/buyer-1/pause", url.Values{}, map[string]string{"Cookie": cookie})
	if a.StatusCode != http.StatusForbidden || !strings.Contains(a.body, `data-code="csrf"`) {
		t.Fatalf("browser without CSRF: %d %s", a.StatusCode, a.body)
	}
	if ch := tc.api.changes(); len(ch) != 0 {
		t.Fatalf("refused changes reached the admin API: %v", ch)
	}
	// With the token, as a form field or htmx's header, from the console's
	// own origin: done.
	a = tc.do("POST", "/console/buyers/buyer-1/pause", url.Values{"csrf": {csrf}}, map[string]string{"Cookie": cookie, "Origin": tc.srv.URL})
	if a.StatusCode != http.StatusSeeOther || a.Header.Get("Location") != "/console/buyers?done=paused" {
		t.Fatalf("pause: %d %s", a.StatusCode, a.body)
	}
	a = tc.do("POST", "/console/buyers/buyer-1/resume", url.Values{}, map[string]string{"Cookie": cookie, "X-CSRF-Token": csrf})
	if a.StatusCode != http.StatusSeeOther {
		t.Fatalf("resume with the header: %d %s", a.StatusCode, a.body)
	}
	if ch := tc.api.changes(); strings.Join(ch, ",") != "POST /v1/admin/buyers/buyer-1/pause,POST /v1/admin/buyers/buyer-1/resume" {
		t.Fatalf("admin calls: %v", ch)
	}
	// The audit log names the operator.
	for _, r := range tc.api.calls {
		if r.HTTPMethod == "POST" && r.RequestContext.Identity.UserArn != "console:token" {
			t.Errorf("%s as %q", r.Path, r.RequestContext.Identity.UserArn)
		}
	}
}

// Every page answers with its element ids (the browser tests' contract)
// and the security headers.
func TestPagesRender(t *testing.T) {
	tc := newTestConsole(t, nil)
	cookie, _ := tc.signIn()
	for path, ids := range map[string][]string{
		"/console/overview": {`id="kpis"`, `data-kpi="leads"`, `data-kpi="accepted"`, `data-kpi="sold"`, `data-kpi="sell_through"`,
			`data-kpi="revenue"`, `data-kpi="cost"`, `data-kpi="ad_spend"`, `data-kpi="profit"`, `id="hourly-chart"`, `id="chart-data"`, `"labels":["00:00",`, `"label":"solar"`,
			`id="live-feed"`, `<tr data-lead-id="L-auto-insurance-00">`, `hx-trigger="every 5s"`, `hx-headers=`, `class="skip"`},
		"/console/overview/feed":                 {`<tbody id="live-feed-rows"`, `data-lead-id="L-solar-00"`},
		"/console/leads":                         {`<form id="lead-search"`, `<input id="q" name="q"`, `id="campaign"`, `id="status"`, `id="from"`, `id="to"`, `<table id="leads">`, `href="/console/leads/L-solar-01"`},
		"/console/leads?q=%2B15555550100":        {`<table id="leads">`, `data-lead-id="L-auto-insurance-00"`},
		"/console/leads?q=someone%40example.com": {`data-lead-id=`},
		"/console/leads?q=01JLEAD":               {`data-lead-id="01JLEAD"`},
		"/console/leads/01JLEAD": {`id="timeline"`, `id="explanation"`, `data-order="zeta/auto" data-eligible="false"`, `state not in [CA]`,
			`<table id="auction">`, `<table id="attempts">`, `{&#34;ok&#34;:true}`, `id="score"`, `phone_type`, `state=TX`,
			`<form id="reroute"`, `<form id="return"`, `name="csrf"`},
		"/console/pnl?from=2026-11-01&to=2026-11-30&group=source": {`id="pnl-chart"`, `<table id="pnl">`, `<tr id="pnl-total">`,
			`data-col="revenue" data-value="755.1"`, `data-col="cost" data-value="120"`, `data-col="ad_spend" data-value="32.5"`,
			`data-col="profit" data-value="602.6"`, `data-col="leads" data-value="50"`, `data-col="sold" data-value="30"`, `id="pnl-csv"`, `source-3`},
		"/console/buyers": {`<table id="buyers">`, `<tr data-order="buyer-0/auto">`, `<form data-action="pause" data-buyer="buyer-3"`, `12 / 100`,
			`$250.50 / $1000.00`, `<meter`, `75.0%`, `212 ms`, `half_open`, `Pause buyer-3</button>`},
		"/console/sources": {`<table id="sources">`, `data-source="source-0"`, `96.0%`},
		"/console/config":  {`<textarea id="config-editor"`, `secret: (set)`, `<button id="plan"`, `<button id="apply"`, `id="plan-diff"`, `<table id="audit">`, `console:token`, `<table id="dlq">`, `data-queue="delivery"`, `Redrive delivery`},
	} {
		a := tc.do("GET", path, nil, map[string]string{"Cookie": cookie})
		if a.StatusCode != http.StatusOK {
			t.Errorf("%s: %d %s", path, a.StatusCode, a.body)
			continue
		}
		for _, id := range ids {
			if !strings.Contains(a.body, id) {
				t.Errorf("%s lacks %s", path, id)
			}
		}
		if strings.Contains(a.body, " style=") || regexp.MustCompile(`<script>|<script [^>]*>[^<]`).MatchString(stripDataBlocks(a.body)) {
			t.Errorf("%s has an inline style or script", path)
		}
		checkHeaders(t, path, a)
		if ct := a.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("%s: Content-Type %s", path, ct)
		}
	}
}

// stripDataBlocks removes the JSON data blocks (not script the browser
// runs) from a page.
func stripDataBlocks(body string) string {
	return regexp.MustCompile(`(?s)<script type="application/json"[^>]*>.*?</script>`).ReplaceAllString(body, "")
}

func checkHeaders(t *testing.T, what string, a answer) {
	t.Helper()
	for k, want := range map[string]string{
		"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
	} {
		if got := a.Header.Get(k); got != want {
			t.Errorf("%s: %s %q, want %q", what, k, got, want)
		}
	}
	csp := a.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self';", "style-src 'self';", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: CSP %q lacks %s", what, csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("%s: CSP allows inline or eval: %s", what, csp)
	}
}

func TestSecurityHeadersOnEveryAnswer(t *testing.T) {
	tc := newTestConsole(t, nil)
	for _, c := range []struct{ method, path string }{
		{"GET", "/console"}, {"GET", "/console/login"}, {"GET", "/console/nope"}, {"POST", "/console/logout"},
		{"GET", "/console/static/console.js"}, {"GET", "/console/static/missing.js"},
	} {
		a := tc.do(c.method, c.path, url.Values{}, nil)
		checkHeaders(t, c.method+" "+c.path, a)
		if c.path != "/console/static/console.js" && a.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", c.path, a.Header.Get("Cache-Control"))
		}
	}
}

func TestStaticFilesAreVersioned(t *testing.T) {
	tc := newTestConsole(t, nil)
	page := tc.do("GET", "/console/login", nil, nil).body
	for _, name := range []string{"console.js", "console.css", "vendor/htmx-2.0.4/htmx.min.js", "vendor/uplot-1.6.31/uPlot.iife.min.js", "vendor/uplot-1.6.31/uPlot.min.css"} {
		m := regexp.MustCompile(`/console/static/` + regexp.QuoteMeta(name) + `\?v=([0-9a-f]{12})`).FindStringSubmatch(page)
		if m == nil {
			t.Errorf("the layout does not link %s by version", name)
			continue
		}
		a := tc.do("GET", "/console/static/"+name+"?v="+m[1], nil, nil)
		if a.StatusCode != 200 || a.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" || len(a.body) < 100 {
			t.Errorf("%s: %d %q %d bytes", name, a.StatusCode, a.Header.Get("Cache-Control"), len(a.body))
		}
		if a := tc.do("GET", "/console/static/"+name, nil, nil); a.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("%s without its version: Cache-Control %q", name, a.Header.Get("Cache-Control"))
		}
	}
	for _, lic := range []string{"vendor/htmx-2.0.4/LICENSE", "vendor/uplot-1.6.31/LICENSE"} {
		if a := tc.do("GET", "/console/static/"+lic, nil, nil); a.StatusCode != 200 {
			t.Errorf("%s: %d", lic, a.StatusCode)
		}
	}
}

func TestConfigPlanAndApply(t *testing.T) {
	tc := newTestConsole(t, nil)
	cookie, csrf := tc.signIn()
	h := map[string]string{"Cookie": cookie}
	doc := "buyers:\n  - id: acme\n    status: paused\n"
	a := tc.do("POST", "/console/config/plan", url.Values{"csrf": {csrf}, "version": {"7"}, "document": {doc}}, h)
	if a.StatusCode != 200 || !strings.Contains(a.body, `data-kind="buyer" data-id="acme"`) || !strings.Contains(a.body, "paused") {
		t.Fatalf("plan: %d %s", a.StatusCode, a.body)
	}
	a = tc.do("POST", "/console/config/apply", url.Values{"csrf": {csrf}, "version": {"6"}, "document": {doc}}, h)
	if a.StatusCode != http.StatusPreconditionFailed || !strings.Contains(a.body, `id="config-problem"`) || !strings.Contains(a.body, "status: paused") {
		t.Fatalf("apply over a stale version: %d %s", a.StatusCode, a.body)
	}
	a = tc.do("POST", "/console/config/apply", url.Values{"csrf": {csrf}, "version": {"7"}, "document": {doc}}, h)
	if a.StatusCode != http.StatusSeeOther || a.Header.Get("Location") != "/console/config?done=applied" {
		t.Fatalf("apply: %d %s", a.StatusCode, a.body)
	}
	var put []string
	for _, r := range tc.api.calls {
		if r.HTTPMethod == "PUT" {
			put = append(put, r.Headers["If-Match"]+" "+r.Headers["Content-Type"])
		}
	}
	if strings.Join(put, ",") != `"6" application/yaml,"7" application/yaml` {
		t.Fatalf("PUTs: %v", put)
	}
}

// The configuration page shows what the admin API shows: secrets as
// "(set)", never a value.
func TestConfigPageShowsNoSecret(t *testing.T) {
	tc := newTestConsole(t, nil)
	cookie, _ := tc.signIn()
	a := tc.do("GET", "/console/config", nil, map[string]string{"Cookie": cookie})
	if !strings.Contains(a.body, "(set)") || strings.Contains(a.body, fakeSecret) {
		t.Fatalf("config page: %s", a.body)
	}
}

func TestBuyersWithoutTheHealthRoute(t *testing.T) {
	tc := newTestConsole(t, nil)
	tc.api.noHealth = true
	cookie, _ := tc.signIn()
	a := tc.do("GET", "/console/buyers", nil, map[string]string{"Cookie": cookie})
	if a.StatusCode != 200 || !strings.Contains(a.body, `<form data-action="pause" data-buyer="buyer-2"`) {
		t.Fatalf("buyers without health: %d %s", a.StatusCode, a.body)
	}
}

func TestAPIRefusalIsShown(t *testing.T) {
	tc := newTestConsole(t, nil)
	cookie, _ := tc.signIn()
	a := tc.do("GET", "/console/leads/missing", nil, map[string]string{"Cookie": cookie})
	if a.StatusCode != http.StatusNotFound || !strings.Contains(a.body, `data-code="lead_not_found"`) {
		t.Fatalf("missing lead: %d %s", a.StatusCode, a.body)
	}
	a = tc.do("GET", "/console/leads?q=missing", nil, map[string]string{"Cookie": cookie})
	if a.StatusCode != http.StatusOK || !strings.Contains(a.body, `id="search-problem"`) {
		t.Fatalf("search for a missing id: %d %s", a.StatusCode, a.body)
	}
}

func TestPnLCSVIsTheAPIs(t *testing.T) {
	tc := newTestConsole(t, nil)
	cookie, _ := tc.signIn()
	a := tc.do("GET", "/console/pnl/csv?from=2026-11-01&to=2026-11-30&group=day", nil, map[string]string{"Cookie": cookie})
	if a.StatusCode != 200 || a.body != "key,leads\ntotal,50\n" || !strings.Contains(a.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("csv: %d %v %s", a.StatusCode, a.Header, a.body)
	}
	last := tc.api.calls[len(tc.api.calls)-1]
	if q := last.QueryStringParameters; q["from"] != "2026-11-01" || q["to"] != "2026-11-30" || q["group_by"] != "day" {
		t.Fatalf("csv query: %v", q)
	}
}

func TestSignInNotConfigured(t *testing.T) {
	tc := newTestConsole(t, func(s *Server) { s.Token = "" })
	for _, m := range []string{"GET", "POST"} {
		a := tc.do(m, "/console/login", url.Values{"token": {""}}, nil)
		if a.StatusCode != http.StatusServiceUnavailable || !strings.Contains(a.body, "sign_in_not_configured") || !strings.Contains(a.body, "Cognito") {
			t.Fatalf("%s login without a way to sign in: %d %s", m, a.StatusCode, a.body)
		}
	}
	if tc.sessions.live() != 0 {
		t.Fatal("a session was started")
	}
}

// fakeIdentity is an identity provider that knows one code.
type fakeIdentity struct {
	code      string
	verifiers []string
	redirects []string
}

func (f *fakeIdentity) AuthorizeURL(state, verifier, redirectURI string) string {
	f.redirects = append(f.redirects, redirectURI)
	return "https://auth.example/authorize?" + url.Values{"state": {state}, "redirect_uri": {redirectURI}}.Encode()
}

func (f *fakeIdentity) Exchange(_ context.Context, code, verifier, redirectURI string) (string, string, error) {
	f.verifiers = append(f.verifiers, verifier)
	f.redirects = append(f.redirects, redirectURI)
	if code != f.code {
		return "", "", errors.New("invalid_grant")
	}
	return "sub-123", "ops@agency.example", nil
}

func TestSignInWithTheIdentityProvider(t *testing.T) {
	idp := &fakeIdentity{code: "good-code"}
	tc := newTestConsole(t, func(s *Server) { s.Identity = idp })
	start := func() (loginCookie, state string) {
		t.Helper()
		a := tc.do("GET", "/console/login", nil, nil)
		if a.StatusCode != http.StatusFound || !strings.HasPrefix(a.Header.Get("Location"), "https://auth.example/authorize?") {
			t.Fatalf("login: %d %s", a.StatusCode, a.Header.Get("Location"))
		}
		u, _ := url.Parse(a.Header.Get("Location"))
		set := a.Header.Get("Set-Cookie")
		if !strings.HasPrefix(set, "lr_login=") || !strings.Contains(set, "HttpOnly") || !strings.Contains(set, "SameSite=Lax") {
			t.Fatalf("sign-in cookie: %s", set)
		}
		c := a.Cookies()[0]
		return c.Name + "=" + c.Value, u.Query().Get("state")
	}
	// The token does not sign in when a provider does.
	if a := tc.do("POST", "/console/login", url.Values{"token": {testToken}}, nil); a.StatusCode != http.StatusFound {
		t.Fatalf("token with a provider: %d", a.StatusCode)
	}

	lc, state := start()
	if want := tc.srv.URL + "/console/callback"; idp.redirects[len(idp.redirects)-1] != want {
		t.Fatalf("redirect URI %s, want %s", idp.redirects[len(idp.redirects)-1], want)
	}
	// A state other than this browser's is refused, and uses the sign-in up.
	a := tc.do("GET", "/console/callback?"+url.Values{"code": {"good-code"}, "state": {state + "x"}}.Encode(), nil, map[string]string{"Cookie": lc})
	if a.StatusCode != http.StatusBadRequest || !strings.Contains(a.body, `data-code="state"`) || len(idp.verifiers) != 0 {
		t.Fatalf("wrong state: %d %s", a.StatusCode, a.body)
	}
	a = tc.do("GET", "/console/callback?"+url.Values{"code": {"good-code"}, "state": {state}}.Encode(), nil, map[string]string{"Cookie": lc})
	if a.StatusCode != http.StatusBadRequest || len(idp.verifiers) != 0 {
		t.Fatalf("state used twice: %d %s", a.StatusCode, a.body)
	}
	// Without the sign-in's cookie: refused.
	_, state = start()
	a = tc.do("GET", "/console/callback?"+url.Values{"code": {"good-code"}, "state": {state}}.Encode(), nil, nil)
	if a.StatusCode != http.StatusBadRequest {
		t.Fatalf("no sign-in cookie: %d", a.StatusCode)
	}

	lc, state = start()
	a = tc.do("GET", "/console/callback?"+url.Values{"code": {"good-code"}, "state": {state}}.Encode(), nil, map[string]string{"Cookie": lc})
	if a.StatusCode != http.StatusOK || !strings.Contains(a.body, `http-equiv="refresh"`) {
		t.Fatalf("callback: %d %s", a.StatusCode, a.body)
	}
	if len(idp.verifiers) != 1 || len(idp.verifiers[0]) < 43 {
		t.Fatalf("verifier: %v", idp.verifiers)
	}
	var session string
	for _, c := range a.Cookies() {
		if c.Name == sessionCookie && c.Value != "" {
			session = c.Name + "=" + c.Value
			if c.SameSite != http.SameSiteStrictMode || !c.HttpOnly {
				t.Errorf("session cookie: %+v", c)
			}
		}
	}
	page := tc.do("GET", "/console/overview", nil, map[string]string{"Cookie": session})
	if page.StatusCode != 200 || !strings.Contains(page.body, "ops@agency.example") {
		t.Fatalf("overview after the callback: %d", page.StatusCode)
	}
	// A bad code starts no session.
	lc, state = start()
	before := tc.sessions.live()
	a = tc.do("GET", "/console/callback?"+url.Values{"code": {"bad"}, "state": {state}}.Encode(), nil, map[string]string{"Cookie": lc})
	if a.StatusCode != http.StatusUnauthorized || tc.sessions.live() != before-1 {
		t.Fatalf("bad code: %d, sessions %d → %d", a.StatusCode, before, tc.sessions.live())
	}
}

// Each page makes a fixed number of admin calls, whatever its rows: one a
// campaign at most for the lead listings.
func TestPagesMakeFewAdminCalls(t *testing.T) {
	tc := newTestConsole(t, nil)
	cookie, _ := tc.signIn()
	for path, max := range map[string]int{
		"/console/overview": 3 + len(fakeCampaigns), "/console/overview/feed": 1 + len(fakeCampaigns),
		"/console/leads": 1 + len(fakeCampaigns), "/console/leads/01J": 1, "/console/pnl": 2, "/console/buyers": 1,
		"/console/sources": 2, "/console/config": 3,
	} {
		before := tc.api.count()
		tc.do("GET", path, nil, map[string]string{"Cookie": cookie})
		if n := tc.api.count() - before; n > max {
			t.Errorf("%s: %d admin calls, want at most %d", path, n, max)
		}
	}
}
