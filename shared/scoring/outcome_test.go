package scoring

import "testing"

func TestLabel(t *testing.T) {
	tests := []struct {
		events []string
		label  bool
		weight float64
		ok     bool
	}{
		{nil, false, 0, false},
		{[]string{"delivered", "offered"}, false, 0, false},
		{[]string{"sold"}, true, WeightSoldOnly, true},
		{[]string{"rejected"}, false, WeightRejected, true},
		{[]string{"sold", "contacted"}, true, WeightPlain, true},
		{[]string{"sold", "contacted", "qualified"}, true, WeightPlain, true},
		{[]string{"sold", "qualified", "converted"}, true, WeightConverted, true},
		{[]string{"sold", "not_converted"}, false, WeightPlain, true},
		{[]string{"sold", "contacted", "not_converted"}, false, WeightPlain, true},
		{[]string{"sold", "returned"}, false, WeightPlain, true},
		{[]string{"sold", "returned_fraud"}, false, WeightFraud, true},
		// A return takes the money back, whatever was reported before.
		{[]string{"converted", "returned"}, false, WeightPlain, true},
		// Fraud outweighs anything.
		{[]string{"converted", "returned", "returned_fraud"}, false, WeightFraud, true},
		{[]string{"not_converted", "converted"}, true, WeightConverted, true},
		// A sale outweighs the rejections before it.
		{[]string{"rejected", "sold"}, true, WeightSoldOnly, true},
		{[]string{"unknown", "contacted"}, true, WeightPlain, true},
	}
	for _, tt := range tests {
		label, weight, ok := Label(tt.events)
		if label != tt.label || weight != tt.weight || ok != tt.ok {
			t.Errorf("Label(%q) = %v, %v, %v; want %v, %v, %v", tt.events, label, weight, ok, tt.label, tt.weight, tt.ok)
		}
	}
}
