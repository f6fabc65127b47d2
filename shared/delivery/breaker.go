package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/leadrelay/leadrelay/shared/breaker"
	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/webhook"
)

// Breakers track buyers' failure streaks (package breaker).
type Breakers interface {
	Failure(ctx context.Context, buyer *config.Buyer, leadID string) (breaker.Change, error)
	Success(ctx context.Context, buyer, leadID string) (breaker.Change, error)
}

// breakerEvents tells the breakers of an attempt's outcome and returns the
// timeline events of the state change it caused, if any. A transient
// failure counts against the buyer; an answer of the buyer's own (accepted,
// or refused with a status) ends its streak. Breaker errors are logged:
// they never hold up the lead.
func (h *Handler) breakerEvents(ctx context.Context, log *slog.Logger, b *config.Buyer, leadID string, v webhook.Verdict, at time.Time) []lead.Event {
	if h.Breakers == nil {
		return nil
	}
	var (
		ch  breaker.Change
		err error
	)
	switch {
	case v.Outcome == webhook.Transient:
		ch, err = h.Breakers.Failure(ctx, b, leadID)
	case v.Outcome == webhook.Accepted, v.Status != 0:
		ch, err = h.Breakers.Success(ctx, b.ID, leadID)
	}
	if err != nil {
		log.WarnContext(ctx, "update the buyer's breaker", "error", err)
		return nil
	}
	switch ch {
	case breaker.ChangeOpened:
		p := b.Delivery.BreakerPolicy()
		h.tellBuyer(ctx, log, b, fmt.Sprintf("LeadRelay: deliveries to %s paused for %s after %d consecutive failures", b.ID, p.Cooldown.D(), p.Failures))
		return []lead.Event{{At: at, Type: lead.EventBreakerOpened, Buyer: b.ID,
			Detail: fmt.Sprintf("%d consecutive delivery failures: %s paused for %s", p.Failures, b.ID, p.Cooldown.D()),
			Data:   map[string]any{"failures": p.Failures, "cooldown_s": int(p.Cooldown.D().Seconds())}}}
	case breaker.ChangeClosed:
		return []lead.Event{{At: at, Type: lead.EventBreakerClosed, Buyer: b.ID,
			Detail: fmt.Sprintf("%s answered again: its breaker is closed", b.ID)}}
	}
	return nil
}
