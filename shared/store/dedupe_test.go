package store

import (
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
)

// An order's buyer dedupe names fields; the lead's values for those it
// has are the keys, each for the order's window.
func TestBuyerDedupeKeys(t *testing.T) {
	if got := BuyerDedupeKeys("acme", nil, map[string]any{"phone": "+14158927310"}); got != nil {
		t.Fatalf("no dedupe: %v", got)
	}
	d := &config.Dedupe{Fields: []string{"phone", "email", "age"}, Window: config.Duration(72 * time.Hour)}
	got := BuyerDedupeKeys("acme", d, map[string]any{"phone": "+14158927310", "age": int64(34), "state": "CA"})
	want := []BuyerDedupeKey{
		{Buyer: "acme", Field: "phone", Value: "+14158927310", Window: 72 * time.Hour},
		{Buyer: "acme", Field: "age", Value: "34", Window: 72 * time.Hour},
	}
	if len(got) != len(want) {
		t.Fatalf("keys %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("keys %+v, want %+v", got, want)
		}
	}
}
