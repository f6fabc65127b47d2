// Package scoring scores a lead before it is routed: signals read from the
// lead itself (phone type, email domain, velocity, completeness, time of
// day, consent) make a rule score, and a model learned per campaign from
// outcomes (sales, rejects, returns, buyers' reports) refines it once the
// campaign has enough labels. Every score comes with the terms that made
// it, so a lead's timeline can say why it scored what it did.
//
// The package is pure: the caller reads what it needs (velocity counts,
// the campaign's model) and passes it in.
package scoring

import (
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
)

// Input is what a lead is scored on.
type Input struct {
	Campaign *config.Campaign
	Source   string
	// SubID is the source's sub-id (the lead's "sub_id" field), if any.
	SubID string
	// Fields are the lead's validated, normalised fields.
	Fields map[string]any
	// At is when the lead was received; Zone the lead's time zone (the
	// agency's when the lead's own is not known).
	At   time.Time
	Zone *time.Location
	// Velocity counts the other recent leads that share a value with
	// this one.
	Velocity Velocity
}

// Velocity counts the other leads, from any source, received within the
// velocity window that carry the same phone number, email address or
// client IP as the lead being scored (0 when the lead has no such value).
type Velocity struct {
	Phone int `json:"phone,omitempty"`
	Email int `json:"email,omitempty"`
	IP    int `json:"ip,omitempty"`
	// Sources is how many distinct other sources sent those leads.
	Sources int `json:"sources,omitempty"`
}

// The score's parts are the lead's (package lead), so that every function
// that carries a lead need not link the scorer.
type (
	// Signal is one thing the rules read from a lead, and what it did to
	// the rule score.
	Signal = lead.Signal
	// Term is one model feature's contribution to a lead's score.
	Term = lead.Term
	// Detail is a lead's score and what made it.
	Detail = lead.ScoreDetail
	// ModelPart is the model's share of a score.
	ModelPart = lead.ModelPart
)
