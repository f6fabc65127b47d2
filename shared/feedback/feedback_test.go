package feedback_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/feedback"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/routing"
)

const week = config.Duration(7 * 24 * time.Hour)

// sourceLoop pauses a source over 25% returns or 10% fraud, over at least
// 20 sales in 7 days.
func sourceLoop() *config.SourceLoop {
	return &config.SourceLoop{Window: week, MinSold: 20, MaxReturnRate: 0.25, MaxFraudRate: 0.10}
}

func paused(keys ...string) feedback.State {
	st := feedback.State{Paused: map[string]bool{}}
	for _, k := range keys {
		st.Paused[k] = true
	}
	return st
}

func demoted(keys ...string) feedback.State {
	st := feedback.State{Demoted: map[string]bool{}}
	for _, k := range keys {
		st.Demoted[k] = true
	}
	return st
}

// want is an expected action: its kind and key, and what its reason says.
type want struct {
	kind, key string
	reason    string
}

func check(t *testing.T, got []feedback.Action, wants []want) {
	t.Helper()
	if len(got) != len(wants) {
		t.Fatalf("got %d actions, want %d: %+v", len(got), len(wants), got)
	}
	for i, w := range wants {
		a := got[i]
		key := feedback.SourceKey(a.Source, a.SubID)
		if a.Buyer != "" {
			key = config.OrderKey(a.Buyer, a.Order)
		}
		if a.Kind != w.kind || key != w.key || !strings.Contains(a.Reason, w.reason) {
			t.Errorf("action %d = %+v, want %s of %s with a reason containing %q", i, a, w.kind, w.key, w.reason)
		}
	}
}

