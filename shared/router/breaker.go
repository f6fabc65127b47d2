package router

import (
	"context"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/routing"
)

// Breakers say which orders a buyer's open circuit breaker keeps out
// (package breaker): order key → reason code.
type Breakers interface {
	Exclude(ctx context.Context, orders []config.OrderRef) map[string]string
}

// excludeBroken adds to in.Exclude the orders whose buyer's breaker is
// open. Orders already excluded, and buyers that already bought the lead,
// are not asked about: a half-open breaker's one trial lead must be one
// that can go to the buyer.
func (h *Handler) excludeBroken(ctx context.Context, in *routing.Input) {
	if h.Breakers == nil {
		return
	}
	var ask []config.OrderRef
	for _, o := range in.Orders {
		if _, out := in.Exclude[o.Key()]; !out && !in.Bought[o.Buyer.ID] {
			ask = append(ask, o)
		}
	}
	if len(ask) == 0 {
		return
	}
	for k, reason := range h.Breakers.Exclude(ctx, ask) {
		in.Exclude[k] = reason
	}
}
