package scoring

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// modelWith builds a model with the given feature weights.
func modelWith(bias float64, weights map[string]float64) *Model {
	m := &Model{Bias: bias, Weights: map[uint32]float64{}, Names: map[uint32]string{}}
	for f, w := range weights {
		m.Weights[Bucket(f)] = w
		m.Names[Bucket(f)] = f
	}
	return m
}

func TestBucket(t *testing.T) {
	// FNV-1a 32 of "" is its offset basis; of "a", 0xe40c292c.
	if got, want := Bucket(""), uint32(2166136261)&(1<<BucketBits-1); got != want {
		t.Errorf("Bucket(\"\") = %d, want %d", got, want)
	}
	if got, want := Bucket("a"), uint32(0xe40c292c)&(1<<BucketBits-1); got != want {
		t.Errorf("Bucket(\"a\") = %d, want %d", got, want)
	}
}

func TestPredict(t *testing.T) {
	m := modelWith(-0.5, map[string]float64{
		"src=a": 1, "src=b": -2, "hour=03": -0.25, "email=free": 0.1, "phone=mobile": 0.5,
		"consent=present": 0.75, "state=CA": -0.3,
	})
	tests := []struct {
		name      string
		features  []string
		logit     float64
		wantTerms []Term
	}{
		{"no features: the bias", nil, -0.5, nil},
		{"unknown features add nothing", []string{"src=zzz", "weekday=3"}, -0.5, nil},
		{"one", []string{"src=a"}, 0.5, []Term{{Feature: "src=a", Weight: 1}}},
		{
			"terms by magnitude, at most five",
			[]string{"email=free", "src=b", "hour=03", "phone=mobile", "consent=present", "state=CA", "src=zzz"},
			-0.5 + 0.1 - 2 - 0.25 + 0.5 + 0.75 - 0.3,
			[]Term{
				{Feature: "src=b", Weight: -2}, {Feature: "consent=present", Weight: 0.75},
				{Feature: "phone=mobile", Weight: 0.5}, {Feature: "state=CA", Weight: -0.3},
				{Feature: "hour=03", Weight: -0.25},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, terms := m.Predict(tt.features)
			if want := 1 / (1 + math.Exp(-tt.logit)); math.Abs(p-want) > 1e-12 {
				t.Errorf("p = %v, want %v", p, want)
			}
			if !reflect.DeepEqual(terms, tt.wantTerms) {
				t.Errorf("terms = %v, want %v", terms, tt.wantTerms)
			}
		})
	}
}

func TestPredictBounded(t *testing.T) {
	m := modelWith(0, map[string]float64{"x": 1000, "y": -1000})
	if p, _ := m.Predict([]string{"x"}); p >= 1 || p < 0.99 {
		t.Errorf("p = %v, want just under 1", p)
	}
	if p, _ := m.Predict([]string{"y"}); p <= 0 || p > 0.01 {
		t.Errorf("p = %v, want just over 0", p)
	}
}

func TestLargest(t *testing.T) {
	m := modelWith(3, map[string]float64{"a": 0.5, "b": -1.5, "c": 1, "d": -0.5})
	m.Weights[12345] = 2 // a bucket without a name
	want := []Term{{Feature: "#12345", Weight: 2}, {Feature: "b", Weight: -1.5}, {Feature: "c", Weight: 1}, {Feature: "a", Weight: 0.5}}
	if got := m.Largest(4); !reflect.DeepEqual(got, want) {
		t.Errorf("Largest(4) = %v, want %v", got, want)
	}
	if got := m.Largest(100); len(got) != 5 {
		t.Errorf("Largest(100) has %d terms, want all 5", len(got))
	}
	if got := m.Largest(0); got != nil {
		t.Errorf("Largest(0) = %v, want nil", got)
	}
}

// trainedModel trains a model on a random market of n examples with the
// given number of distinct sub-ids.
func trainedModel(t testing.TB, seed uint64, n, subs int) (*Model, []Example) {
	t.Helper()
	ex := randomExamples(rand.New(rand.NewPCG(seed, 1)), n, subs)
	m, _ := Train(nil, "c", ex, TrainOptions{Now: time.Unix(1e9, 0)})
	return m, ex
}

// randomExamples makes labelled examples whose label depends on a few of
// their features.
func randomExamples(rng *rand.Rand, n, subs int) []Example {
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ex := make([]Example, n)
	for i := range ex {
		src, sub, hour := rng.IntN(5), rng.IntN(subs), rng.IntN(24)
		z := float64(src-2)*0.6 - 0.5
		if hour < 6 {
			z--
		}
		label := rng.Float64() < 1/(1+math.Exp(-z))
		ex[i] = Example{
			At: at.Add(time.Duration(i) * time.Minute),
			Features: []string{
				fmt.Sprintf("src=s%d", src), fmt.Sprintf("sub=s%d/%d", src, sub), fmt.Sprintf("hour=%02d", hour),
			},
			Rule: 50 + rng.IntN(10), Label: label, Weight: 1,
		}
	}
	return ex
}

