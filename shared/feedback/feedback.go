// Package feedback holds the rules of the loops that act on outcomes by
// themselves (config.Feedback): pausing a source, or one of its sub-ids,
// whose buyers return too much of what it sells or report it as fraud, and
// demoting a buyer's order that accepts too few of the leads offered to it.
//
// The package is pure: the caller counts a window's sales, returns and
// offers, passes them in with what is paused or demoted now, and carries
// out the actions Evaluate answers. Each loop has hysteresis: what a limit
// paused or demoted comes back only once its rate is well clear of the
// limit, so that a rate sitting at the limit does not flap.
package feedback

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/leadrelay/leadrelay/shared/config"
)

// Action kinds.
const (
	PauseSource   = "pause_source"
	RestoreSource = "restore_source"
	DemoteOrder   = "demote_order"
	RestoreOrder  = "restore_order"
)

// SourceStats is a source's sales over the loop's window, or one sub-id's
// when SubID is not "". Sold counts the leads sold; Returned those of them
// returned, for any reason; Fraud those returned as fraud (counted in
// Returned too).
type SourceStats struct {
	Source, SubID         string
	Sold, Returned, Fraud int
}

// Key is the source's State key: "source", or "source/subid".
func (s SourceStats) Key() string { return SourceKey(s.Source, s.SubID) }

// OrderStats is an order's offers over the loop's window, and how many of
// them the buyer accepted.
type OrderStats struct {
	Buyer, Order      string
	Offered, Accepted int
}

// Key is the order's State key, "buyer/order".
func (o OrderStats) Key() string { return config.OrderKey(o.Buyer, o.Order) }

// SourceKey is the State key of a source ("source") or of one of its
// sub-ids ("source/subid").
func SourceKey(source, subID string) string {
	if subID == "" {
		return source
	}
	return source + "/" + subID
}

// State is what the loops have paused or demoted now: sources by
// SourceKey, orders by config.OrderKey.
type State struct {
	Paused  map[string]bool
	Demoted map[string]bool
}

// Action is one change Evaluate asks for.
type Action struct {
	// Kind is PauseSource, RestoreSource, DemoteOrder or RestoreOrder.
	Kind string `json:"kind"`
	// Source and SubID name the source of a source action; SubID is ""
	// for the whole source.
	Source string `json:"source,omitempty"`
	SubID  string `json:"sub_id,omitempty"`
	// Buyer and Order name the order of an order action.
	Buyer string `json:"buyer,omitempty"`
	Order string `json:"order,omitempty"`
	// Rate is the rate that decided (0-1): the return or fraud rate over
	// the limit of a pause, the higher rate of a restore, the acceptance
	// rate of an order action.
	Rate float64 `json:"rate"`
	// Limit is what Rate was held to: the limit it broke, or the
	// threshold it came back past.
	Limit float64 `json:"limit"`
	// Reason says it in a sentence, for the timeline and the operators.
	Reason string `json:"reason"`
}

// Evaluate applies the loops of fb to a window's counts and answers what
// to change, given what is paused and demoted now (st). The actions come
// sources first, then orders, each in key order. A nil loop does nothing:
// what it paused or demoted stays so until restored by hand.
//
// Sources (fb.Sources): a source with at least MinSold sales in the window
// whose return rate (Returned/Sold) is over MaxReturnRate, or whose fraud
// rate (Fraud/Sold) is over MaxFraudRate, is paused, unless it is already.
// A limit of 0 is not checked. A paused source is restored once, over at
// least MinSold sales, every checked rate is under RestoreBelow (default:
// half of each limit; a RestoreBelow above a limit counts as the limit).
// A paused source sells nothing, so as the window moves on its sales age
// out of it: one with fewer than MinSold sales left in the window (or none)
// is restored on probation, to be judged again on its new sales.
// With SubIDs each sub-id's stats (SubID not "") are judged apart, and the
// whole-source stats are not, so that one bad sub-id stops alone; without
// it the sub-ids' stats are ignored and whole sources judged.
//
// Orders (fb.Orders): an order with at least MinOffers offers in the window
// that accepted under MinAcceptance of them is demoted (see Demote), unless
// it is already; a demoted order is restored once it accepts at least
// RestoreAbove of at least MinOffers offers (default MinAcceptance plus a
// tenth; never less than MinAcceptance).
//
// Each row of sources and orders is one key's counts: a key given twice
// is judged twice.
func Evaluate(fb config.Feedback, sources []SourceStats, orders []OrderStats, st State) []Action {
	var out []Action
	if fb.Sources != nil {
		out = append(out, evalSources(*fb.Sources, sources, st.Paused)...)
	}
	if fb.Orders != nil {
		out = append(out, evalOrders(*fb.Orders, orders, st.Demoted)...)
	}
	return out
}

