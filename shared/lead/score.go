package lead

import (
	"time"

	"github.com/leadrelay/leadrelay/shared/money"
)

// A lead's score and what made it (package scoring computes them; they
// live here so that every function that reads a lead can carry them
// without linking the scorer).

// Signal is one thing the scoring rules read from a lead, and what it did
// to the rule score.
type Signal struct {
	// Name is the signal ("phone_type", "email_domain", "velocity",
	// "completeness", "hour", "consent").
	Name string `json:"name" dynamodbav:"name"`
	// Value is what the lead showed ("mobile", "disposable", "3", …).
	Value string `json:"value" dynamodbav:"value"`
	// Points is what the signal added to (or took from) the rule score.
	Points float64 `json:"points" dynamodbav:"points"`
	// Why says it in words, when the lead is scored (a refusal names it);
	// it is not stored: name, value and points say it in the lead's item,
	// which must stay under 1 KB.
	Why string `json:"why,omitempty" dynamodbav:"-"`
}

// Term is one model feature's contribution to a lead's score: its weight
// times its value, in log-odds.
type Term struct {
	Feature string  `json:"feature" dynamodbav:"feature"`
	Weight  float64 `json:"weight" dynamodbav:"weight"`
}

// ScoreDetail is a lead's score and what made it: stored with the lead
// and shown on the admin lead view as score_detail.
type ScoreDetail struct {
	Score int `json:"score" dynamodbav:"score"`
	// Rule is the signals' rule score (0-100).
	Rule    int      `json:"rule" dynamodbav:"rule"`
	Signals []Signal `json:"signals,omitempty" dynamodbav:"signals,omitempty"`
	// Model, when a model took part: its version, its probability of a
	// good outcome, its share of the blended score, and the terms that
	// moved it most.
	Model *ModelPart `json:"model,omitempty" dynamodbav:"model,omitempty"`
}

// ModelPart is a campaign model's share of a score.
type ModelPart struct {
	Version     int     `json:"version" dynamodbav:"version"`
	Probability float64 `json:"probability" dynamodbav:"probability"`
	// Blend is the model's share of the score (0-1): it grows with the
	// campaign's labelled leads.
	Blend float64 `json:"blend" dynamodbav:"blend"`
	Terms []Term  `json:"terms,omitempty" dynamodbav:"terms,omitempty"`
}

// Report is a buyer's report of what became of a lead it bought
// (POST /v1/outcomes): "contacted", "qualified", "converted" or
// "not_converted", with the deal's value when the buyer gives one.
type Report struct {
	Buyer string       `json:"buyer" dynamodbav:"buyer"`
	Event string       `json:"event" dynamodbav:"event"`
	Value money.Amount `json:"value,omitempty" dynamodbav:"value,omitempty"`
	At    time.Time    `json:"at" dynamodbav:"at"`
}

// Outcome events a buyer may report.
const (
	ReportContacted    = "contacted"
	ReportQualified    = "qualified"
	ReportConverted    = "converted"
	ReportNotConverted = "not_converted"
)

// ReportEvents are the outcome events a buyer may report, in order.
var ReportEvents = []string{ReportContacted, ReportQualified, ReportConverted, ReportNotConverted}
