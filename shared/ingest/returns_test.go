package ingest

import (
	"testing"
)

func TestDecodeReturn(t *testing.T) {
	cases := []struct {
		body   string
		fields []string
		err    bool
	}{
		{`{"lead_id":"L1","reason":"fraud"}`, nil, false},
		{`{"lead_id":"L1"}`, []string{"reason"}, false},
		{`{"reason":"fraud","lead_id":7}`, []string{"lead_id"}, false},
		{`{"lead_id":"L1","reason":"fraud","note":"x"}`, []string{"note"}, false},
		{`{}`, []string{"lead_id", "reason"}, false},
		{`[1]`, nil, true},
		{`{"lead_id":"L1","reason":"fraud"} {}`, nil, true},
	}
	for _, c := range cases {
		in, probs, err := decodeReturn([]byte(c.body))
		if (err != nil) != c.err {
			t.Fatalf("%s: error %v", c.body, err)
		}
		var got []string
		for _, p := range probs {
			got = append(got, p.Field)
		}
		if len(got) != len(c.fields) {
			t.Fatalf("%s: problems %v, want %v", c.body, got, c.fields)
		}
		for i := range got {
			if got[i] != c.fields[i] {
				t.Fatalf("%s: problems %v, want %v", c.body, got, c.fields)
			}
		}
		if c.fields == nil && !c.err && (in.LeadID != "L1" || in.Reason != "fraud") {
			t.Fatalf("%s: decoded %+v", c.body, in)
		}
	}
}
