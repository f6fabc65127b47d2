package routing

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/money"
)

// spec is one order of a ranking test, under its own buyer.
type spec struct {
	buyer    string
	priority int
	weight   int
	price    money.Amount
	rot      int64
}

func TestRank(t *testing.T) {
	tests := []struct {
		name   string
		method string
		orders []spec
		want   []string // buyers, best first
	}{
		{
			name:   "waterfall: ascending priority",
			method: config.Waterfall,
			orders: []spec{{buyer: "a", priority: 3}, {buyer: "b", priority: 1}, {buyer: "c", priority: 2}},
			want:   []string{"b", "c", "a"},
		},
		{
			name:   "waterfall: ties by fewest rotation, then key",
			method: config.Waterfall,
			orders: []spec{{buyer: "a", priority: 1, rot: 5}, {buyer: "b", priority: 1, rot: 2}, {buyer: "c", priority: 2}, {buyer: "d", priority: 1, rot: 2}},
			want:   []string{"b", "d", "a", "c"},
		},
		{
			name:   "unknown method ranks as waterfall",
			method: "lottery",
			orders: []spec{{buyer: "a", priority: 2}, {buyer: "b", priority: 1}},
			want:   []string{"b", "a"},
		},
		{
			name:   "round_robin: fewest rotation first, ties by priority then key",
			method: config.RoundRobin,
			orders: []spec{{buyer: "a", priority: 1, rot: 3}, {buyer: "b", priority: 2, rot: 1}, {buyer: "c", priority: 1, rot: 1}, {buyer: "d", priority: 1, rot: 1}},
			want:   []string{"c", "d", "b", "a"},
		},
		{
			name:   "weighted: under their share first, then smallest (count+1)/weight",
			method: config.Weighted,
			// n = 4, W = 4: a's share of 5 leads is 3.75 (has 3: under),
			// b's 1.25 (has 1: under); (3+1)/3 < (1+1)/1, so a first.
			orders: []spec{{buyer: "a", weight: 3, rot: 3}, {buyer: "b", weight: 1, rot: 1}},
			want:   []string{"a", "b"},
		},
		{
			name:   "weighted: an order over its share goes last",
			method: config.Weighted,
			// n = 10, W = 11: a's share of 11 leads is 10 (has 10: not
			// under), b's is 1 (has 0: under).
			orders: []spec{{buyer: "a", weight: 10, rot: 10}, {buyer: "b", weight: 1}},
			want:   []string{"b", "a"},
		},
		{
			name:   "weighted: the quota guard beats plain (count+1)/weight",
			method: config.Weighted,
			// Weights 7,1,1,1,1 after 4 leads all to a: a's share of 5 is
			// 5×7/11 = 3.18 < 4, so a waits although 5/7 < 1/1.
			orders: []spec{{buyer: "a", weight: 7, rot: 4}, {buyer: "b", weight: 1}, {buyer: "c", weight: 1}, {buyer: "d", weight: 1}, {buyer: "e", weight: 1}},
			want:   []string{"b", "c", "d", "e", "a"},
		},
		{
			name:   "weighted: equal weights rotate",
			method: config.Weighted,
			orders: []spec{{buyer: "a", weight: 2, rot: 1}, {buyer: "b", weight: 2, rot: 0}, {buyer: "c", weight: 2, rot: 1}},
			want:   []string{"b", "a", "c"},
		},
		{
			name:   "ping_post: highest price first, ties by priority then key",
			method: config.PingPost,
			orders: []spec{{buyer: "a", price: 1000, priority: 2}, {buyer: "b", price: 2500}, {buyer: "c", price: 1000, priority: 1}, {buyer: "d", price: 1000, priority: 1}},
			want:   []string{"b", "c", "d", "a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, rot := rankFixture(t, tt.method, tt.orders)
			in := f.input(&lead.Lead{}, time.Unix(0, 0))
			in.Rotation = rot
			d := Decide(in)
			var got []string
			for _, c := range d.Candidates {
				got = append(got, c.Ref.Buyer.ID)
				if c.Price != c.Ref.Order.Price {
					t.Errorf("%s: price %d, want the order's %d", c.Ref.Key(), c.Price, c.Ref.Order.Price)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ranked %v, want %v", got, tt.want)
			}
			for i, v := range d.Explain {
				if want := slices.Index(tt.want, tt.orders[i].buyer) + 1; v.Rank != want {
					t.Errorf("%s: rank %d, want %d", v.Order, v.Rank, want)
				}
			}
		})
	}
}

func rankFixture(tb helperT, method string, orders []spec) (*fixture, map[string]int64) {
	buyers := make([]config.Buyer, len(orders))
	rot := map[string]int64{}
	for i, o := range orders {
		price := o.price
		if price == 0 {
			price = 100
		}
		buyers[i] = buyer(o.buyer, "UTC", config.Order{Price: price, Priority: o.priority, Weight: o.weight})
		if o.rot != 0 {
			rot[config.OrderKey(o.buyer, campaignID)] = o.rot
		}
	}
	return newFixture(tb, config.Campaign{Distribution: method}, buyers...), rot
}

// simulation routes leads through Decide, each lead eligible for some of
// the orders through a filter on a field of its own, and gives each lead to
// the first candidate, as the router does when every buyer accepts.
type simulation struct {
	f      *fixture
	counts map[string]int64 // the Rotation the store would hold
	keys   []string
}

// newSimulation makes one order per element of priorities and weights;
// order i takes leads whose field "o<group[i]>" is "y".
func newSimulation(tb helperT, method string, priorities, weights, group []int) *simulation {
	buyers := make([]config.Buyer, len(priorities))
	s := &simulation{counts: map[string]int64{}}
	for i := range priorities {
		id := fmt.Sprintf("b%02d", i)
		buyers[i] = buyer(id, "UTC", config.Order{
			Price:    100,
			Priority: priorities[i],
			Weight:   weights[i],
			Filters:  []config.Filter{{Field: fmt.Sprintf("o%d", group[i]), Op: config.OpEq, Value: "y"}},
		})
		s.keys = append(s.keys, config.OrderKey(id, campaignID))
	}
	s.f = newFixture(tb, config.Campaign{Distribution: method}, buyers...)
	return s
}

// route sends a lead for which the groups in eligible pass; it returns the
// index of the order that got it and the decision.
func (s *simulation) route(tb helperT, eligible []bool) (int, Decision) {
	fields := make(map[string]any, len(eligible))
	for g, ok := range eligible {
		if ok {
			fields[fmt.Sprintf("o%d", g)] = "y"
		}
	}
	in := s.f.input(&lead.Lead{Fields: fields}, time.Unix(0, 0))
	in.Rotation = s.counts
	d := Decide(in)
	if len(d.Candidates) == 0 {
		return -1, d
	}
	key := d.Candidates[0].Ref.Key()
	s.counts[key]++
	return slices.Index(s.keys, key), d
}

func spread(counts []int64) int64 {
	if len(counts) == 0 {
		return 0
	}
	return slices.Max(counts) - slices.Min(counts)
}

// TestRoundRobinGroupsStayLevel: orders with the same filters (eligible for
// the same leads) never differ by more than one, whatever other orders are
// eligible for.
func TestRoundRobinGroupsStayLevel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(2, 8).Draw(rt, "orders")
		ngroups := rapid.IntRange(1, 4).Draw(rt, "groups")
		group := rapid.SliceOfN(rapid.IntRange(0, ngroups-1), n, n).Draw(rt, "group")
		ones := slices.Repeat([]int{1}, n)
		s := newSimulation(rt, config.RoundRobin, ones, ones, group)
		leads := rapid.IntRange(1, 200).Draw(rt, "leads")
		for l := range leads {
			eligible := rapid.SliceOfN(rapid.Bool(), ngroups, ngroups).Draw(rt, fmt.Sprintf("lead%d", l))
			var min int64 = -1
			for i, k := range s.keys {
				if eligible[group[i]] && (min < 0 || s.counts[k] < min) {
					min = s.counts[k]
				}
			}
			chosen, _ := s.route(rt, eligible)
			if min < 0 {
				if chosen >= 0 {
					rt.Fatalf("lead %d went to %s with no order eligible", l, s.keys[chosen])
				}
				continue
			}
			if chosen < 0 || !eligible[group[chosen]] {
				rt.Fatalf("lead %d: chosen %d, not an eligible order", l, chosen)
			}
			if got := s.counts[s.keys[chosen]] - 1; got != min {
				rt.Fatalf("lead %d went to %s with %d leads; an eligible order had %d", l, s.keys[chosen], got, min)
			}
			for g := range ngroups {
				var counts []int64
				for i, k := range s.keys {
					if group[i] == g {
						counts = append(counts, s.counts[k])
					}
				}
				if spread(counts) > 1 {
					rt.Fatalf("after lead %d, group %d counts %v differ by more than one", l, g, counts)
				}
			}
		}
	})
}