func TestEvaluateSources(t *testing.T) {
	tests := []struct {
		name  string
		loop  func(*config.SourceLoop)
		stats []feedback.SourceStats
		st    feedback.State
		want  []want
	}{
		{
			name:  "return rate over the limit pauses",
			stats: []feedback.SourceStats{{Source: "s1", Sold: 40, Returned: 13}},
			want:  []want{{feedback.PauseSource, "s1", "return rate 32.5% over 7d is above the 25% limit (13 returned, 0 as fraud, of 40 sold)"}},
		},
		{
			name:  "fraud rate over the limit pauses",
			stats: []feedback.SourceStats{{Source: "s1", Sold: 40, Returned: 5, Fraud: 5}},
			want:  []want{{feedback.PauseSource, "s1", "fraud rate 12.5% over 7d is above the 10% limit"}},
		},
		{
			name:  "both rates over: both said",
			stats: []feedback.SourceStats{{Source: "s1", Sold: 20, Returned: 10, Fraud: 4}},
			want:  []want{{feedback.PauseSource, "s1", "return rate 50% over 7d is above the 25% limit; fraud rate 20% over 7d is above the 10% limit"}},
		},
		{
			name:  "at the limit is not over it",
			stats: []feedback.SourceStats{{Source: "s1", Sold: 40, Returned: 10, Fraud: 4}},
		},
		{
			name:  "paused already: not paused again",
			stats: []feedback.SourceStats{{Source: "s1", Sold: 40, Returned: 20}},
			st:    paused("s1"),
		},
		{
			name:  "too few sales to judge",
			stats: []feedback.SourceStats{{Source: "s1", Sold: 19, Returned: 19, Fraud: 19}},
		},
		{
			name:  "paused, its sales aged out of the window: restored on probation",
			stats: []feedback.SourceStats{{Source: "s1", Sold: 3}},
			st:    paused("s1"),
			want:  []want{{feedback.RestoreSource, "s1", "only 3 sale(s) left over 7d: too few to judge; restored on probation"}},
		},
		{
			name:  "paused with no stats at all: restored on probation",
			stats: nil,
			st:    paused("s1"),
			want:  []want{{feedback.RestoreSource, "s1", "only 0 sale(s) left over 7d: too few to judge; restored on probation"}},
		},
		{
			name:  "hysteresis: under the limit but not under half of it stays paused",
			stats: []feedback.SourceStats{{Source: "s1", Sold: 40, Returned: 8}},
			st:    paused("s1"),
		},
		{
			name:  "hysteresis: fraud not yet under half its limit stays paused",
			stats: []feedback.SourceStats{{Source: "s1", Sold: 40, Returned: 2, Fraud: 2}},
			st:    paused("s1"),
		},
		{
			name:  "every rate under half its limit restores",
			stats: []feedback.SourceStats{{Source: "s1", Sold: 40, Returned: 4, Fraud: 1}},
			st:    paused("s1"),
			want:  []want{{feedback.RestoreSource, "s1", "return rate 10% over 7d is back under 12.5%; fraud rate 2.5% over 7d is back under 5%"}},
		},
		{
			name:  "restore_below replaces half the limit",
			loop:  func(l *config.SourceLoop) { l.RestoreBelow = 0.2 },
			stats: []feedback.SourceStats{{Source: "s1", Sold: 40, Returned: 7, Fraud: 1}},
			st:    paused("s1"),
			want:  []want{{feedback.RestoreSource, "s1", "return rate 17.5% over 7d is back under 20%"}},
		},
		{
			name:  "restore_below above a limit counts as the limit",
			loop:  func(l *config.SourceLoop) { l.RestoreBelow = 0.2 },
			stats: []feedback.SourceStats{{Source: "s1", Sold: 40, Returned: 6, Fraud: 6}},
			st:    paused("s1"),
		},
		{
			name:  "a limit of 0 is not checked",
			loop:  func(l *config.SourceLoop) { l.MaxFraudRate = 0 },
			stats: []feedback.SourceStats{{Source: "s1", Sold: 40, Returned: 8, Fraud: 8}},
		},
		{
			name:  "no limits: nothing paused or restored",
			loop:  func(l *config.SourceLoop) { l.MaxReturnRate, l.MaxFraudRate = 0, 0 },
			stats: []feedback.SourceStats{{Source: "s1", Sold: 40, Returned: 40}, {Source: "s2", Sold: 40}},
			st:    paused("s2"),
		},
		{
			name: "without sub_ids, sub-id stats are ignored and the source judged",
			stats: []feedback.SourceStats{
				{Source: "s1", Sold: 100, Returned: 15},
				{Source: "s1", SubID: "bad", Sold: 20, Returned: 15},
			},
		},
		{
			name: "with sub_ids, only the bad sub-id is paused",
			loop: func(l *config.SourceLoop) { l.SubIDs = true },
			stats: []feedback.SourceStats{
				{Source: "s1", Sold: 100, Returned: 30},
				{Source: "s1", SubID: "bad", Sold: 20, Returned: 15},
				{Source: "s1", SubID: "good", Sold: 80, Returned: 15},
			},
			want: []want{{feedback.PauseSource, "s1/bad", "return rate 75%"}},
		},
		{
			name: "with sub_ids, a paused sub-id is restored apart",
			loop: func(l *config.SourceLoop) { l.SubIDs = true },
			stats: []feedback.SourceStats{
				{Source: "s1", SubID: "a", Sold: 20, Returned: 1},
				{Source: "s1", SubID: "b", Sold: 20, Returned: 1},
			},
			st:   paused("s1/a", "s1"),
			want: []want{{feedback.RestoreSource, "s1/a", "return rate 5%"}},
		},
		{
			name: "sorted by source then sub-id",
			loop: func(l *config.SourceLoop) { l.SubIDs = true },
			stats: []feedback.SourceStats{
				{Source: "s2", SubID: "a", Sold: 20, Returned: 20},
				{Source: "s1", SubID: "b", Sold: 20, Returned: 20},
				{Source: "s1", SubID: "a", Sold: 20},
			},
			st: paused("s1/a"),
			want: []want{
				{feedback.RestoreSource, "s1/a", ""},
				{feedback.PauseSource, "s1/b", ""},
				{feedback.PauseSource, "s2/a", ""},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loop := sourceLoop()
			if tt.loop != nil {
				tt.loop(loop)
			}
			got := feedback.Evaluate(config.Feedback{Sources: loop}, tt.stats, nil, tt.st)
			check(t, got, tt.want)
		})
	}
}

