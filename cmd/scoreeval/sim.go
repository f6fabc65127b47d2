package main

import (
	"math/rand/v2"
	"slices"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/feedback"
	"github.com/leadrelay/leadrelay/shared/scoring"
)

// The simulation. Leads arrive in time order. Each is scored with the
// campaign's model as it was then (no peeking), routed, and sold; what
// became of it (its events) is known some days later, when its label joins
// the next daily training, which continues the model online. Two buyers:
//
//   - premium pays premiumPrice a lead, up to a daily cap, in the states it
//     serves; it returns most bad leads (and fraud) for a refund, and reports
//     conversions;
//   - cheap pays cheapPrice for any lead with a phone, returns only fraud,
//     and reports a little.
//
// Sources are paid their cost for every lead accepted. A policy may set the
// premium order's min_score, and may run the source feedback loop
// (feedback.Evaluate, daily over a trailing window), which pauses a source
// or sub-id whose return or fraud rate is over the limit: its leads are then
// refused, neither paid for nor sold.

// Buyers' terms.
const (
	premiumPrice = 40.0
	cheapPrice   = 6.0
	// premiumCap is the premium buyer's daily cap, as a share of the
	// market's daily leads.
	premiumCap = 0.3
	// premiumReturns is the chance the premium buyer returns a bad lead;
	// fraudReturns the chance any buyer returns a fraud ring's lead.
	premiumReturns = 0.75
	fraudReturns   = 0.9
)

// premiumServes reports whether the premium buyer buys leads from state.
func premiumServes(state string) bool {
	switch state {
	case "NY", "NJ", "MA", "MI", "NV":
		return false
	}
	return true
}

// policy is how a run routes.
type policy struct {
	name string
	// minScore is the premium order's min_score (0: none).
	minScore int
	// loop runs the source feedback loop.
	loop bool
}

// simOptions tune a run.
type simOptions struct {
	minLabels int
	train     scoring.TrainOptions
	feedback  config.Feedback
}

// record is what a run saw of one lead when it arrived.
type record struct {
	rule  int
	score int
	// p is the model's probability, when there was a model; labels how
	// many labels it had learned from.
	p      float64
	model  bool
	labels int
	// refused: a paused source's lead.
	refused bool
}

// money is a run's takings.
type money struct {
	premium, cheap, rejected, refused int
	returned, fraud                   int
	revenue, refunds, cost            float64
	pauses, restores                  int
}

func (m money) net() float64    { return m.revenue - m.refunds }
func (m money) profit() float64 { return m.revenue - m.refunds - m.cost }

// run is one simulation's result.
type run struct {
	records []record
	money   money
	model   *scoring.Model
}

// pending is a sold or rejected lead whose outcome is not known yet.
type pending struct {
	known   time.Time
	example scoring.Example
	// sale, for the feedback loop's window: when it sold (zero if not),
	// and whether it came back.
	source          int
	subID           string
	soldAt          time.Time
	returned, fraud bool
}