// TestRoundRobinRuns: leads come in runs with the same eligible orders.
// During a run, the spread of the run's orders never grows and falls to at
// most one as soon as the orders behind have caught up; a run that starts
// level hands out its leads within one of each other.
func TestRoundRobinRuns(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(2, 6).Draw(rt, "orders")
		ones := slices.Repeat([]int{1}, n)
		group := make([]int, n)
		for i := range group {
			group[i] = i // one filter field per order
		}
		s := newSimulation(rt, config.RoundRobin, ones, ones, group)
		runs := rapid.IntRange(1, 12).Draw(rt, "runs")
		for r := range runs {
			eligible := rapid.SliceOfN(rapid.Bool(), n, n).Draw(rt, fmt.Sprintf("run%d", r))
			length := rapid.IntRange(1, 30).Draw(rt, fmt.Sprintf("run%d-length", r))
			var members []int
			for i, ok := range eligible {
				if ok {
					members = append(members, i)
				}
			}
			if len(members) == 0 {
				continue
			}
			counts := func() []int64 {
				c := make([]int64, len(members))
				for j, i := range members {
					c[j] = s.counts[s.keys[i]]
				}
				return c
			}
			start := counts()
			level := spread(start) == 0
			var deficit int64
			for _, c := range start {
				deficit += slices.Max(start) - c
			}
			prev := spread(start)
			for l := range length {
				chosen, _ := s.route(rt, eligible)
				if chosen < 0 || !eligible[chosen] {
					rt.Fatalf("run %d lead %d: chosen %d is not eligible", r, l, chosen)
				}
				now := counts()
				sp := spread(now)
				if sp > max(prev, 1) {
					rt.Fatalf("run %d lead %d: spread grew from %d to %d: %v", r, l, prev, sp, now)
				}
				if int64(l+1) >= deficit && sp > 1 {
					rt.Fatalf("run %d lead %d: %d leads after a deficit of %d, counts %v still differ by %d", r, l, l+1, deficit, now, sp)
				}
				got := make([]int64, len(now))
				for j := range now {
					got[j] = now[j] - start[j]
				}
				if level && spread(got) > 1 {
					rt.Fatalf("run %d started level at %v; lead %d: in-run counts %v differ by more than one", r, start, l, got)
				}
				for a := range got {
					for b := range got {
						if diff, startDiff := got[a]-got[b], start[b]-start[a]; diff > max(startDiff, 0)+1 {
							rt.Fatalf("run %d lead %d: order %d got %d more than %d, which started %d ahead", r, l, members[a], diff, members[b], -startDiff)
						}
					}
				}
				prev = sp
			}
		}
	})
}

