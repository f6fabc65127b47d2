package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// buyers health prints each order's caps used, its buyer's breaker, and
// the window's offers, sales, acceptance and response time; a bad --days
// is the API's validation error.
func TestLeadctlBuyersHealth(t *testing.T) {
	bin := leadctl(t)
	r := startRunner(t, configYAML(acceptingBuyer(t), "25.00", ""))
	env := []string{"LEADRELAY_ENDPOINT=" + r.URL, "LEADRELAY_ADMIN_TOKEN=" + token}

	st, id := postPhone(t, r.URL, "415-892-7391")
	if st != 202 {
		t.Fatalf("post: %d", st)
	}
	waitSold(t, bin, env, id)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.SettleLedger(ctx); err != nil {
		t.Fatal(err)
	}

	h := run(t, bin, env, "", "buyers", "health", "--days", "3")
	for _, want := range []string{"over 3 day(s)", "acme/auto", "active", "daily 1/50", "100.0%", " ms (1)"} {
		if h.code != 0 || !strings.Contains(h.out, want) {
			t.Fatalf("buyers health lacks %q: %d\n%s%s", want, h.code, h.out, h.errOut)
		}
	}
	if !columnsAligned(h.out[strings.Index(h.out, "BUYER"):], "BREAKER") {
		t.Fatalf("buyers health is not aligned:\n%s", h.out)
	}
	if j := run(t, bin, env, "", "buyers", "health", "--json"); j.code != 0 || !strings.HasPrefix(j.out, `{"at":`) || !strings.Contains(j.out, `"window_days":7`) {
		t.Fatalf("buyers health --json: %d\n%s%s", j.code, j.out, j.errOut)
	}
	if bad := run(t, bin, env, "", "buyers", "health", "--days", "40"); bad.code != 1 || !strings.Contains(bad.errOut, "validation_failed") ||
		!strings.Contains(bad.errOut, "days") {
		t.Fatalf("--days 40: %d\n%s%s", bad.code, bad.out, bad.errOut)
	}
}
