package runner

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/leadrelay/leadrelay/shared/money"
)

// consoleYAML is a waterfall of two buyers of one campaign: acme first,
// beta second, in a zone where it is about noon (the day's figures cannot
// roll over while the test runs).
func consoleYAML(acmeURL, betaURL string) string {
	return fmt.Sprintf(`
timezone: %[5]q
campaigns:
  - id: auto
    fields:
      phone: {type: phone, required: true, pii: true}
      email: {type: email, pii: true}
      state: {type: us_state, required: true}
    dedupe: {fields: [phone], window: 720h}
sources:
  - id: src
    campaigns: [auto]
    api_key_sha256: %[1]q
    payout: {type: fixed, amount: 4.00}
buyers:
  - id: acme
    delivery: {type: webhook, url: %[2]q, secret: %[4]q, timeout: 2s, max_attempts: 2}
    orders:
      - {campaign: auto, price: 25.00, priority: 1, caps: {daily: 50, daily_budget: 1000}}
  - id: beta
    delivery: {type: webhook, url: %[3]q, secret: %[4]q, timeout: 2s, max_attempts: 2}
    orders:
      - {campaign: auto, price: 18.50, priority: 2}
`, sourceHash, acmeURL, betaURL, secret, noonZone())
}

// The operators' console in a real browser (headless Chromium): sign in
// with the operator token; a lead posted through the API appears in the
// overview's live feed by itself; found by phone, its timeline shows the
// routing explanation; the P&L chart is drawn and the table's totals equal
// GET /v1/admin/reports/pnl to the cent; a buyer paused in the console is
// skipped by the next lead; a change without the CSRF token is refused;
// every page at 1280×800 and at 390×844 needs no sideways scrolling to
// read. Screenshots of each page go to screenshotDir.
func TestConsoleInBrowser(t *testing.T) {
	acme, beta := newBuyer(t), newBuyer(t)
	e := start(t, consoleYAML(acme.srv.URL, beta.srv.URL), nil)
	shots := screenshotDir(t)
	ctx := newBrowser(t, 1280, 800)
	base := e.r.URL + "/console"

	// Sign in: the console sends a stranger to its sign-in page.
	browse(t, ctx, "open the console",
		chromedp.Navigate(base),
		chromedp.WaitVisible(chromedp.ID("token")),
	)
	screenshot(t, ctx, shots, "01-sign-in")
	browse(t, ctx, "sign in with the operator token",
		chromedp.SendKeys(chromedp.ID("token"), adminToken),
		chromedp.Click(chromedp.ID("sign-in")),
		chromedp.WaitVisible(chromedp.ID("kpis")),
	)

	// A lead posted through the API shows in the live feed, which
	// refreshes by itself (no navigation here).
	r := e.post(map[string]any{"phone": "+14155550123", "email": "dana@example.com", "state": "CA"}, nil)
	if r.Status != 202 && r.Status != 200 {
		t.Fatalf("post lead: %d %v", r.Status, r.Body)
	}
	id := r.Body["lead_id"].(string)
	if got := e.soldTo(id); got != "acme" {
		t.Fatalf("first lead sold to %q, want acme", got)
	}
	row := fmt.Sprintf(`#live-feed tr[data-lead-id=%q]`, id)
	browse(t, ctx, "see the lead in the live feed", chromedp.WaitVisible(chromedp.CSS(row)))
	screenshot(t, ctx, shots, "02-overview")
	if txt := value(t, ctx, "the lead's row", chromedp.Text(chromedp.CSS(row))); !strings.Contains(txt, "sold") {
		t.Errorf("live feed row %q does not say sold", txt)
	}
	if n := canvasInk(t, ctx, "#hourly-chart canvas"); n == 0 {
		t.Error("the hourly chart's canvas is empty")
	}

	// Find the lead by phone and open its timeline.
	browse(t, ctx, "search the lead by phone",
		chromedp.Navigate(base+"/leads"),
		chromedp.WaitVisible(chromedp.ID("q")),
		chromedp.SendKeys(chromedp.ID("q"), "+14155550123"),
		chromedp.Submit(chromedp.ID("q")),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#leads tr[data-lead-id=%q]`, id))),
	)
	screenshot(t, ctx, shots, "03-leads")
	browse(t, ctx, "open the lead",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#leads tr[data-lead-id=%q] a`, id))),
		chromedp.WaitVisible(chromedp.ID("timeline")),
		chromedp.WaitVisible(chromedp.ID("explanation")),
	)
	screenshot(t, ctx, shots, "04-lead")
	if txt := value(t, ctx, "the explanation", chromedp.Text(chromedp.ID("explanation"))); !strings.Contains(txt, "acme") || !strings.Contains(txt, "beta") {
		t.Errorf("the routing explanation names neither order: %q", txt)
	}

	// The P&L: a drawn chart, and totals equal to the API's to the cent.
	e.settle()
	day := time.Now().In(mustZone(t, noonZone())).Format(time.DateOnly)
	browse(t, ctx, "open the P&L",
		chromedp.Navigate(fmt.Sprintf("%s/pnl?from=%s&to=%s&group=campaign", base, day, day)),
		chromedp.WaitVisible(chromedp.ID("pnl-total")),
		chromedp.WaitVisible(chromedp.CSS("#pnl-chart canvas")),
	)
	screenshot(t, ctx, shots, "05-pnl")
	if n := canvasInk(t, ctx, "#pnl-chart canvas"); n == 0 {
		t.Error("the P&L chart's canvas is empty")
	}
	var want struct{ revenue, cost, profit money.Amount }
	for _, row := range e.report(day, day, "campaign") {
		want.revenue += row.Revenue
		want.cost += row.Cost
		want.profit += row.Profit
	}
	if want.revenue != money.FromUnits(25) {
		t.Fatalf("API revenue %s, want 25.00 (one lead sold to acme)", want.revenue)
	}
	for col, w := range map[string]money.Amount{"revenue": want.revenue, "cost": want.cost, "profit": want.profit} {
		got := totalCell(t, ctx, col)
		if got != w {
			t.Errorf("P&L total %s: console %s, API %s", col, got, w)
		}
	}

	// A change without the CSRF token is refused, and changes nothing.
	status := value(t, ctx, "POST without a CSRF token", chromedp.Evaluate[int](
		`fetch('/console/buyers/acme/pause', {method: 'POST', credentials: 'same-origin'}).then(r => r.status)`,
		chromedp.EvalAwaitPromise))
	if status != http.StatusForbidden {
		t.Errorf("POST without a CSRF token: %d, want 403", status)
	}
	if st := e.admin("GET", "/v1/admin/buyers/acme", "").Body["status"]; st == "paused" {
		t.Fatal("a POST without the CSRF token paused the buyer")
	}

	// Pause acme in the console: the next lead skips it.
	browse(t, ctx, "open the buyers",
		chromedp.Navigate(base+"/buyers"),
		chromedp.WaitVisible(chromedp.CSS(`#buyers tr[data-order="acme/auto"]`)),
	)
	screenshot(t, ctx, shots, "06-buyers")
	browse(t, ctx, "pause acme",
		chromedp.Click(chromedp.CSS(`form[data-action="pause"][data-buyer="acme"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`form[data-action="resume"][data-buyer="acme"]`)),
	)
	if st := e.admin("GET", "/v1/admin/buyers/acme", "").Body["status"]; st != "paused" {
		t.Fatalf("acme after pausing in the console: status %v", st)
	}
	r = e.post(map[string]any{"phone": "+14155550124", "state": "TX"}, nil)
	if got := e.soldTo(r.Body["lead_id"].(string)); got != "beta" {
		t.Errorf("the lead after pausing acme sold to %q, want beta", got)
	}

	for _, p := range []struct{ path, ready, name string }{
		{"/sources", "#sources", "07-sources"},
		{"/config", "#config-editor", "08-config"},
	} {
		browse(t, ctx, "open "+p.path, chromedp.Navigate(base+p.path), chromedp.WaitVisible(chromedp.CSS(p.ready)))
		screenshot(t, ctx, shots, p.name)
	}
	if txt := value(t, ctx, "the configuration", chromedp.Value(chromedp.ID("config-editor"))); strings.Contains(txt, secret) {
		t.Error("the configuration page shows a buyer's webhook secret")
	}

	// Every page on a phone: nothing wider than the screen.
	browse(t, ctx, "a phone's screen", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	for _, p := range []string{"overview", "leads", "pnl", "buyers", "sources", "config"} {
		browse(t, ctx, "open "+p+" on a phone", chromedp.Navigate(base+"/"+p), chromedp.WaitVisible(chromedp.CSS("main")))
		screenshot(t, ctx, shots, "phone-"+p)
		if w := value(t, ctx, "page width", chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); w > 390 {
			t.Errorf("%s on a 390 px screen is %d px wide", p, w)
		}
	}
}

// canvasInk counts the painted pixels of the first canvas sel matches.
func canvasInk(t *testing.T, ctx context.Context, sel string) int {
	t.Helper()
	return value(t, ctx, "read "+sel, chromedp.Evaluate[int](fmt.Sprintf(`(() => {
		const c = document.querySelector(%q);
		if (!c || !c.width || !c.height) return 0;
		const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
		let n = 0;
		for (let i = 3; i < d.length; i += 4) if (d[i]) n++;
		return n;
	})()`, sel)))
}

// totalCell reads the P&L table's total of a column (its data-value: the
// exact decimal).
func totalCell(t *testing.T, ctx context.Context, col string) money.Amount {
	t.Helper()
	sel := fmt.Sprintf(`#pnl-total [data-col=%q]`, col)
	attr := value(t, ctx, "read "+sel, chromedp.AttributeValue(chromedp.CSS(sel), "data-value"))
	a, err := money.Parse(attr.Value)
	if err != nil {
		t.Fatalf("%s: data-value %q: %v", sel, attr.Value, err)
	}
	return a
}