// TestWeightedStaysProportional: with a fixed set of orders, every order's
// count stays strictly within one lead of its share n×weight/W.
func TestWeightedStaysProportional(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(1, 7).Draw(rt, "orders")
		weights := rapid.SliceOfN(rapid.IntRange(1, 12), n, n).Draw(rt, "weights")
		priorities := rapid.SliceOfN(rapid.IntRange(1, 3), n, n).Draw(rt, "priorities")
		s := newSimulation(rt, config.Weighted, priorities, weights, make([]int, n))
		var total int64
		for _, w := range weights {
			total += int64(w)
		}
		leads := rapid.IntRange(1, 300).Draw(rt, "leads")
		for l := int64(1); l <= int64(leads); l++ {
			if chosen, _ := s.route(rt, []bool{true}); chosen < 0 {
				rt.Fatalf("lead %d: no candidate", l)
			}
			for i, k := range s.keys {
				// |count - l×w/W| < 1, in integers.
				dev := s.counts[k]*total - l*int64(weights[i])
				if dev <= -total || dev >= total {
					rt.Fatalf("after %d leads, %s (weight %d of %d) has %d, share %.2f", l, k, weights[i], total, s.counts[k], float64(l*int64(weights[i]))/float64(total))
				}
			}
		}
	})
}

// TestWaterfallPicksLowestPriority: the first candidate always has the
// lowest priority among the eligible orders, the list is in priority order,
// and ties go to the order with the fewest leads.
func TestWaterfallPicksLowestPriority(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(1, 8).Draw(rt, "orders")
		priorities := rapid.SliceOfN(rapid.IntRange(1, 4), n, n).Draw(rt, "priorities")
		group := make([]int, n)
		for i := range group {
			group[i] = i
		}
		s := newSimulation(rt, config.Waterfall, priorities, slices.Repeat([]int{1}, n), group)
		leads := rapid.IntRange(1, 100).Draw(rt, "leads")
		for l := range leads {
			eligible := rapid.SliceOfN(rapid.Bool(), n, n).Draw(rt, fmt.Sprintf("lead%d", l))
			lowest, fewest := 0, int64(-1)
			for i, ok := range eligible {
				if ok && (lowest == 0 || priorities[i] < lowest) {
					lowest = priorities[i]
				}
			}
			for i, ok := range eligible {
				if ok && priorities[i] == lowest && (fewest < 0 || s.counts[s.keys[i]] < fewest) {
					fewest = s.counts[s.keys[i]]
				}
			}
			chosen, d := s.route(rt, eligible)
			if lowest == 0 {
				if chosen >= 0 {
					rt.Fatalf("lead %d sold with nothing eligible", l)
				}
				continue
			}
			if chosen < 0 || !eligible[chosen] || priorities[chosen] != lowest {
				rt.Fatalf("lead %d went to %d; want an eligible order of priority %d", l, chosen, lowest)
			}
			if s.counts[s.keys[chosen]]-1 != fewest {
				rt.Fatalf("lead %d: tie went to an order with %d leads; one had %d", l, s.counts[s.keys[chosen]]-1, fewest)
			}
			if !slices.IsSortedFunc(d.Candidates, func(a, b Candidate) int { return a.Ref.Order.Priority - b.Ref.Order.Priority }) {
				rt.Fatalf("lead %d: candidates not in priority order", l)
			}
			want := 0
			for _, ok := range eligible {
				if ok {
					want++
				}
			}
			if len(d.Candidates) != want {
				rt.Fatalf("lead %d: %d candidates, want every eligible order (%d)", l, len(d.Candidates), want)
			}
		}
	})
}