func TestMarshalRoundTrip(t *testing.T) {
	m, ex := trainedModel(t, 1, 3000, 50)
	data, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got Model
	if err := got.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, m) {
		t.Fatalf("the decoded model differs:\n got %+v %+v\nwant %+v %+v", got, *got.State, *m, *m.State)
	}
	for _, e := range ex[:200] {
		p1, t1 := m.Predict(e.Features)
		p2, t2 := got.Predict(e.Features)
		if p1 != p2 || !reflect.DeepEqual(t1, t2) {
			t.Fatalf("Predict(%q): %v %v before encoding, %v %v after", e.Features, p1, t1, p2, t2)
		}
	}
	// Training on from the decoded model is training on from the model.
	more := randomExamples(rand.New(rand.NewPCG(2, 2)), 500, 50)
	a, _ := Train(m, "c", more, TrainOptions{Now: time.Unix(2e9, 0)})
	b, _ := Train(&got, "c", more, TrainOptions{Now: time.Unix(2e9, 0)})
	if !reflect.DeepEqual(a, b) {
		t.Error("training on from the decoded model differs from training on from the model")
	}
}

func TestUnmarshalRefuses(t *testing.T) {
	m, _ := trainedModel(t, 1, 500, 5)
	data, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string][]byte{
		"empty":     nil,
		"not ours":  []byte("{\"weights\":{}}"),
		"truncated": data[:len(data)/2],
		"not gzip":  append([]byte(modelMagic), "hello"...),
	} {
		var got Model
		if err := got.UnmarshalBinary(bad); err == nil {
			t.Errorf("%s: UnmarshalBinary accepted it", name)
		}
	}
}

// TestSizeBound feeds a model a great many distinct features (a sub-id per
// lead, as some affiliates send): its encoding must still fit one item, and
// keep what matters.
func TestSizeBound(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on 60,000 examples")
	}
	ex := randomExamples(rand.New(rand.NewPCG(3, 1)), 60000, 1<<30)
	unbounded, _ := Train(nil, "c", ex, TrainOptions{MaxBytes: 1 << 30})
	data, err := unbounded.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(data) <= MaxEncoded {
		t.Fatalf("unbounded, the model encodes in %d bytes: the test needs more features to test the bound", len(data))
	}
	m, _ := Train(nil, "c", ex, TrainOptions{})
	if data, err = m.MarshalBinary(); err != nil {
		t.Fatal(err)
	}
	if len(data) > MaxEncoded {
		t.Fatalf("the model encodes in %d bytes, over %d", len(data), MaxEncoded)
	}
	// The sources decide the label: their weights survive, in order.
	prev := math.Inf(-1)
	for s := range 5 {
		w, ok := m.Weights[Bucket(fmt.Sprintf("src=s%d", s))]
		if !ok || w <= prev {
			t.Fatalf("src=s%d weighs %v (kept: %v), want more than src=s%d's %v", s, w, ok, s-1, prev)
		}
		prev = w
	}
	// A model that had to drop buckets still trains on.
	small, _ := Train(m, "c", ex[:100], TrainOptions{MaxBytes: 20_000})
	data, err = small.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 20_000 {
		t.Errorf("with MaxBytes 20000 the model encodes in %d bytes", len(data))
	}
	if len(small.Weights) == 0 {
		t.Error("the compacted model kept no weights")
	}
}

func BenchmarkPredict(b *testing.B) {
	m, ex := trainedModel(b, 1, 5000, 200)
	features := append(ex[0].Features, "state=CA", "weekday=2", "email=free", "phone=fixed_line_or_mobile",
		"complete=1", "velocity=0", "consent=present", "f:credit=good", "f:home_owner=yes")
	b.ReportAllocs()
	for b.Loop() {
		m.Predict(features)
	}
}

func BenchmarkMarshal(b *testing.B) {
	m, _ := trainedModel(b, 1, 5000, 200)
	b.ReportAllocs()
	var data []byte
	for b.Loop() {
		var err error
		if data, err = m.MarshalBinary(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(data)), "bytes")
}

// BenchmarkUnmarshal is what loading a campaign's model costs.
func BenchmarkUnmarshal(b *testing.B) {
	m, _ := trainedModel(b, 1, 5000, 200)
	data, err := m.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		var got Model
		if err := got.UnmarshalBinary(data); err != nil {
			b.Fatal(err)
		}
	}
}
