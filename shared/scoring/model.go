package scoring

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"
)

// BucketBits is how many bits of a feature name's hash pick its weight: the
// model has 2^BucketBits buckets, of which a campaign uses a few thousand.
const BucketBits = 20

// MaxTerms is how many terms Predict returns.
const MaxTerms = 5

// Model is a campaign's learned model: a logistic regression on hashed
// features, trained online from the campaign's labelled leads (Train).
// Weights and Names are sparse: a bucket no feature reached, or whose
// weight the L1 penalty holds at zero, is absent. Predict and Largest only
// read the model, so any number of goroutines may score with it; Train
// never changes the model it continues from.
type Model struct {
	Campaign string `json:"campaign"`
	// Version counts the trainings that made the model, from 1.
	Version int `json:"version"`
	// Bias is the log-odds of a good outcome for a lead with no features.
	Bias float64 `json:"bias"`
	// Weights are the features' weights in log-odds, by bucket.
	Weights map[uint32]float64 `json:"weights,omitempty"`
	// Names holds, for each bucket with a weight, a feature name that
	// hashed there, to explain the weight.
	Names map[uint32]string `json:"names,omitempty"`
	// Labels is how many labelled leads the model has learned from.
	Labels int `json:"labels"`
	// Metrics are the last training's held-out metrics.
	Metrics   Metrics   `json:"metrics"`
	TrainedAt time.Time `json:"trained_at"`
	// State is the optimiser's state, for the next training to continue
	// from where this one stopped.
	State *State `json:"state,omitempty"`
}

// State is the optimiser's per-coordinate state.
type State struct {
	// Optimizer is the update rule the state belongs to (FTRL, AdaGrad).
	Optimizer string `json:"optimizer"`
	// Z is FTRL-Proximal's z per bucket: the sum of the gradients less
	// the steps' shrinkage. AdaGrad keeps none.
	Z map[uint32]float64 `json:"z,omitempty"`
	// N is the sum of the squared gradients per bucket, which sets each
	// coordinate's learning rate.
	N map[uint32]float64 `json:"n,omitempty"`
	// BiasZ and BiasN are the bias's z and n.
	BiasZ float64 `json:"bias_z,omitempty"`
	BiasN float64 `json:"bias_n,omitempty"`
}

// Bucket is the bucket a feature's weight lives in: FNV-1a (32 bits) of
// its name, reduced to BucketBits bits.
func Bucket(feature string) uint32 {
	const (
		offset = 2166136261
		prime  = 16777619
	)
	h := uint32(offset)
	for i := 0; i < len(feature); i++ {
		h ^= uint32(feature[i])
		h *= prime
	}
	return h & (1<<BucketBits - 1)
}

// Predict is the probability of a good outcome for a lead with these
// features, and the terms (at most MaxTerms, largest weight first by
// magnitude) that moved it most. Features the model has no weight for add
// nothing and are not terms.
func (m *Model) Predict(features []string) (p float64, terms []Term) {
	var top [MaxTerms]Term
	n := 0
	z := m.Bias
	for _, f := range features {
		w, ok := m.Weights[Bucket(f)]
		if !ok || w == 0 {
			continue
		}
		z += w
		n = insertTerm(&top, n, Term{Feature: f, Weight: w})
	}
	if n > 0 {
		terms = make([]Term, n)
		copy(terms, top[:n])
	}
	return sigmoid(z), terms
}

// logit is the model's log-odds for features already hashed.
func (m *Model) logit(buckets []uint32) float64 {
	z := m.Bias
	for _, b := range buckets {
		z += m.Weights[b]
	}
	return z
}

// insertTerm puts t into the n largest terms held in top, in order, and
// returns how many top holds.
func insertTerm(top *[MaxTerms]Term, n int, t Term) int {
	i := n
	for i > 0 && termBefore(t, top[i-1]) {
		i--
	}
	if i >= MaxTerms {
		return n
	}
	if n < MaxTerms {
		n++
	}
	copy(top[i+1:n], top[i:n-1])
	top[i] = t
	return n
}

// termBefore orders terms by the magnitude of their weights, largest
// first, then by feature name.
func termBefore(a, b Term) bool {
	if x, y := math.Abs(a.Weight), math.Abs(b.Weight); x != y {
		return x > y
	}
	return a.Feature < b.Feature
}

// Largest is the model's n largest terms by the magnitude of their
// weights: the features that move its scores most. A bucket whose name is
// unknown is named "#<bucket>".
func (m *Model) Largest(n int) []Term {
	if n <= 0 {
		return nil
	}
	terms := make([]Term, 0, len(m.Weights))
	for b, w := range m.Weights {
		if w == 0 {
			continue
		}
		name, ok := m.Names[b]
		if !ok {
			name = "#" + strconv.FormatUint(uint64(b), 10)
		}
		terms = append(terms, Term{Feature: name, Weight: w})
	}
	slices.SortFunc(terms, func(a, b Term) int {
		if termBefore(a, b) {
			return -1
		}
		if termBefore(b, a) {
			return 1
		}
		return 0
	})
	return terms[:min(n, len(terms))]
}

