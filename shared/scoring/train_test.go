package scoring

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

func TestUpdate(t *testing.T) {
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ex := func(label bool, weight float64) Example {
		return Example{At: at, Features: []string{"a"}, Label: label, Weight: weight}
	}
	// With Alpha 0.1 and Beta 1, the first step on a positive example of
	// weight 1 (p = 0.5, gradient -0.5) leaves FTRL with z = -0.5 and
	// n = 0.25, so w = 0.5/((1+0.5)/0.1 + L2) once |z| passes L1.
	tests := []struct {
		name     string
		opt      TrainOptions
		examples []Example
		bias, w  float64
	}{
		{"ftrl, no penalty", TrainOptions{L1: -1, L2: -1}, []Example{ex(true, 1)}, 0.5 / 15, 0.5 / 15},
		{"ftrl, negative", TrainOptions{L1: -1, L2: -1}, []Example{ex(false, 1)}, -0.5 / 15, -0.5 / 15},
		{"ftrl, L1 holds a weak weight at zero", TrainOptions{L1: 1, L2: -1}, []Example{ex(true, 1)}, 0.5 / 15, 0},
		{"ftrl, L2 shrinks it", TrainOptions{L1: -1, L2: 1}, []Example{ex(true, 1)}, 0.5 / 15, 0.5 / 16},
		{"ftrl, weight 3 passes L1", TrainOptions{L1: 1, L2: -1}, []Example{ex(true, 3)}, 1.5 / 25, 0.5 / 25},
		{"ftrl, weight 0 counts as 1", TrainOptions{L1: -1, L2: -1}, []Example{ex(true, 0)}, 0.5 / 15, 0.5 / 15},
		{
			"ftrl, two steps", TrainOptions{L1: -1, L2: -1},
			[]Example{ex(true, 1), {At: at.Add(time.Second), Features: []string{"a"}, Weight: 1}},
			0.0032771791987972914, 0.0032771791987972914,
		},
		{"adagrad, no penalty", TrainOptions{Optimizer: AdaGrad, L1: -1, L2: -1}, []Example{ex(true, 1)}, 0.5 / 15, 0.5 / 15},
		{
			"adagrad, L1 truncates", TrainOptions{Optimizer: AdaGrad, L1: 1, L2: -1}, []Example{ex(true, 1)},
			0.5 / 15, 0.5/15 - 0.1/1.5*adagradPenalty,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opt.Alpha, tt.opt.Beta = 0.1, 1
			m, _ := Train(nil, "c", tt.examples, tt.opt)
			if math.Abs(m.Bias-tt.bias) > 1e-9 {
				t.Errorf("bias = %v, want %v", m.Bias, tt.bias)
			}
			// Weights are kept at float32 precision.
			if w := m.Weights[Bucket("a")]; math.Abs(w-tt.w) > 1e-7 {
				t.Errorf("w = %v, want %v", w, tt.w)
			}
			if _, ok := m.Weights[Bucket("a")]; ok != (tt.w != 0) {
				t.Errorf("weight kept: %v, want %v (the model is sparse)", ok, tt.w != 0)
			}
			if m.Names[Bucket("a")] != "a" && tt.w != 0 {
				t.Errorf("the name of a's bucket is %q", m.Names[Bucket("a")])
			}
		})
	}
}

