package scoring

import (
	"math"

	"github.com/leadrelay/leadrelay/shared/config"
)

// MaxBlend is the most of a score the model may make: the rule score keeps
// a fifth, so that a lead's plain faults (a disposable address, a number
// seen across sources) always cost it points, whatever the model learned.
const MaxBlend = 0.8

// Blend is the model's share of the score once it has learned from labels
// labelled leads: nothing under minLabels, then labels/(labels+2*minLabels),
// at most MaxBlend. The share is a third when the model takes part (labels
// = minLabels), a half at twice that, two thirds at four times, and
// MaxBlend from eight times on: on the eval (cmd/scoreeval), a young model
// ranks leads better with a smaller share than labels/(labels+minLabels)
// would give it, and a mature one as well with 0.6 to 1. minLabels under 1
// is config.DefaultMinLabels.
func Blend(labels, minLabels int) float64 {
	if minLabels < 1 {
		minLabels = config.DefaultMinLabels
	}
	if labels < minLabels {
		return 0
	}
	return min(MaxBlend, float64(labels)/float64(labels+2*minLabels))
}

// Score scores a lead: its signals make the rule score, and the campaign's
// model m, once it has learned from at least minLabels labelled leads
// (config.DefaultMinLabels when minLabels is under 1), makes its share of
// the score (Blend):
//
//	score = round((1-share)*rule + share*100*p)
//
// held to 0-100, where p is the model's probability of a good outcome.
// Without a model, or with one that has learned too little, the rule score
// is the score and Detail.Model is nil.
func Score(in Input, m *Model, minLabels int) Detail {
	sigs := Signals(in)
	rule := RuleScore(sigs)
	d := Detail{Score: rule, Rule: rule, Signals: sigs}
	if m == nil {
		return d
	}
	share := Blend(m.Labels, minLabels)
	if share == 0 {
		return d
	}
	p, terms := m.Predict(Features(in, sigs))
	s := (1-share)*float64(rule) + share*100*p
	d.Score = int(math.Round(max(0, min(100, s))))
	d.Model = &ModelPart{Version: m.Version, Probability: p, Blend: share, Terms: terms}
	return d
}
