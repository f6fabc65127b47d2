package lead

import (
	"strings"
	"time"
)

// Stages of a lead that are reported back to the ad platform it came from.
const (
	StageSold      = "sold"
	StageReturned  = "returned"
	StageConverted = "converted"
)

// Stages lists the stages, in the order a lead reaches them.
var Stages = []string{StageSold, StageReturned, StageConverted}

// MetaPrefix starts the external_id of a lead ingested from Meta Lead Ads
// ("meta:<leadgen_id>"); GooglePrefix one from a Google Ads lead form.
// Sources cannot post external ids with these prefixes: only the
// integrations give them.
const (
	MetaPrefix   = "meta:"
	GooglePrefix = "google:"
)

// MetaLeadgenID is the Meta leadgen id of a lead ingested from Meta Lead
// Ads, or "".
func (l *Lead) MetaLeadgenID() string {
	if id, ok := strings.CutPrefix(l.ExternalID, MetaPrefix); ok {
		return id
	}
	return ""
}

// Conversion is a stage a lead reached, to be reported to the ad platform
// it came from (Meta's Conversions API for CRM). It is queued by the
// write that makes the stage true (the sale, the return, the buyer's
// report), in the same transaction, and sent once by the admin function's
// conversions task.
type Conversion struct {
	// Stage is StageSold, StageReturned or StageConverted.
	Stage string `json:"stage" dynamodbav:"stage"`
	// PlatformLeadID is the lead's id on the platform (Meta's leadgen id).
	PlatformLeadID string `json:"platform_lead_id" dynamodbav:"platform_lead_id"`
	// At is when the stage was reached (the event_time sent).
	At time.Time `json:"at" dynamodbav:"at"`
	// Key makes the conversion unique within the lead: the round of the
	// sale, the index of the returned sale, the reporting buyer.
	Key string `json:"key" dynamodbav:"key"`
	// SentAt is when the platform took it; zero while queued.
	SentAt time.Time `json:"sent_at,omitzero" dynamodbav:"sent_at,omitempty"`
	// Failed says why the platform refused it, or why it was dropped
	// (too old to send); empty while queued and once sent.
	Failed string `json:"failed,omitempty" dynamodbav:"failed,omitempty"`
}
