package routing

import (
	"fmt"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/money"
)

// benchInput is a round_robin campaign with 1,000 orders under 250 buyers
// in four timezones, each order with 5 filters (a mix of ops; about half of
// the orders fail one), most with caps, a quarter with a schedule.
func benchInput(b *testing.B) Input {
	b.Helper()
	zones := []string{"UTC", "America/New_York", "America/Los_Angeles", "Europe/Berlin"}
	states := [][]any{{"CA", "TX"}, {"NY", "NJ", "CT"}, {"CA", "NY", "FL", "TX"}, {"WA", "OR"}}
	buyers := make([]config.Buyer, 250)
	rotation := map[string]int64{}
	for i := range buyers {
		bu := &buyers[i]
		bu.ID = fmt.Sprintf("buyer-%03d", i)
		bu.Timezone = zones[i%len(zones)]
		if i%3 == 0 {
			bu.Caps = config.Caps{Daily: 500, MonthlyBudget: money.FromUnits(20000)}
		}
		for j := range 4 {
			n := i*4 + j
			o := config.Order{
				ID:       fmt.Sprintf("order-%d", j),
				Price:    money.Amount(1000 + n%40*50),
				Priority: 1 + n%3,
				Filters: []config.Filter{
					{Field: "state", Op: config.OpIn, Value: states[n%len(states)]},
					{Field: "age", Op: config.OpBetween, Value: []any{18 + n%10, 80}},
					{Field: "zip", Op: config.OpStartsWith, Value: []any{"9", "1"}},
					{Field: "phone", Op: config.OpRegex, Value: `^\+1[2-9]\d{9}$`},
					{Field: "score", Op: config.OpGte, Value: n % 60},
				},
			}
			if n%4 != 0 {
				o.Caps = config.Caps{Hourly: 10, Daily: 50, DailyBudget: money.FromUnits(1000)}
			}
			if n%4 == 1 {
				o.Schedule = &config.Schedule{Days: []string{"mon", "tue", "wed", "thu", "fri"}, Hours: "06:00-22:00"}
			}
			if n%5 == 2 {
				o.Filters[4] = config.Filter{Field: "email", Op: config.OpContains, Value: "@example."}
			}
			bu.Orders = append(bu.Orders, o)
			rotation[config.OrderKey(bu.ID, o.ID)] = int64(n % 7)
		}
	}
	f := newFixture(b, config.Campaign{
		Distribution: config.RoundRobin,
		Fields:       map[string]config.Field{"age": {Type: config.TypeInteger}},
	}, buyers...)
	now := mustTime(b, "2026-11-24T18:00:00Z")
	in := f.input(&lead.Lead{
		ID:        "lead-1",
		Source:    "fb-1",
		Score:     40,
		CreatedAt: now.Add(-time.Minute),
		Fields: map[string]any{
			"state": "CA",
			"age":   int64(34),
			"zip":   "90210",
			"phone": "+15551234567",
			"email": "jane@example.com",
		},
	}, now)
	in.Rotation = rotation
	in.Exclude = map[string]string{"buyer-001/order-0": ReasonCapFull}
	return in
}

func BenchmarkDecide1000(b *testing.B) {
	in := benchInput(b)
	d := Decide(in)
	if len(in.Orders) != 1000 || len(d.Candidates) == 0 || len(d.Candidates) == len(in.Orders) {
		b.Fatalf("%d orders, %d candidates: want a mix", len(in.Orders), len(d.Candidates))
	}
	b.Logf("%d orders, %d candidates", len(in.Orders), len(d.Candidates))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		Decide(in)
	}
}

// BenchmarkDecide100 is the same campaign cut to its first 100 orders.
func BenchmarkDecide100(b *testing.B) {
	in := benchInput(b)
	in.Orders = in.Orders[:100]
	b.ReportAllocs()
	for b.Loop() {
		Decide(in)
	}
}