// TestSignedWeights is the property that a feature that always comes with
// a conversion gets a positive weight, and one that always comes with a
// lead that did not convert a negative one, on random datasets, whatever
// the other features and the share of conversions.
func TestSignedWeights(t *testing.T) {
	noEvents := [][]string{{"sold"}, {"sold", "contacted"}, {"rejected"}, {"sold", "returned"}}
	for _, optimizer := range []string{FTRL, AdaGrad} {
		for seed := range uint64(100) {
			rng := rand.New(rand.NewPCG(seed, 7))
			n := 40 + rng.IntN(400)
			share := 0.1 + 0.8*rng.Float64()
			at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
			var ex []Example
			var converted, lost int
			for i := range n {
				var features []string
				for range 1 + rng.IntN(6) {
					features = append(features, fmt.Sprintf("noise=%d", rng.IntN(30)))
				}
				var events []string
				switch r := rng.Float64(); {
				case r < share:
					events = []string{"sold", "converted"}
					features = append(features, "conv")
					converted++
				case r < share+(1-share)/2:
					events = []string{"sold", "not_converted"}
					features = append(features, "lost")
					lost++
				default:
					events = noEvents[rng.IntN(len(noEvents))]
				}
				rng.Shuffle(len(features), func(i, j int) { features[i], features[j] = features[j], features[i] })
				label, weight, _ := Label(events)
				ex = append(ex, Example{At: at.Add(time.Duration(i) * time.Minute), Features: features, Label: label, Weight: weight})
			}
			if converted < 5 || lost < 5 {
				continue
			}
			m, _ := Train(nil, "c", ex, TrainOptions{Optimizer: optimizer})
			if w := m.Weights[Bucket("conv")]; w <= 0 {
				t.Errorf("%s, seed %d (%d examples, %d converted): conv weighs %v, want > 0", optimizer, seed, n, converted, w)
			}
			if w := m.Weights[Bucket("lost")]; w >= 0 {
				t.Errorf("%s, seed %d (%d examples, %d not converted): lost weighs %v, want < 0", optimizer, seed, n, lost, w)
			}
		}
	}
}

func TestTrainVersionsAndLabels(t *testing.T) {
	ex := randomExamples(rand.New(rand.NewPCG(1, 1)), 1000, 10)
	first, met := Train(nil, "auto", ex[:600], TrainOptions{})
	if first.Version != 1 || first.Labels != 600 || first.Campaign != "auto" {
		t.Errorf("first model: version %d, labels %d, campaign %q", first.Version, first.Labels, first.Campaign)
	}
	if met != first.Metrics || met.N != 600 || met.HeldOut != 120 {
		t.Errorf("metrics %+v (model's %+v), want N 600 and 120 held out", met, first.Metrics)
	}
	before := first.clone()
	second, _ := Train(first, "auto", ex[600:], TrainOptions{})
	if second.Version != 2 || second.Labels != 1000 {
		t.Errorf("second model: version %d, labels %d, want 2 and 1000", second.Version, second.Labels)
	}
	if !reflect.DeepEqual(first, before) {
		t.Error("Train changed the model it continued from")
	}
	// Online: training on in two batches is (nearly) training on all at
	// once; the difference is what compacting between them rounded.
	all, _ := Train(nil, "auto", ex, TrainOptions{})
	for _, e := range ex[:100] {
		p1, _ := all.Predict(e.Features)
		p2, _ := second.Predict(e.Features)
		if math.Abs(p1-p2) > 1e-3 {
			t.Fatalf("Predict(%q): %v trained at once, %v trained in two batches", e.Features, p1, p2)
		}
	}
	// A model from another optimiser is started over.
	other, _ := Train(first, "auto", ex[600:], TrainOptions{Optimizer: AdaGrad})
	fresh, _ := Train(nil, "auto", ex[600:], TrainOptions{Optimizer: AdaGrad})
	if other.Version != 2 || !reflect.DeepEqual(other.Weights, fresh.Weights) {
		t.Error("continuing an FTRL model with AdaGrad did not start its weights over")
	}
}

