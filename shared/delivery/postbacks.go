package delivery

import (
	"context"

	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/money"
)

// Postbacks tells a lead's source what became of it (package postback):
// best effort, after the lead's state is written; it never fails the lead.
type Postbacks interface {
	Notify(ctx context.Context, l *lead.Lead, status lead.Status, payout money.Amount)
}

// notify calls the postback hook, if there is one.
func (h *Handler) notify(ctx context.Context, l *lead.Lead, status lead.Status, payout money.Amount) {
	if h.Postbacks != nil {
		h.Postbacks.Notify(ctx, l, status, payout)
	}
}