// simulate runs the leads through a policy.
func simulate(seed uint64, mk *market, leads []*lead, pol policy, opt simOptions) run {
	camp := campaign()
	out := run{records: make([]record, len(leads))}
	if len(leads) == 0 {
		return out
	}
	start := leads[0].at.Truncate(24 * time.Hour)
	days := int(leads[len(leads)-1].at.Sub(start)/(24*time.Hour)) + 1
	capPerDay := int(premiumCap * float64(len(leads)) / float64(days))
	var (
		m          *scoring.Model
		queue      []pending // outcomes not yet known
		sales      []pending // sales in the loop's window
		paused     = map[string]bool{}
		vel        = newVelocity(time.Duration(config.DefaultVelocityWindow))
		nextDay    = start.Add(24 * time.Hour)
		premiumDay int
	)
	// daily trains on the outcomes known by now and runs the loop.
	daily := func(now time.Time) {
		var batch []scoring.Example
		rest := queue[:0]
		for _, q := range queue {
			if q.known.After(now) {
				rest = append(rest, q)
				continue
			}
			batch = append(batch, q.example)
		}
		queue = rest
		if len(batch) > 0 {
			opt.train.Now = now
			m, _ = scoring.Train(m, camp.ID, batch, opt.train)
		}
		if pol.loop && opt.feedback.Sources != nil {
			from := now.Add(-time.Duration(opt.feedback.Sources.Window))
			sales = slices.DeleteFunc(sales, func(q pending) bool { return q.soldAt.Before(from) })
			stats := loopStats(mk, sales, now)
			for _, a := range feedback.Evaluate(opt.feedback, stats, nil, feedback.State{Paused: paused}) {
				key := feedback.SourceKey(a.Source, a.SubID)
				switch a.Kind {
				case feedback.PauseSource:
					paused[key] = true
					out.money.pauses++
				case feedback.RestoreSource:
					delete(paused, key)
					out.money.restores++
				}
			}
		}
	}
	for i, l := range leads {
		for !l.at.Before(nextDay) {
			daily(nextDay)
			nextDay = nextDay.Add(24 * time.Hour)
			premiumDay = 0
		}
		spec := &mk.sources[l.source]
		in := scoring.Input{
			Campaign: camp, Source: spec.name, SubID: l.subID, Fields: l.fields,
			At: l.at, Zone: l.zone, Velocity: vel.count(l),
		}
		d := scoring.Score(in, m, opt.minLabels)
		rec := record{rule: d.Rule, score: d.Score}
		if m != nil {
			rec.p, _ = m.Predict(scoring.Features(in, d.Signals))
			rec.model, rec.labels = true, m.Labels
		}
		if pol.loop && (paused[spec.name] || paused[feedback.SourceKey(spec.name, l.subID)]) {
			rec.refused = true
			out.records[i] = rec
			out.money.refused++
			continue
		}
		out.records[i] = rec
		vel.add(l)
		out.money.cost += spec.cost

		r := rand.New(rand.NewPCG(seed^0x5eed, uint64(l.id)))
		q := pending{source: l.source, subID: l.subID}
		var events []string
		state, _ := l.fields["state"].(string)
		switch {
		case l.phone != "" && premiumServes(state) && d.Score >= pol.minScore && premiumDay < capPerDay:
			premiumDay++
			out.money.premium++
			out.money.revenue += premiumPrice
			q.soldAt = l.at
			events, q.returned, q.fraud = premiumOutcome(l, r)
			q.known = l.at.Add(time.Duration(3+r.IntN(8)) * 24 * time.Hour)
			if q.returned {
				out.money.refunds += premiumPrice
			}
		case l.phone != "":
			out.money.cheap++
			out.money.revenue += cheapPrice
			q.soldAt = l.at
			events, q.returned, q.fraud = cheapOutcome(l, r)
			q.known = l.at.Add(time.Duration(1+r.IntN(4)) * 24 * time.Hour)
			if q.returned {
				out.money.refunds += cheapPrice
			}
		default:
			out.money.rejected++
			events = []string{scoring.EventRejected}
			q.known = l.at
		}
		if q.returned {
			out.money.returned++
		}
		if q.fraud {
			out.money.fraud++
		}
		label, weight, ok := scoring.Label(events)
		if !ok {
			continue
		}
		q.example = scoring.Example{At: l.at, Features: scoring.Features(in, d.Signals), Rule: d.Rule, Label: label, Weight: weight}
		queue = append(queue, q)
		if pol.loop && !q.soldAt.IsZero() {
			sales = append(sales, q)
		}
	}
	out.model = m
	return out
}

// premiumOutcome is what the premium buyer makes of a lead: a good lead
// converts (60%) or is qualified or contacted; a bad one is returned
// (premiumReturns; a ring's as fraud), else reported not converted (70%),
// else kept in silence.
func premiumOutcome(l *lead, r *rand.Rand) (events []string, returned, fraud bool) {
	events = []string{scoring.EventSold}
	switch {
	case l.good:
		switch x := r.Float64(); {
		case x < 0.6:
			events = append(events, scoring.EventConverted)
		case x < 0.8:
			events = append(events, scoring.EventQualified)
		default:
			events = append(events, scoring.EventContacted)
		}
	case l.ring >= 0 && r.Float64() < fraudReturns:
		return append(events, scoring.EventReturnedFraud), true, true
	case r.Float64() < premiumReturns:
		return append(events, scoring.EventReturned), true, false
	case r.Float64() < 0.7:
		events = append(events, scoring.EventNotConverted)
	}
	return events, false, false
}

// cheapOutcome is what the cheap buyer makes of a lead: it returns fraud
// rings' leads, reports half the good leads contacted and a third of the
// bad ones not converted, and says nothing of the rest.
func cheapOutcome(l *lead, r *rand.Rand) (events []string, returned, fraud bool) {
	events = []string{scoring.EventSold}
	switch {
	case l.ring >= 0 && r.Float64() < fraudReturns:
		return append(events, scoring.EventReturnedFraud), true, true
	case l.good && r.Float64() < 0.5:
		events = append(events, scoring.EventContacted)
	case !l.good && r.Float64() < 0.33:
		events = append(events, scoring.EventNotConverted)
	}
	return events, false, false
}

// loopStats counts, per source and per sub-id, the sales in the loop's
// window, and how many of them came back by now: as the platform counts,
// a sale when it is made, a return when the buyer makes it.
func loopStats(mk *market, sales []pending, now time.Time) []feedback.SourceStats {
	byKey := map[string]int{}
	var stats []feedback.SourceStats
	add := func(source, sub string, q pending) {
		key := feedback.SourceKey(source, sub)
		i, ok := byKey[key]
		if !ok {
			i = len(stats)
			byKey[key] = i
			stats = append(stats, feedback.SourceStats{Source: source, SubID: sub})
		}
		s := &stats[i]
		s.Sold++
		if q.returned && !q.known.After(now) {
			s.Returned++
			if q.fraud {
				s.Fraud++
			}
		}
	}
	for _, q := range sales {
		name := mk.sources[q.source].name
		add(name, "", q)
		if q.subID != "" {
			add(name, q.subID, q)
		}
	}
	return stats
}
