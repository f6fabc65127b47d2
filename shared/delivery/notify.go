package delivery

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
)

// Slack posts a message to a buyer's Slack incoming webhook.
type Slack interface {
	Post(ctx context.Context, url, text string) error
}

// tellBuyer posts to the buyer's Slack channel, if it has one. It is
// best-effort: a failure is logged and the lead goes on.
func (h *Handler) tellBuyer(ctx context.Context, log *slog.Logger, b *config.Buyer, text string) {
	if h.Slack == nil || b == nil || b.Notify.SlackURL == "" {
		return
	}
	if err := h.Slack.Post(ctx, b.Notify.SlackURL, text); err != nil {
		log.WarnContext(ctx, "Slack notification failed", "buyer", b.ID, "error", err)
	}
}

func soldText(l *lead.Lead, a lead.Assignment) string {
	return fmt.Sprintf("LeadRelay: lead %s (%s) sold to %s at %s", l.ID, l.Campaign, a.Buyer, a.Price)
}
