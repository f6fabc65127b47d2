package main

import (
	"fmt"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/scoring"
)

// defaultMinScore is the premium order's min_score when the policy sets
// one: the most profitable in the eval's sweep (docs/scoring.md).
const defaultMinScore = 70

// heldOut is the share of the leads, the latest, that scores are measured
// on.
const heldOut = 0.2

// startDay is the simulated market's first day.
func startDay() time.Time { return time.Date(2025, time.March, 3, 0, 0, 0, 0, time.UTC) }

// report is what an evaluation measured.
type report struct {
	cfg                 evalConfig
	days                int
	goodRate, ringShare float64
	heldOut             int
	// scores are the held-out figures of each score.
	scores []scoreRow
	// blends are the blended score's AUC at fixed shares.
	blends []blendRow
	// early is how many leads the early blends were measured on.
	early      int
	optimisers []optimiserRow
	policies   []policyRow
	// sweep is the min_score policy at other min_scores.
	sweep   []policyRow
	largest []scoring.Term
}

type scoreRow struct {
	name         string
	auc, logLoss float64
}

type blendRow struct {
	name string
	// share is the model's share for a model of so many labels.
	share             func(labels int) float64
	heldOut, earlyAUC float64
}

type optimiserRow struct {
	opt          scoring.TrainOptions
	auc, logLoss float64
}

type policyRow struct {
	pol   policy
	money money
}

// defaultOptions are the simulation's settings: the platform's defaults,
// and a source loop that judges sub-ids over a week.
func defaultOptions() simOptions {
	return simOptions{
		minLabels: config.DefaultMinLabels,
		feedback: config.Feedback{Sources: &config.SourceLoop{
			Window: config.Duration(7 * 24 * time.Hour), MinSold: 20,
			MaxReturnRate: 0.45, MaxFraudRate: 0.1, SubIDs: true,
		}},
	}
}

// measure generates the market and runs the simulations.
func measure(cfg evalConfig) report {
	days := max(10, cfg.leads/330)
	mk := newMarket(cfg.seed)
	leads := mk.generate(cfg.leads, days, startDay())
	r := report{cfg: cfg, days: days}
	cut := len(leads) - int(float64(len(leads))*heldOut)
	r.heldOut = len(leads) - cut

	var good, rings, goodBefore int
	truthP := make([]float64, 0, r.heldOut)
	labels := make([]bool, 0, r.heldOut)
	for i, l := range leads {
		if l.good {
			good++
			if i < cut {
				goodBefore++
			}
		}
		if l.ring >= 0 {
			rings++
		}
		if i >= cut {
			truthP = append(truthP, l.p)
			labels = append(labels, l.good)
		}
	}
	r.goodRate = float64(good) / float64(len(leads))
	r.ringShare = float64(rings) / float64(len(leads))

	opt := defaultOptions()
	off := simulate(cfg.seed, mk, leads, policy{name: "off"}, opt)
	held := off.records[cut:]
	model, blended, rule := make([]float64, len(held)), make([]float64, len(held)), make([]float64, len(held))
	for i, rec := range held {
		model[i] = rec.p
		blended[i] = float64(rec.score) / 100
		rule[i] = float64(rec.rule) / 100
	}
	constant := make([]float64, len(held))
	for i := range constant {
		constant[i] = float64(goodBefore) / float64(cut)
	}
	r.scores = []scoreRow{
		{"true probability (best possible)", scoring.AUC(truthP, labels), scoring.LogLoss(truthP, labels)},
		{"model", scoring.AUC(model, labels), scoring.LogLoss(model, labels)},
		{"blended score", scoring.AUC(blended, labels), scoring.LogLoss(clamp(blended), labels)},
		{"rule score", scoring.AUC(rule, labels), scoring.LogLoss(clamp(rule), labels)},
		{"constant", 0.5, scoring.LogLoss(constant, labels)},
	}
	r.blends, r.early = blendSweep(leads, off.records, cut, opt.minLabels)
	r.largest = off.model.Largest(12)

	optimisers := []scoring.TrainOptions{{Optimizer: scoring.FTRL}, {Optimizer: scoring.AdaGrad}}
	if cfg.tune {
		optimisers = optimisers[:0]
		for _, o := range []string{scoring.FTRL, scoring.AdaGrad} {
			for _, a := range []float64{0.05, 0.1, 0.2, 0.4} {
				for _, l1 := range []float64{-1, 0.5, 2} {
					optimisers = append(optimisers, scoring.TrainOptions{Optimizer: o, Alpha: a, L1: l1})
				}
			}
		}
	}
	for _, o := range optimisers {
		so := opt
		so.train = o
		res := off
		if o != (scoring.TrainOptions{Optimizer: scoring.FTRL}) {
			res = simulate(cfg.seed, mk, leads, policy{name: "off"}, so)
		}
		p := make([]float64, len(held))
		for i, rec := range res.records[cut:] {
			p[i] = rec.p
		}
		r.optimisers = append(r.optimisers, optimiserRow{opt: o, auc: scoring.AUC(p, labels), logLoss: scoring.LogLoss(p, labels)})
	}

	r.policies = append(r.policies, policyRow{pol: policy{name: "off"}, money: off.money})
	for _, pol := range []policy{
		{name: "min_score", minScore: cfg.minScore},
		{name: "source loop", loop: true},
		{name: "min_score + source loop", minScore: cfg.minScore, loop: true},
	} {
		r.policies = append(r.policies, policyRow{pol: pol, money: simulate(cfg.seed, mk, leads, pol, opt).money})
	}
	for _, ms := range []int{40, 50, 60, 65, 70, 75, 80} {
		pol := policy{name: fmt.Sprintf("min_score %d", ms), minScore: ms}
		res := r.policies[1].money
		if ms != cfg.minScore {
			res = simulate(cfg.seed, mk, leads, pol, opt).money
		}
		r.sweep = append(r.sweep, policyRow{pol: pol, money: res})
	}
	return r
}

