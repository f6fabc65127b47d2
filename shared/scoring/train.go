package scoring

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// Optimizers Train can update a model with.
const (
	// FTRL is FTRL-Proximal (McMahan et al., "Ad Click Prediction: a View
	// from the Trenches", 2013): per-coordinate learning rates and an L1
	// penalty that holds the weights of rare, uninformative features at
	// exactly zero, so the model stays small.
	FTRL = "ftrl"
	// AdaGrad is per-coordinate adaptive gradient descent with L2 decay
	// and L1 truncation.
	AdaGrad = "adagrad"
)

// Example is one labelled lead, for training.
type Example struct {
	// At is when the lead arrived: Train learns in that order.
	At time.Time
	// Features are the lead's features (Features).
	Features []string
	// Rule is the lead's rule score, for comparing the model with it.
	Rule int
	// Label and Weight are what Label made of the lead's outcome.
	Label  bool
	Weight float64
}

// TrainOptions tune Train; the zero value is the defaults.
type TrainOptions struct {
	// Optimizer is FTRL (the default) or AdaGrad.
	Optimizer string
	// Alpha and Beta set the per-coordinate learning rate,
	// Alpha/(Beta+sqrt(n)) (defaults DefaultAlpha, DefaultBeta).
	Alpha, Beta float64
	// L1 and L2 are the penalties on the weights (defaults DefaultL1,
	// DefaultL2); a negative value is no penalty.
	L1, L2 float64
	// HoldOut is the fraction of the examples, the latest, that the
	// metrics are measured on (default 0.2).
	HoldOut float64
	// MaxBytes bounds the model's encoding (default MaxEncoded).
	MaxBytes int
	// Now is the model's TrainedAt (default time.Now).
	Now time.Time
}

// Training defaults, chosen on the eval (cmd/scoreeval, docs/scoring.md).
const (
	DefaultAlpha   = 0.15
	DefaultBeta    = 1
	DefaultL1      = 1
	DefaultL2      = 1
	DefaultHoldOut = 0.2
)

func (o TrainOptions) withDefaults() TrainOptions {
	if o.Optimizer == "" {
		o.Optimizer = FTRL
	}
	if o.Alpha <= 0 {
		o.Alpha = DefaultAlpha
	}
	if o.Beta <= 0 {
		o.Beta = DefaultBeta
	}
	if o.L1 == 0 {
		o.L1 = DefaultL1
	}
	o.L1 = max(o.L1, 0)
	if o.L2 == 0 {
		o.L2 = DefaultL2
	}
	o.L2 = max(o.L2, 0)
	if o.HoldOut <= 0 || o.HoldOut >= 1 {
		o.HoldOut = DefaultHoldOut
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = MaxEncoded
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	return o
}

// Metrics measure a model on held-out examples: the latest HoldOut of a
// training's examples, each predicted before the model learned from it.
type Metrics struct {
	// N is how many examples the training had, Positives how many of them
	// were labelled good.
	N         int `json:"n"`
	Positives int `json:"positives"`
	// HeldOut is how many of them were measured.
	HeldOut int `json:"held_out"`
	// AUC is the probability that the model ranks a good lead above a bad
	// one (0.5 is chance; 0.5 too when the held-out examples are all of
	// one label); LogLoss its mean negative log-likelihood.
	AUC     float64 `json:"auc"`
	LogLoss float64 `json:"log_loss"`
	// RuleAUC is the rule score's AUC on the same examples.
	RuleAUC float64 `json:"rule_auc"`
	// ConstantLogLoss is the log loss of predicting, for each example, the
	// share of good labels among the training's examples before it
	// (counting one good and one bad more, so that it is never 0 or 1):
	// what the model must beat to know anything.
	ConstantLogLoss float64 `json:"constant_log_loss"`
}

// Train learns a campaign's model from examples, in the order they arrived,
// continuing from prev (online) when it is not nil: prev is not changed.
// Each of the latest HoldOut of the examples is predicted before the model
// learns from it (prequential evaluation), and those predictions are the
// metrics; the model returned has learned from every example, has Version
// prev.Version+1 (1 without prev), and encodes within MaxBytes.
func Train(prev *Model, campaign string, examples []Example, opt TrainOptions) (*Model, Metrics) {
	opt = opt.withDefaults()
	var m *Model
	if prev != nil {
		m = prev.clone()
	} else {
		m = &Model{Weights: make(map[uint32]float64), Names: make(map[uint32]string)}
	}
	if m.State == nil || m.State.Optimizer != opt.Optimizer {
		// A model without state, or trained by another rule, starts over:
		// its weights mean nothing to this optimiser.
		m.Bias = 0
		m.Weights = make(map[uint32]float64)
		m.Names = make(map[uint32]string)
		m.State = &State{Optimizer: opt.Optimizer, Z: make(map[uint32]float64), N: make(map[uint32]float64)}
	}
	m.Campaign = campaign
	m.Version++
	m.TrainedAt = opt.Now.UTC().Round(0)

	order := make([]int, len(examples))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return examples[a].At.Compare(examples[b].At) })

	u := updater{m: m, opt: opt}
	cut := len(examples) - int(math.Round(float64(len(examples))*opt.HoldOut))
	var (
		met          = Metrics{N: len(examples)}
		probs, rules = make([]float64, 0, len(examples)-cut), make([]float64, 0, len(examples)-cut)
		labels       = make([]bool, 0, len(examples)-cut)
		seen, good   float64
		constLoss    float64
		buckets      []uint32
	)
	for i, k := range order {
		ex := &examples[k]
		buckets = buckets[:0]
		for _, f := range ex.Features {
			b := Bucket(f)
			buckets = append(buckets, b)
			if _, ok := m.Names[b]; !ok {
				m.Names[b] = f
			}
		}
		p := sigmoid(m.logit(buckets))
		if ex.Label {
			met.Positives++
		}
		if i >= cut {
			probs = append(probs, p)
			rules = append(rules, float64(ex.Rule))
			labels = append(labels, ex.Label)
			constLoss += logLoss((good+1)/(seen+2), ex.Label)
		}
		seen++
		if ex.Label {
			good++
		}
		u.learn(buckets, p, ex.Label, ex.Weight)
	}
	m.Labels += len(examples)
	met.HeldOut = len(labels)
	if met.HeldOut > 0 {
		met.AUC = AUC(probs, labels)
		met.LogLoss = LogLoss(probs, labels)
		met.RuleAUC = AUC(rules, labels)
		met.ConstantLogLoss = constLoss / float64(met.HeldOut)
	}
	m.Metrics = met
	if err := m.compact(opt.MaxBytes); err != nil {
		// Only a MaxBytes too small for the model's header fails to
		// compact: keep no weights rather than more than was asked.
		m.Weights, m.Names = map[uint32]float64{}, map[uint32]string{}
	}
	return m, met
}

