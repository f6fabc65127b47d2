package routing

import (
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
)

// NewInput takes the campaign's orders and keeps out the orders tried and
// the buyers that bought the lead.
func TestNewInput(t *testing.T) {
	cfg, err := config.Parse([]byte(`
campaigns:
  - id: auto
    fields: {state: {type: us_state}}
buyers:
  - id: a
    delivery: {type: webhook, url: "https://a.example/leads"}
    orders: [{campaign: auto, price: 10}]
  - id: b
    delivery: {type: webhook, url: "https://b.example/leads"}
    orders: [{campaign: auto, price: 12}]
`))
	if err != nil {
		t.Fatal(err)
	}
	ix := config.NewIndex(cfg)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	l := &lead.Lead{ID: "L1", Campaign: "auto", Fields: map[string]any{"state": "CA"}}
	in := NewInput(l, ix.Campaign("auto"), ix, now, []string{"a/auto"}, []string{"b"})
	if len(in.Orders) != 2 || in.Lead != l || in.Index != ix || !in.Now.Equal(now) {
		t.Fatalf("input %+v", in)
	}
	if in.Exclude["a/auto"] != ReasonAlreadyOffered || len(in.Exclude) != 1 || !in.Bought["b"] || len(in.Bought) != 1 {
		t.Fatalf("exclude %v bought %v", in.Exclude, in.Bought)
	}
	dec := Decide(in)
	if len(dec.Candidates) != 0 || dec.Explain[0].Reason != ReasonAlreadyOffered || dec.Explain[1].Reason != ReasonAlreadyBought {
		t.Fatalf("decision %+v", dec)
	}
	// A ping's quote: nothing tried or bought, maps ready for more.
	in = NewInput(l, ix.Campaign("auto"), ix, now, nil, nil)
	if in.Exclude == nil || in.Bought == nil || len(Decide(in).Candidates) != 2 {
		t.Fatalf("fresh input %+v", in)
	}
}