// evalSources is the sources loop of Evaluate.
func evalSources(loop config.SourceLoop, stats []SourceStats, paused map[string]bool) []Action {
	var out []Action
	over := window(loop.Window)
	seen := map[string]bool{}
	for _, s := range stats {
		if (s.SubID != "") != loop.SubIDs {
			continue
		}
		seen[s.Key()] = true
		if s.Sold < max(loop.MinSold, 1) {
			if paused[s.Key()] {
				out = append(out, probation(s.Source, s.SubID, s.Sold, over))
			}
			continue
		}
		sold := float64(s.Sold)
		rates := [...]struct {
			name         string
			rate, limit  float64
			restoreBelow float64
		}{
			{"return rate", float64(s.Returned) / sold, loop.MaxReturnRate, restoreBelow(loop.RestoreBelow, loop.MaxReturnRate)},
			{"fraud rate", float64(s.Fraud) / sold, loop.MaxFraudRate, restoreBelow(loop.RestoreBelow, loop.MaxFraudRate)},
		}
		a := Action{Source: s.Source, SubID: s.SubID}
		var why []string
		if !paused[s.Key()] {
			for _, r := range rates {
				if r.limit <= 0 || r.rate <= r.limit {
					continue
				}
				if why == nil {
					a.Rate, a.Limit = r.rate, r.limit
				}
				why = append(why, r.name+" "+pct(r.rate)+over+" is above the "+pct(r.limit)+" limit")
			}
			if why == nil {
				continue
			}
			a.Kind = PauseSource
		} else {
			checked := false
			for _, r := range rates {
				if r.limit <= 0 {
					continue
				}
				if r.rate >= r.restoreBelow {
					why = nil
					break
				}
				if !checked || r.rate > a.Rate {
					a.Rate, a.Limit = r.rate, r.restoreBelow
				}
				checked = true
				why = append(why, r.name+" "+pct(r.rate)+over+" is back under "+pct(r.restoreBelow))
			}
			if why == nil {
				continue
			}
			a.Kind = RestoreSource
		}
		a.Reason = strings.Join(why, "; ") + " (" + strconv.Itoa(s.Returned) + " returned, " +
			strconv.Itoa(s.Fraud) + " as fraud, of " + strconv.Itoa(s.Sold) + " sold)"
		out = append(out, a)
	}
	for key, on := range paused {
		source, sub, _ := strings.Cut(key, "/")
		if on && !seen[key] && (sub != "") == loop.SubIDs {
			out = append(out, probation(source, sub, 0, over))
		}
	}
	slices.SortStableFunc(out, func(a, b Action) int {
		return cmp.Or(cmp.Compare(a.Source, b.Source), cmp.Compare(a.SubID, b.SubID))
	})
	return out
}

// probation restores a paused source whose sales aged out of the window.
func probation(source, sub string, sold int, over string) Action {
	return Action{Kind: RestoreSource, Source: source, SubID: sub,
		Reason: "only " + strconv.Itoa(sold) + " sale(s) left" + over + ": too few to judge; restored on probation"}
}

// restoreBelow is the rate under which a source paused for breaking limit
// comes back: the loop's RestoreBelow, at most the limit, or half the
// limit.
func restoreBelow(restore, limit float64) float64 {
	if restore > 0 {
		return min(restore, limit)
	}
	return limit / 2
}

// evalOrders is the orders loop of Evaluate.
func evalOrders(loop config.OrderLoop, stats []OrderStats, demoted map[string]bool) []Action {
	restoreAbove := loop.RestoreAbove
	if restoreAbove <= 0 {
		restoreAbove = loop.MinAcceptance + 0.1
	}
	restoreAbove = max(restoreAbove, loop.MinAcceptance)
	var out []Action
	over := window(loop.Window)
	for _, o := range stats {
		if o.Offered < max(loop.MinOffers, 1) {
			continue
		}
		rate := float64(o.Accepted) / float64(o.Offered)
		a := Action{Buyer: o.Buyer, Order: o.Order, Rate: rate}
		accepted := "accepted " + pct(rate) + " of " + strconv.Itoa(o.Offered) + " offers" + over
		switch {
		case !demoted[o.Key()] && rate < loop.MinAcceptance:
			a.Kind, a.Limit = DemoteOrder, loop.MinAcceptance
			a.Reason = accepted + ", under the " + pct(loop.MinAcceptance) + " minimum"
		case demoted[o.Key()] && rate >= restoreAbove:
			a.Kind, a.Limit = RestoreOrder, restoreAbove
			a.Reason = accepted + ", back at or above " + pct(restoreAbove)
		default:
			continue
		}
		out = append(out, a)
	}
	slices.SortStableFunc(out, func(a, b Action) int {
		return cmp.Or(cmp.Compare(a.Buyer, b.Buyer), cmp.Compare(a.Order, b.Order))
	})
	return out
}

// Demote returns the order as the loop demotes it: one step less preferred
// in priority and with half its weight. Routing tries the lowest priority
// number first (an unset priority is 1) and reads an unset weight as 1, so
// the demoted priority is one more than the order's and the weight half
// its, at least 1. Slices and pointers are shared with o.
func Demote(o config.Order) config.Order {
	o.Priority = max(o.Priority, 1) + 1
	o.Weight = max(o.Weight/2, 1)
	return o
}

// window is " over 7d", or "" for an unset window.
func window(d config.Duration) string {
	if d <= 0 {
		return ""
	}
	return " over " + d.String()
}

// pct writes a rate (0-1) as a percentage to a tenth: "32%", "12.5%".
func pct(r float64) string {
	return strconv.FormatFloat(math.Round(r*1000)/10, 'f', -1, 64) + "%"
}