// updater applies one optimiser's update rule to a model.
type updater struct {
	m   *Model
	opt TrainOptions
}

// learn takes one step on an example whose features hashed to buckets and
// that the model predicted p for: the gradient of the weighted log loss
// is weight*(p-label) on each present feature and on the bias.
func (u *updater) learn(buckets []uint32, p float64, label bool, weight float64) {
	if weight <= 0 {
		weight = 1
	}
	y := 0.0
	if label {
		y = 1
	}
	g := weight * (p - y)
	s := u.m.State
	if u.opt.Optimizer == AdaGrad {
		u.m.Bias = u.adagrad(u.m.Bias, &s.BiasN, g, 0, 0)
		for _, b := range buckets {
			n := s.N[b]
			w := u.adagrad(u.m.Weights[b], &n, g, u.opt.L1, u.opt.L2)
			s.N[b] = n
			u.set(b, w)
		}
		return
	}
	u.m.Bias = u.ftrl(u.m.Bias, &s.BiasZ, &s.BiasN, g, 0, 0)
	for _, b := range buckets {
		z, n := s.Z[b], s.N[b]
		w := u.ftrl(u.m.Weights[b], &z, &n, g, u.opt.L1, u.opt.L2)
		s.Z[b], s.N[b] = z, n
		u.set(b, w)
	}
}

// set stores a weight, keeping the map sparse.
func (u *updater) set(b uint32, w float64) {
	if w == 0 {
		delete(u.m.Weights, b)
		return
	}
	u.m.Weights[b] = w
}

// ftrl is FTRL-Proximal's step for one coordinate with weight w and state
// z, n, on gradient g; it returns the new weight.
func (u *updater) ftrl(w float64, z, n *float64, g, l1, l2 float64) float64 {
	a, beta := u.opt.Alpha, u.opt.Beta
	sigma := (math.Sqrt(*n+g*g) - math.Sqrt(*n)) / a
	*z += g - sigma*w
	*n += g * g
	if math.Abs(*z) <= l1 {
		return 0
	}
	return -(*z - math.Copysign(l1, *z)) / ((beta+math.Sqrt(*n))/a + l2)
}

// adagradPenalty scales L1 and L2 for AdaGrad, which applies them at every
// step: FTRL's penalties bound the weights once, over every step.
const adagradPenalty = 0.01

// adagrad is AdaGrad's step for one coordinate: a gradient step at rate
// Alpha/(Beta+sqrt(n)), then the proximal steps of the L1 and L2
// penalties (times adagradPenalty) at that rate.
func (u *updater) adagrad(w float64, n *float64, g, l1, l2 float64) float64 {
	*n += g * g
	rate := u.opt.Alpha / (u.opt.Beta + math.Sqrt(*n))
	w -= rate * g
	shrink := rate * l1 * adagradPenalty
	if math.Abs(w) <= shrink {
		return 0
	}
	return math.Copysign(math.Abs(w)-shrink, w) / (1 + rate*l2*adagradPenalty)
}

// AUC is the area under the ROC curve of scores for labels: the
// probability that a good example, picked at random, scores above a bad
// one, ties counting half (the Mann-Whitney U statistic over the number of
// pairs, from the scores' mid-ranks). It is 0.5 when every label is the
// same.
func AUC(scores []float64, labels []bool) float64 {
	n := min(len(scores), len(labels))
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(scores[a], scores[b]) })
	var pos, neg, rankSum float64
	for i := 0; i < n; {
		j := i
		for j < n && scores[idx[j]] == scores[idx[i]] {
			j++
		}
		mid := float64(i+j+1) / 2 // ranks i+1..j, averaged
		for _, k := range idx[i:j] {
			if labels[k] {
				pos++
				rankSum += mid
			} else {
				neg++
			}
		}
		i = j
	}
	if pos == 0 || neg == 0 {
		return 0.5
	}
	return (rankSum - pos*(pos+1)/2) / (pos * neg)
}

// LogLoss is the mean negative log-likelihood of labels under
// probabilities p (each bounded to [1e-15, 1-1e-15]); 0 for no examples.
func LogLoss(p []float64, labels []bool) float64 {
	n := min(len(p), len(labels))
	if n == 0 {
		return 0
	}
	var sum float64
	for i := range n {
		sum += logLoss(p[i], labels[i])
	}
	return sum / float64(n)
}

func logLoss(p float64, label bool) float64 {
	p = max(1e-15, min(1-1e-15, p))
	if label {
		return -math.Log(p)
	}
	return -math.Log(1 - p)
}