// clone is a deep copy of m, for training to change without touching a
// model others may be scoring with.
func (m *Model) clone() *Model {
	c := *m
	c.Weights = maps.Clone(m.Weights)
	c.Names = maps.Clone(m.Names)
	if m.State != nil {
		s := *m.State
		s.Z = maps.Clone(m.State.Z)
		s.N = maps.Clone(m.State.N)
		c.State = &s
	}
	return &c
}

// sigmoid is the logistic function, its argument bounded so that the
// probability is never exactly 0 or 1.
func sigmoid(z float64) float64 {
	z = max(-35, min(35, z))
	return 1 / (1 + math.Exp(-z))
}

// MaxEncoded is the most bytes a model's encoding may take: a model is
// stored as one DynamoDB item, whose limit is 400 KB with its keys and
// attribute names.
const MaxEncoded = 350_000

// minWeight is the smallest weight a model keeps: a smaller one moves no
// score by a point.
const minWeight = 1e-4

// modelMagic starts a model's encoding; its last byte is the format's
// version.
const modelMagic = "LRM\x01"

// maxDecoded bounds what UnmarshalBinary inflates, against a corrupt or
// hostile encoding.
const maxDecoded = 64 << 20

// header is the encoding's part that is not per bucket.
type header struct {
	Campaign  string    `json:"campaign"`
	Version   int       `json:"version"`
	Bias      float64   `json:"bias"`
	Labels    int       `json:"labels"`
	Metrics   Metrics   `json:"metrics"`
	TrainedAt time.Time `json:"trained_at"`
	// State is false for a model without optimiser state.
	State     bool    `json:"state,omitempty"`
	Optimizer string  `json:"optimizer,omitempty"`
	BiasZ     float64 `json:"bias_z,omitempty"`
	BiasN     float64 `json:"bias_n,omitempty"`
}

// MarshalBinary encodes the model compactly: modelMagic, then gzip of the
// header as JSON and, for each bucket in order, its distance from the
// previous one, its weight, z and n as float32 and its name. A model
// trained by Train encodes in at most MaxEncoded bytes, and decodes to a
// model that predicts exactly as it does (Train keeps its values at float32
// precision).
func (m *Model) MarshalBinary() ([]byte, error) {
	h := header{
		Campaign: m.Campaign, Version: m.Version, Bias: m.Bias, Labels: m.Labels,
		Metrics: m.Metrics, TrainedAt: m.TrainedAt,
	}
	var z, n map[uint32]float64
	if m.State != nil {
		h.State, h.Optimizer, h.BiasZ, h.BiasN = true, m.State.Optimizer, m.State.BiasZ, m.State.BiasN
		z, n = m.State.Z, m.State.N
	}
	head, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("encode model header: %w", err)
	}
	buckets := m.buckets()
	var buf bytes.Buffer
	buf.WriteString(modelMagic)
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, fmt.Errorf("encode model: %w", err)
	}
	out := make([]byte, 0, 64*1024)
	out = binary.AppendUvarint(out, uint64(len(head)))
	out = append(out, head...)
	out = binary.AppendUvarint(out, uint64(len(buckets)))
	prev := uint32(0)
	for _, b := range buckets {
		out = binary.AppendUvarint(out, uint64(b-prev))
		prev = b
		out = binary.LittleEndian.AppendUint32(out, math.Float32bits(float32(m.Weights[b])))
		out = binary.LittleEndian.AppendUint32(out, math.Float32bits(float32(z[b])))
		out = binary.LittleEndian.AppendUint32(out, math.Float32bits(float32(n[b])))
		name := m.Names[b]
		out = binary.AppendUvarint(out, uint64(len(name)))
		out = append(out, name...)
	}
	if _, err := zw.Write(out); err != nil {
		return nil, fmt.Errorf("encode model: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("encode model: %w", err)
	}
	return buf.Bytes(), nil
}

