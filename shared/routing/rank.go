package routing

import (
	"cmp"
	"slices"

	"github.com/leadrelay/leadrelay/shared/config"
)

// rankKey is what ranking compares of an entry; it holds no pointers, so
// that sorting moves it cheaply.
type rankKey struct {
	idx      int // into the entries
	priority int
	rot      int64
	weight   int64
	price    int64
	under    bool // weighted: still under its share of the next lead
}

// rank returns the indexes of the eligible entries, best first by the
// distribution method; an unknown method ranks as waterfall. Every method
// ends its ties by priority and then by order key, so the result does not
// depend on the input order.
func rank(method string, es []entry) []rankKey {
	keys := make([]rankKey, len(es))
	for i := range es {
		o := es[i].ref.Order
		keys[i] = rankKey{
			idx:      i,
			priority: o.Priority,
			rot:      max(es[i].rot, 0),
			weight:   int64(max(o.Weight, 1)),
			price:    int64(o.Price),
		}
	}
	byPriorityKey := func(a, b rankKey) int {
		if c := cmp.Compare(a.priority, b.priority); c != 0 {
			return c
		}
		return cmp.Compare(es[a.idx].key(), es[b.idx].key())
	}
	switch method {
	case config.RoundRobin:
		slices.SortFunc(keys, func(a, b rankKey) int {
			if c := cmp.Compare(a.rot, b.rot); c != 0 {
				return c
			}
			return byPriorityKey(a, b)
		})
	case config.Weighted:
		markUnder(keys)
		slices.SortFunc(keys, func(a, b rankKey) int {
			if a.under != b.under {
				if a.under {
					return -1
				}
				return 1
			}
			// (a.rot+1)/a.weight against (b.rot+1)/b.weight, without division.
			if c := cmp.Compare((a.rot+1)*b.weight, (b.rot+1)*a.weight); c != 0 {
				return c
			}
			return byPriorityKey(a, b)
		})
	case config.PingPost:
		slices.SortFunc(keys, func(a, b rankKey) int {
			if c := cmp.Compare(b.price, a.price); c != 0 {
				return c
			}
			return byPriorityKey(a, b)
		})
	default:
		slices.SortFunc(keys, func(a, b rankKey) int {
			if c := cmp.Compare(a.priority, b.priority); c != 0 {
				return c
			}
			if c := cmp.Compare(a.rot, b.rot); c != 0 {
				return c
			}
			return cmp.Compare(es[a.idx].key(), es[b.idx].key())
		})
	}
	return keys
}

// markUnder is the quota of the weighted method: with n leads given to these
// orders so far and W their total weight, an order whose count is under its
// share of n+1 leads (count×W < (n+1)×weight) goes before those that are
// not. Within each group the smallest (count+1)/weight goes first. Counts
// then stay strictly within one of n×weight/W.
func markUnder(keys []rankKey) {
	var n, total int64
	for _, k := range keys {
		n += k.rot
		total += k.weight
	}
	for i := range keys {
		keys[i].under = keys[i].rot*total < (n+1)*keys[i].weight
	}
}