func TestTrainSortsByTime(t *testing.T) {
	ex := randomExamples(rand.New(rand.NewPCG(4, 1)), 800, 10)
	shuffled := append([]Example(nil), ex...)
	rand.New(rand.NewPCG(5, 5)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	now := time.Unix(1e9, 0)
	a, ma := Train(nil, "c", ex, TrainOptions{Now: now})
	b, mb := Train(nil, "c", shuffled, TrainOptions{Now: now})
	if !reflect.DeepEqual(a, b) || ma != mb {
		t.Error("the examples' order changed the model: Train must learn in time order")
	}
}

func TestTrainMetrics(t *testing.T) {
	// The label follows the source; the rule score is noise.
	ex := randomExamples(rand.New(rand.NewPCG(6, 1)), 4000, 5)
	_, met := Train(nil, "c", ex, TrainOptions{})
	if met.N != 4000 || met.HeldOut != 800 {
		t.Errorf("N %d, held out %d, want 4000 and 800", met.N, met.HeldOut)
	}
	positives := 0
	for _, e := range ex {
		if e.Label {
			positives++
		}
	}
	if met.Positives != positives {
		t.Errorf("positives %d, want %d", met.Positives, positives)
	}
	if met.AUC < 0.65 || met.AUC < met.RuleAUC+0.1 {
		t.Errorf("AUC %.3f, rule AUC %.3f: the model learned nothing", met.AUC, met.RuleAUC)
	}
	if met.LogLoss >= met.ConstantLogLoss {
		t.Errorf("log loss %.3f, constant's %.3f: want the model better", met.LogLoss, met.ConstantLogLoss)
	}
	if _, met := Train(nil, "c", nil, TrainOptions{}); met != (Metrics{}) {
		t.Errorf("no examples: metrics %+v, want none", met)
	}
}

func TestAUC(t *testing.T) {
	T, F := true, false
	tests := []struct {
		name   string
		scores []float64
		labels []bool
		want   float64
	}{
		{"perfect", []float64{1, 2, 3, 4}, []bool{F, F, T, T}, 1},
		{"reversed", []float64{4, 3, 2, 1}, []bool{F, F, T, T}, 0},
		{"three pairs of four", []float64{0.1, 0.4, 0.35, 0.8}, []bool{F, F, T, T}, 0.75},
		{"a tie counts half", []float64{1, 1, 2}, []bool{T, F, T}, 0.75},
		{"all tied", []float64{5, 5, 5, 5}, []bool{T, F, T, F}, 0.5},
		{"one class", []float64{1, 2}, []bool{T, T}, 0.5},
		{"empty", nil, nil, 0.5},
	}
	for _, tt := range tests {
		if got := AUC(tt.scores, tt.labels); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("%s: AUC = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestAUCPairs holds AUC to its definition, counted pair by pair, on random
// scores with many ties.
func TestAUCPairs(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for range 200 {
		n := 1 + rng.IntN(60)
		scores, labels := make([]float64, n), make([]bool, n)
		for i := range n {
			scores[i], labels[i] = float64(rng.IntN(6)), rng.IntN(3) == 0
		}
		var wins, pairs float64
		for i := range n {
			for j := range n {
				if !labels[i] || labels[j] {
					continue
				}
				pairs++
				switch {
				case scores[i] > scores[j]:
					wins++
				case scores[i] == scores[j]:
					wins += 0.5
				}
			}
		}
		want := 0.5
		if pairs > 0 {
			want = wins / pairs
		}
		if got := AUC(scores, labels); math.Abs(got-want) > 1e-9 {
			t.Fatalf("AUC(%v, %v) = %v, want %v", scores, labels, got, want)
		}
	}
}

func TestLogLoss(t *testing.T) {
	if got := LogLoss([]float64{0.5, 0.5}, []bool{true, false}); math.Abs(got-math.Ln2) > 1e-12 {
		t.Errorf("LogLoss of a coin = %v, want ln 2", got)
	}
	if got := LogLoss([]float64{0.9}, []bool{false}); math.Abs(got+math.Log(0.1)) > 1e-12 {
		t.Errorf("LogLoss(0.9, false) = %v, want -ln 0.1", got)
	}
	if got := LogLoss([]float64{0}, []bool{true}); math.IsInf(got, 0) || got < 30 {
		t.Errorf("LogLoss(0, true) = %v, want large and finite", got)
	}
	if got := LogLoss(nil, nil); got != 0 {
		t.Errorf("LogLoss of nothing = %v, want 0", got)
	}
}

func BenchmarkTrain(b *testing.B) {
	ex := randomExamples(rand.New(rand.NewPCG(1, 1)), 1000, 100)
	b.ReportAllocs()
	for b.Loop() {
		Train(nil, "c", ex, TrainOptions{})
	}
}
