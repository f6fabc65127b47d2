package scoring

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
)

func TestBlend(t *testing.T) {
	tests := []struct {
		labels, minLabels int
		want              float64
	}{
		{0, 200, 0},
		{199, 200, 0},
		{200, 200, 1.0 / 3},
		{400, 200, 0.5},
		{800, 200, 2.0 / 3},
		{1599, 200, 1599.0 / 1999},
		{1600, 200, MaxBlend},
		{1_000_000, 200, MaxBlend},
		{199, 0, 0},
		{config.DefaultMinLabels, 0, 1.0 / 3},
		{1, 1, 1.0 / 3},
	}
	for _, tt := range tests {
		if got := Blend(tt.labels, tt.minLabels); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("Blend(%d, %d) = %v, want %v", tt.labels, tt.minLabels, got, tt.want)
		}
	}
}

// scoreInput is a lead of featureCampaign with a clean phone and email.
func scoreInput() Input {
	return Input{
		Campaign: featureCampaign(), Source: "aff", SubID: "s1",
		Fields: map[string]any{"first_name": "Ana", "phone": "+14158921234", "email": "ana@gmail.com",
			"state": "CA", "credit": "good", "home_owner": "yes"},
		At: time.Date(2025, 3, 4, 18, 0, 0, 0, time.UTC),
	}
}

func TestScore(t *testing.T) {
	in := scoreInput()
	sigs := Signals(in)
	rule := RuleScore(sigs)
	m := modelWith(-1, map[string]float64{"src=aff": 2, "f:credit=good": 0.5, "state=CA": -0.25})
	p, terms := m.Predict(Features(in, sigs))

	tests := []struct {
		name      string
		m         *Model
		minLabels int
		share     float64
	}{
		{"no model", nil, 200, 0},
		{"too few labels", withLabels(m, 199), 200, 0},
		{"too few labels for the default", withLabels(m, 199), 0, 0},
		{"at min labels", withLabels(m, 200), 200, 1.0 / 3},
		{"many labels", withLabels(m, 5000), 200, MaxBlend},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Score(in, tt.m, tt.minLabels)
			if d.Rule != rule || len(d.Signals) != len(sigs) {
				t.Errorf("rule %d with %d signals, want %d with %d", d.Rule, len(d.Signals), rule, len(sigs))
			}
			if tt.share == 0 {
				if d.Score != rule || d.Model != nil {
					t.Errorf("score %d, model %+v; want the rule score %d alone", d.Score, d.Model, rule)
				}
				return
			}
			want := int(math.Round((1-tt.share)*float64(rule) + tt.share*100*p))
			if d.Score != want {
				t.Errorf("score %d, want %d (rule %d, p %.3f, share %.2f)", d.Score, want, rule, p, tt.share)
			}
			if d.Model == nil || d.Model.Probability != p || d.Model.Blend != tt.share || d.Model.Version != tt.m.Version || len(d.Model.Terms) != len(terms) {
				t.Errorf("model part %+v, want p %v, blend %v, version %d, %d terms", d.Model, p, tt.share, tt.m.Version, len(terms))
			}
		})
	}
}

func TestScoreBounded(t *testing.T) {
	in := scoreInput()
	for _, w := range []float64{-100, 100} {
		m := withLabels(modelWith(0, map[string]float64{"src=aff": w}), 1_000_000)
		if d := Score(in, m, 1); d.Score < 0 || d.Score > 100 {
			t.Errorf("weight %v: score %d out of 0-100", w, d.Score)
		}
	}
}

func withLabels(m *Model, labels int) *Model {
	c := m.clone()
	c.Labels, c.Version = labels, 3
	return c
}

func BenchmarkScore(b *testing.B) {
	ex := randomExamples(rand.New(rand.NewPCG(1, 1)), 5000, 200)
	m, _ := Train(nil, "auto", ex, TrainOptions{})
	in := scoreInput()
	in.Velocity = Velocity{Phone: 1}
	b.ReportAllocs()
	for b.Loop() {
		Score(in, m, 200)
	}
}