func TestEvaluatePauseCarriesRateAndLimit(t *testing.T) {
	got := feedback.Evaluate(config.Feedback{Sources: sourceLoop()},
		[]feedback.SourceStats{{Source: "s1", SubID: "x", Sold: 40, Returned: 2, Fraud: 6}}, nil, feedback.State{})
	// Without sub_ids the sub-id row is not judged.
	if len(got) != 0 {
		t.Fatalf("got %+v, want nothing", got)
	}
	got = feedback.Evaluate(config.Feedback{Sources: sourceLoop()},
		[]feedback.SourceStats{{Source: "s1", Sold: 40, Returned: 2, Fraud: 6}}, nil, feedback.State{})
	want := []feedback.Action{{
		Kind: feedback.PauseSource, Source: "s1", Rate: 0.15, Limit: 0.10,
		Reason: "fraud rate 15% over 7d is above the 10% limit (2 returned, 6 as fraud, of 40 sold)",
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v,\nwant %+v", got, want)
	}
}

func TestEvaluateOrders(t *testing.T) {
	loop := func(f func(*config.OrderLoop)) *config.OrderLoop {
		l := &config.OrderLoop{Window: week, MinOffers: 50, MinAcceptance: 0.3}
		if f != nil {
			f(l)
		}
		return l
	}
	tests := []struct {
		name  string
		loop  *config.OrderLoop
		stats []feedback.OrderStats
		st    feedback.State
		want  []want
	}{
		{
			name:  "acceptance under the minimum demotes",
			loop:  loop(nil),
			stats: []feedback.OrderStats{{Buyer: "b1", Order: "o1", Offered: 100, Accepted: 12}},
			want:  []want{{feedback.DemoteOrder, "b1/o1", "accepted 12% of 100 offers over 7d, under the 30% minimum"}},
		},
		{
			name:  "at the minimum is not under it",
			loop:  loop(nil),
			stats: []feedback.OrderStats{{Buyer: "b1", Order: "o1", Offered: 100, Accepted: 30}},
		},
		{
			name:  "demoted already: not demoted again",
			loop:  loop(nil),
			stats: []feedback.OrderStats{{Buyer: "b1", Order: "o1", Offered: 100, Accepted: 2}},
			st:    demoted("b1/o1"),
		},
		{
			name:  "too few offers to judge",
			loop:  loop(nil),
			stats: []feedback.OrderStats{{Buyer: "b1", Order: "o1", Offered: 49}},
		},
		{
			name:  "demoted with too few offers stays demoted",
			loop:  loop(nil),
			stats: []feedback.OrderStats{{Buyer: "b1", Order: "o1", Offered: 10, Accepted: 10}},
			st:    demoted("b1/o1"),
		},
		{
			name:  "hysteresis: back over the minimum but under a tenth more stays demoted",
			loop:  loop(nil),
			stats: []feedback.OrderStats{{Buyer: "b1", Order: "o1", Offered: 100, Accepted: 39}},
			st:    demoted("b1/o1"),
		},
		{
			name:  "a tenth over the minimum restores",
			loop:  loop(nil),
			stats: []feedback.OrderStats{{Buyer: "b1", Order: "o1", Offered: 100, Accepted: 40}},
			st:    demoted("b1/o1"),
			want:  []want{{feedback.RestoreOrder, "b1/o1", "accepted 40% of 100 offers over 7d, back at or above 40%"}},
		},
		{
			name:  "restore_above replaces the default",
			loop:  loop(func(l *config.OrderLoop) { l.RestoreAbove = 0.5 }),
			stats: []feedback.OrderStats{{Buyer: "b1", Order: "o1", Offered: 100, Accepted: 45}, {Buyer: "b1", Order: "o2", Offered: 100, Accepted: 50}},
			st:    demoted("b1/o1", "b1/o2"),
			want:  []want{{feedback.RestoreOrder, "b1/o2", "back at or above 50%"}},
		},
		{
			name:  "restore_above under the minimum counts as the minimum",
			loop:  loop(func(l *config.OrderLoop) { l.RestoreAbove = 0.1 }),
			stats: []feedback.OrderStats{{Buyer: "b1", Order: "o1", Offered: 100, Accepted: 20}, {Buyer: "b1", Order: "o2", Offered: 100, Accepted: 30}},
			st:    demoted("b1/o1", "b1/o2"),
			want:  []want{{feedback.RestoreOrder, "b1/o2", "back at or above 30%"}},
		},
		{
			name: "sorted by buyer then order",
			loop: loop(nil),
			stats: []feedback.OrderStats{
				{Buyer: "b2", Order: "a", Offered: 50},
				{Buyer: "b1", Order: "z", Offered: 50},
				{Buyer: "b1", Order: "a", Offered: 50, Accepted: 50},
			},
			st: demoted("b1/a"),
			want: []want{
				{feedback.RestoreOrder, "b1/a", ""},
				{feedback.DemoteOrder, "b1/z", ""},
				{feedback.DemoteOrder, "b2/a", ""},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := feedback.Evaluate(config.Feedback{Orders: tt.loop}, nil, tt.stats, tt.st)
			check(t, got, tt.want)
		})
	}
}

func TestEvaluateNilRules(t *testing.T) {
	sources := []feedback.SourceStats{{Source: "s1", Sold: 100, Returned: 100, Fraud: 100}, {Source: "s2", Sold: 100}}
	orders := []feedback.OrderStats{{Buyer: "b1", Order: "o1", Offered: 100}, {Buyer: "b2", Order: "o2", Offered: 100, Accepted: 100}}
	st := feedback.State{Paused: map[string]bool{"s2": true}, Demoted: map[string]bool{"b2/o2": true}}
	if got := feedback.Evaluate(config.Feedback{}, sources, orders, st); len(got) != 0 {
		t.Errorf("no loops: got %+v, want nothing", got)
	}
	got := feedback.Evaluate(config.Feedback{Sources: sourceLoop()}, sources, orders, st)
	check(t, got, []want{{feedback.PauseSource, "s1", ""}, {feedback.RestoreSource, "s2", ""}})
	orderLoop := &config.OrderLoop{MinOffers: 10, MinAcceptance: 0.2}
	got = feedback.Evaluate(config.Feedback{Orders: orderLoop}, sources, orders, st)
	check(t, got, []want{{feedback.DemoteOrder, "b1/o1", "accepted 0% of 100 offers, under"}, {feedback.RestoreOrder, "b2/o2", ""}})
	// Both loops: sources first, then orders.
	got = feedback.Evaluate(config.Feedback{Sources: sourceLoop(), Orders: orderLoop}, sources, orders, st)
	check(t, got, []want{
		{feedback.PauseSource, "s1", ""}, {feedback.RestoreSource, "s2", ""},
		{feedback.DemoteOrder, "b1/o1", ""}, {feedback.RestoreOrder, "b2/o2", ""},
	})
	// Nil state maps read as nothing paused or demoted.
	got = feedback.Evaluate(config.Feedback{Sources: sourceLoop(), Orders: orderLoop}, sources, orders, feedback.State{})
	check(t, got, []want{{feedback.PauseSource, "s1", ""}, {feedback.DemoteOrder, "b1/o1", ""}})
}

func TestDemote(t *testing.T) {
	tests := []struct {
		priority, weight         int
		wantPriority, wantWeight int
	}{
		{0, 0, 2, 1}, // unset: routing reads priority 1, weight 1
		{1, 1, 2, 1},
		{3, 5, 4, 2},
		{2, 8, 3, 4},
		{1, 3, 2, 1},
	}
	for _, tt := range tests {
		o := config.Order{ID: "o", Campaign: "auto", MinScore: 40, Priority: tt.priority, Weight: tt.weight}
		got := feedback.Demote(o)
		if got.Priority != tt.wantPriority || got.Weight != tt.wantWeight {
			t.Errorf("Demote(priority %d, weight %d) = priority %d, weight %d; want %d, %d",
				tt.priority, tt.weight, got.Priority, got.Weight, tt.wantPriority, tt.wantWeight)
		}
		o.Priority, o.Weight = got.Priority, got.Weight
		if !reflect.DeepEqual(got, o) {
			t.Errorf("Demote changed more than priority and weight: %+v", got)
		}
	}
}

// TestDemoteMakesRoutingPreferTheOther routes a lead between two equal
// orders, then with one of them demoted: under each distribution method
// the other one is offered the lead first.
func TestDemoteMakesRoutingPreferTheOther(t *testing.T) {
	for _, method := range []string{config.Waterfall, config.RoundRobin, config.Weighted} {
		t.Run(method, func(t *testing.T) {
			// "a" goes first while the two are equal: it wins ties by key.
			first := decide(t, method, config.Order{Priority: 1, Weight: 2}, config.Order{Priority: 1, Weight: 2})
			if first != "a/auto" {
				t.Fatalf("equal orders: %s first, want a/auto", first)
			}
			a := feedback.Demote(config.Order{Priority: 1, Weight: 2})
			if first := decide(t, method, a, config.Order{Priority: 1, Weight: 2}); first != "b/auto" {
				t.Errorf("a demoted: %s first, want b/auto", first)
			}
		})
	}
}

// decide routes one lead between buyer a's order and buyer b's, and
// answers the first candidate's key.
func decide(t *testing.T, method string, a, b config.Order) string {
	t.Helper()
	cp := config.Campaign{ID: "auto", Distribution: method, Status: config.StatusActive}
	var buyers []config.Buyer
	for i, o := range []config.Order{a, b} {
		o.ID, o.Campaign, o.Status, o.Price = "auto", "auto", config.StatusActive, 1000
		buyers = append(buyers, config.Buyer{
			ID: string(rune('a' + i)), Status: config.StatusActive, Timezone: "UTC", Orders: []config.Order{o},
		})
	}
	ix := config.NewIndex(&config.Config{Campaigns: []config.Campaign{cp}, Buyers: buyers})
	l := &lead.Lead{ID: "l1", Campaign: "auto", Fields: map[string]any{}}
	d := routing.Decide(routing.Input{
		Lead: l, Campaign: ix.Campaign("auto"), Orders: ix.Orders("auto"), Index: ix,
		Now: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC),
	})
	if len(d.Candidates) != 2 {
		t.Fatalf("%d candidates, want 2: %+v", len(d.Candidates), d.Explain)
	}
	return d.Candidates[0].Ref.Key()
}
