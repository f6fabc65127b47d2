// Package conversions reports what became of ad platforms' leads back to
// the platforms: which conversion a lead's stage queues (For), and Meta's
// Conversions API for CRM, which the admin function's conversions task
// sends the queued stages to. Meta uses them to optimise its delivery for
// leads that sell and convert rather than for form fills.
package conversions

import (
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
)

// For is the conversion to queue when the lead reaches stage at `at`, or
// nil: only a lead ingested from Meta Lead Ads, with a Conversions API
// dataset configured that sends the stage, and never a test lead. key
// makes the conversion unique within the lead (the sale's round, the
// returned sale, the reporting buyer).
func For(ix *config.Index, l *lead.Lead, stage, key string, at time.Time) *lead.Conversion {
	if ix == nil || l == nil || l.Test {
		return nil
	}
	id := l.MetaLeadgenID()
	if id == "" || ix.MetaConversions().EventName(stage) == "" {
		return nil
	}
	return &lead.Conversion{Stage: stage, PlatformLeadID: id, At: at.UTC(), Key: key}
}

// EventID is the event_id a conversion is sent with: the same for every
// attempt, so that Meta drops a repeat of an event it took (a run that
// sent it and stopped before marking it sent).
func EventID(leadID string, c *lead.Conversion) string {
	return leadID + ":" + c.Stage + ":" + c.Key
}
