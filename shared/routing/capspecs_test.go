package routing

import (
	"reflect"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
)

// CapSpecs names the buckets Decide reserves: a reader of the counters
// (the buyers' health) finds what the router fills.
func TestCapSpecsAreDecidesBuckets(t *testing.T) {
	now := time.Date(2026, 12, 1, 3, 30, 0, 0, time.UTC)
	for _, tz := range []string{"UTC", "America/Los_Angeles", "Asia/Kolkata"} {
		b := buyer("acme", tz, config.Order{Price: 100, Caps: config.Caps{Hourly: 10, Daily: 50, Weekly: 200, Monthly: 800, DailyBudget: 100000}})
		b.Caps = config.Caps{Daily: 100, MonthlyBudget: 500000}
		f := newFixture(t, config.Campaign{}, b)
		d := Decide(f.input(&lead.Lead{}, now))
		if len(d.Candidates) != 1 {
			t.Fatalf("%s: %+v", tz, d.Explain)
		}
		ref := d.Candidates[0].Ref
		local := now.In(f.ix.Location(tz))
		got := append(CapSpecs(OrderScope("acme", ref.Order.ID), ref.Order.Caps, local), CapSpecs(BuyerScope("acme"), ref.Buyer.Caps, local)...)
		if !reflect.DeepEqual(got, d.Candidates[0].Caps) {
			t.Fatalf("%s:\nCapSpecs %+v\nDecide   %+v", tz, got, d.Candidates[0].Caps)
		}
	}
	if got := CapSpecs("buyer:x", config.Caps{}, now); got != nil {
		t.Fatalf("no caps: %+v", got)
	}
}