// blendSweep measures the blended score at fixed shares, and with shares
// that grow with the labels as candidate rules for scoring.Blend do: on the
// held-out leads, and on the early leads, scored while the model had learned
// from minLabels to 4*minLabels labels.
func blendSweep(leads []*lead, recs []record, cut, minLabels int) ([]blendRow, int) {
	var early []int
	for i, rec := range recs {
		if rec.model && rec.labels >= minLabels && rec.labels < 4*minLabels {
			early = append(early, i)
		}
	}
	grows := func(most float64, k int) func(int) float64 {
		return func(labels int) float64 {
			return min(most, float64(labels)/float64(labels+k*minLabels))
		}
	}
	var rows []blendRow
	for _, share := range []float64{0, 0.2, 0.4, 0.5, 0.6, 0.8, 1} {
		rows = append(rows, blendRow{name: fmt.Sprintf("%.1f", share), share: func(int) float64 { return share }})
	}
	rows = append(rows,
		blendRow{name: "L/(L+2m), at most 0.8 (Blend)", share: func(l int) float64 { return scoring.Blend(l, minLabels) }},
		blendRow{name: "L/(L+m), at most 0.8", share: grows(0.8, 1)},
		blendRow{name: "L/(L+m), at most 0.6", share: grows(0.6, 1)},
	)
	for i := range rows {
		row := &rows[i]
		score := func(rec record) float64 {
			share := row.share(rec.labels)
			return (1-share)*float64(rec.rule) + share*100*rec.p
		}
		var s []float64
		var l []bool
		for i := cut; i < len(recs); i++ {
			s, l = append(s, score(recs[i])), append(l, leads[i].good)
		}
		row.heldOut = scoring.AUC(s, l)
		s, l = s[:0], l[:0]
		for _, i := range early {
			s, l = append(s, score(recs[i])), append(l, leads[i].good)
		}
		row.earlyAUC = scoring.AUC(s, l)
	}
	return rows, len(early)
}

// clamp keeps probabilities read off a score away from 0 and 1.
func clamp(p []float64) []float64 {
	out := make([]float64, len(p))
	for i, x := range p {
		out[i] = max(0.01, min(0.99, x))
	}
	return out
}
