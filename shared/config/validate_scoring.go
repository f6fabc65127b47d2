package config

import (
	"fmt"
	"time"
)

// maxVelocityWindow matches the store's (its hourly buckets are kept that
// long).
const maxVelocityWindow = 72 * time.Hour

// scoring checks a campaign's scoring settings.
func (k *checker) scoring(p string, cp *Campaign) {
	sc := cp.Scoring
	if w := sc.VelocityWindow.D(); w < 0 || w > maxVelocityWindow {
		k.add(p+".scoring.velocity_window", CodeInvalid, "velocity_window must be 1h to 72h (0: 24h)")
	} else if w > 0 && w < time.Hour {
		k.add(p+".scoring.velocity_window", CodeInvalid, "velocity_window must be 1h to 72h (0: 24h): velocity is counted by the hour")
	}
	if sc.MinLabels < 0 {
		k.add(p+".scoring.min_labels", CodeInvalid, "min_labels must not be negative (0: %d)", DefaultMinLabels)
	}
	for _, f := range []struct{ name, value string }{{"consent_field", sc.ConsentField}, {"ip_field", sc.IPField}} {
		if f.value != "" && !idPattern.MatchString(f.value) {
			k.add(p+".scoring."+f.name, CodeInvalid, "field name %q: use letters, digits, '.', '_' and '-'", f.value)
		}
	}
}

// score checks a 0-100 score setting.
func (k *checker) score(path string, v int) {
	if v < 0 || v > 100 {
		k.add(path, CodeInvalid, "a score is 0 to 100 (0: none)")
	}
}

// feedback checks the feedback loops.
func (k *checker) feedback(fb Feedback) {
	switch v := fb.SlackURL; {
	case IsSecretRef(v):
		k.add("feedback.slack_url", CodeInvalid, "the loops' Slack URL takes a value (sealed when stored), not an ssm: reference: the admin function reads no parameters")
	case !isSecretToken(v):
		k.url("feedback.slack_url", v, false)
	}
	rate := func(path string, r float64) {
		if r < 0 || r > 1 {
			k.add(path, CodeInvalid, "a rate is 0 to 1 (0.25 is 25%%)")
		}
	}
	if s := fb.Sources; s != nil {
		p := "feedback.sources"
		if s.Window.D() < time.Hour {
			k.add(p+".window", CodeInvalid, "the loop's window must be at least 1h (7d is usual)")
		}
		if s.MinSold < 0 {
			k.add(p+".min_sold", CodeInvalid, "min_sold must not be negative")
		}
		rate(p+".max_return_rate", s.MaxReturnRate)
		rate(p+".max_fraud_rate", s.MaxFraudRate)
		rate(p+".restore_below", s.RestoreBelow)
		if s.MaxReturnRate == 0 && s.MaxFraudRate == 0 {
			k.add(p, CodeRequired, "set max_return_rate, max_fraud_rate or both: the loop judges sources by them")
		}
	}
	if o := fb.Orders; o != nil {
		p := "feedback.orders"
		if o.Window.D() < time.Hour {
			k.add(p+".window", CodeInvalid, "the loop's window must be at least 1h (24h is usual)")
		}
		if o.MinOffers < 0 {
			k.add(p+".min_offers", CodeInvalid, "min_offers must not be negative")
		}
		rate(p+".min_acceptance", o.MinAcceptance)
		rate(p+".restore_above", o.RestoreAbove)
		if o.MinAcceptance == 0 {
			k.add(p+".min_acceptance", CodeRequired, "min_acceptance is what the loop judges orders by")
		}
	}
}

// loopState checks what the feedback loop left in a source or order.
func (k *checker) sourceLoopState(p string, s *Source) {
	if s.PausedBy != "" && s.PausedBy != PausedByFeedback {
		k.add(p+".paused_by", CodeInvalid, "paused_by %q: only the feedback loop sets it (%q)", s.PausedBy, PausedByFeedback)
	}
	seen := map[string]bool{}
	for i, sub := range s.PausedSubIDs {
		if sub == "" || !idPattern.MatchString(sub) || seen[sub] {
			k.add(fmt.Sprintf("%s.paused_sub_ids[%d]", p, i), CodeInvalid, "sub-id %q: letters, digits, '.', '_' and '-', once each", sub)
		}
		seen[sub] = true
	}
	k.score(p+".reject_below", s.RejectBelow)
}

// PausedByFeedback marks what the feedback loop paused.
const PausedByFeedback = "feedback"