// UnmarshalBinary decodes a model MarshalBinary encoded.
func (m *Model) UnmarshalBinary(data []byte) error {
	if !bytes.HasPrefix(data, []byte(modelMagic)) {
		return errors.New("decode model: not an encoded model")
	}
	zr, err := gzip.NewReader(bytes.NewReader(data[len(modelMagic):]))
	if err != nil {
		return fmt.Errorf("decode model: %w", err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, maxDecoded+1))
	if err != nil {
		return fmt.Errorf("decode model: %w", err)
	}
	if len(raw) > maxDecoded {
		return fmt.Errorf("decode model: more than %d bytes inflated", maxDecoded)
	}
	d := decoder{buf: raw}
	head := d.bytes()
	var h header
	if d.err == nil {
		if err := json.Unmarshal(head, &h); err != nil {
			return fmt.Errorf("decode model header: %w", err)
		}
	}
	count := d.uvarint()
	if d.err == nil && count > 1<<BucketBits {
		return fmt.Errorf("decode model: %d buckets, more than the model has", count)
	}
	// Each bucket takes at least bucketBytes: size the maps for the
	// buckets the data can hold.
	hint := int(min(count, uint64(len(d.buf)/bucketBytes)))
	out := Model{
		Campaign: h.Campaign, Version: h.Version, Bias: h.Bias, Labels: h.Labels,
		Metrics: h.Metrics, TrainedAt: h.TrainedAt,
		Weights: make(map[uint32]float64, hint), Names: make(map[uint32]string, hint),
	}
	if h.State {
		out.State = &State{Optimizer: h.Optimizer, BiasZ: h.BiasZ, BiasN: h.BiasN,
			Z: make(map[uint32]float64, hint), N: make(map[uint32]float64, hint)}
	}
	b := uint64(0)
	for i := uint64(0); i < count && d.err == nil; i++ {
		b += d.uvarint()
		if b >= 1<<BucketBits {
			return fmt.Errorf("decode model: bucket %d out of range", b)
		}
		w, z, n, name := d.float32(), d.float32(), d.float32(), d.bytes()
		if d.err != nil {
			break
		}
		k := uint32(b)
		if w != 0 {
			out.Weights[k] = w
		}
		if len(name) > 0 {
			out.Names[k] = string(name)
		}
		if out.State != nil && z != 0 {
			out.State.Z[k] = z
		}
		if out.State != nil && n != 0 {
			out.State.N[k] = n
		}
	}
	if d.err != nil {
		return fmt.Errorf("decode model: %w", d.err)
	}
	*m = out
	return nil
}

// bucketBytes is the least a bucket takes in the encoding: its distance,
// three float32 and its name's length.
const bucketBytes = 1 + 3*4 + 1

// decoder reads MarshalBinary's fields, keeping the first error.
type decoder struct {
	buf []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.err = io.ErrUnexpectedEOF
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *decoder) float32() float64 {
	if d.err != nil {
		return 0
	}
	if len(d.buf) < 4 {
		d.err = io.ErrUnexpectedEOF
		return 0
	}
	v := math.Float32frombits(binary.LittleEndian.Uint32(d.buf))
	d.buf = d.buf[4:]
	return float64(v)
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.buf)) {
		d.err = io.ErrUnexpectedEOF
		return nil
	}
	v := d.buf[:n]
	d.buf = d.buf[n:]
	return v
}

// buckets is every bucket the model holds something for, in order.
func (m *Model) buckets() []uint32 {
	set := make(map[uint32]struct{}, len(m.Weights))
	for b := range m.Weights {
		set[b] = struct{}{}
	}
	for b := range m.Names {
		set[b] = struct{}{}
	}
	if m.State != nil {
		for b := range m.State.Z {
			set[b] = struct{}{}
		}
		for b := range m.State.N {
			set[b] = struct{}{}
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// compact readies a trained model to be stored: it drops weights too small
// to matter (and the names of buckets left without a weight), rounds every
// value to the float32 the encoding keeps, and, if the encoding is still
// over maxBytes, keeps only the buckets with the largest weights (then the
// most evidence, n), forgetting the others' optimiser state too.
func (m *Model) compact(maxBytes int) error {
	for b, w := range m.Weights {
		if math.Abs(w) < minWeight {
			delete(m.Weights, b)
		}
	}
	for b := range m.Names {
		if _, ok := m.Weights[b]; !ok {
			delete(m.Names, b)
		}
	}
	round := func(v map[uint32]float64) {
		for b, x := range v {
			if r := float64(float32(x)); r != 0 {
				v[b] = r
			} else {
				delete(v, b)
			}
		}
	}
	round(m.Weights)
	if m.State != nil {
		round(m.State.Z)
		round(m.State.N)
	}
	enc, err := m.MarshalBinary()
	if err != nil || len(enc) <= maxBytes {
		return err
	}
	ranked := m.buckets()
	var n map[uint32]float64
	if m.State != nil {
		n = m.State.N
	}
	slices.SortFunc(ranked, func(a, b uint32) int {
		if c := cmp.Compare(math.Abs(m.Weights[b]), math.Abs(m.Weights[a])); c != 0 {
			return c
		}
		if c := cmp.Compare(n[b], n[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	keep := int(float64(len(ranked)) * float64(maxBytes) / float64(len(enc)) * 0.95)
	for {
		for _, b := range ranked[keep:] {
			delete(m.Weights, b)
			delete(m.Names, b)
			if m.State != nil {
				delete(m.State.Z, b)
				delete(m.State.N, b)
			}
		}
		ranked = ranked[:keep]
		if enc, err = m.MarshalBinary(); err != nil || len(enc) <= maxBytes {
			return err
		}
		if keep == 0 {
			return fmt.Errorf("compact model: %d bytes without a weight, over %d", len(enc), maxBytes)
		}
		// The buckets left are the ones with weights and names, dearer
		// than the average: estimate again from what they cost.
		keep = min(keep-1, int(float64(keep)*float64(maxBytes)/float64(len(enc))*0.97))
		keep = max(keep, 0)
	}
}
