package config

import (
	"errors"
	"strings"
	"testing"
)

// Scoring and feedback settings are checked like the rest: each bad value
// is refused with its field.
func TestScoringAndFeedbackProblems(t *testing.T) {
	base := string(mustRead(t, "testdata/design.yaml"))
	loops := "feedback:\n  sources: {window: 168h, min_sold: 20, max_return_rate: 0.25}\n  orders: {window: 24h, min_acceptance: 0.3}\n"
	cases := []struct {
		name, old, new, field, code string
	}{
		{"velocity window too long", "max_sales: 1 ", "max_sales: 1\n    scoring: {velocity_window: 96h}\n   ", "campaigns[0].scoring.velocity_window", CodeInvalid},
		{"velocity window under an hour", "max_sales: 1 ", "max_sales: 1\n    scoring: {velocity_window: 10m}\n   ", "campaigns[0].scoring.velocity_window", CodeInvalid},
		{"negative min_labels", "max_sales: 1 ", "max_sales: 1\n    scoring: {min_labels: -1}\n   ", "campaigns[0].scoring.min_labels", CodeInvalid},
		{"bad consent field", "max_sales: 1 ", "max_sales: 1\n    scoring: {consent_field: 'trusted form'}\n   ", "campaigns[0].scoring.consent_field", CodeInvalid},
		{"reject_below over 100", "payout: {type: fixed, amount: 4.00}", "payout: {type: fixed, amount: 4.00}\n    reject_below: 101", "sources[0].reject_below", CodeInvalid},
		{"paused_by by hand", "payout: {type: fixed, amount: 4.00}", "payout: {type: fixed, amount: 4.00}\n    status: paused\n    paused_by: me", "sources[0].paused_by", CodeInvalid},
		{"bad paused sub-id", "payout: {type: fixed, amount: 4.00}", "payout: {type: fixed, amount: 4.00}\n    paused_sub_ids: ['a b']", "sources[0].paused_sub_ids[0]", CodeInvalid},
		{"min_score over 100", "return_window: 72h", "return_window: 72h\n        min_score: 120", "buyers[0].orders[0].min_score", CodeInvalid},
		{"score adjustment factor", "return_window: 72h", "return_window: 72h\n        score_adjustments: [{min_score: 80, factor: 0}]", "buyers[0].orders[0].score_adjustments[0].factor", CodeInvalid},
		{"negative demotion", "return_window: 72h", "return_window: 72h\n        demoted: {priority: -1, weight: 1}", "buyers[0].orders[0].demoted", CodeInvalid},
		{"loop window", "campaigns:", strings.Replace(loops, "168h", "10m", 1) + "campaigns:", "feedback.sources.window", CodeInvalid},
		{"loop without a limit", "campaigns:", strings.Replace(loops, ", max_return_rate: 0.25", "", 1) + "campaigns:", "feedback.sources", CodeRequired},
		{"rate over 1", "campaigns:", strings.Replace(loops, "0.25", "25", 1) + "campaigns:", "feedback.sources.max_return_rate", CodeInvalid},
		{"orders without min_acceptance", "campaigns:", strings.Replace(loops, ", min_acceptance: 0.3", "", 1) + "campaigns:", "feedback.orders.min_acceptance", CodeRequired},
		{"slack reference", "campaigns:", loops + "  slack_url: ssm:/leadrelay/slack\ncampaigns:", "feedback.slack_url", CodeInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := strings.Replace(base, c.old, c.new, 1)
			if doc == base {
				t.Fatalf("replacement %q not found", c.old)
			}
			_, err := Parse([]byte(doc))
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("want *Error, got %v", err)
			}
			for _, p := range ce.Problems {
				if p.Field == c.field && p.Code == c.code {
					return
				}
			}
			t.Fatalf("got %+v; want field %q code %q", ce.Problems, c.field, c.code)
		})
	}
	// The same settings, good, parse; a resumed source loses the loop's mark.
	good := strings.Replace(base, "campaigns:", loops+"campaigns:", 1)
	good = strings.Replace(good, "max_sales: 1 ", "max_sales: 1\n    scoring: {velocity_window: 48h, min_labels: 50}\n   ", 1)
	good = strings.Replace(good, "payout: {type: fixed, amount: 4.00}", "payout: {type: fixed, amount: 4.00}\n    reject_below: 30\n    paused_by: feedback", 1)
	good = strings.Replace(good, "return_window: 72h", "return_window: 72h\n        min_score: 60\n        score_adjustments: [{min_score: 80, factor: 1.2}]", 1)
	c, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if c.Sources[0].PausedBy != "" || c.Sources[0].RejectBelow != 30 || c.Feedback.Sources.MaxReturnRate != 0.25 ||
		c.Campaigns[0].Scoring.MinLabels != 50 || c.Buyers[0].Orders[0].ScoreAdjustments[0].Factor != 1.2 {
		t.Fatalf("parsed %+v", c)
	}
}
