package presets

import (
	"slices"
	"testing"
)

func TestLookup(t *testing.T) {
	names := Names()
	if !slices.Equal(names, []string{"gohighlevel", "hubspot", "salesforce"}) {
		t.Fatalf("names %v", names)
	}
	for _, n := range names {
		if b, ok := Lookup(n); !ok || len(b) == 0 {
			t.Errorf("Lookup(%q) failed", n)
		}
	}
	for _, bad := range []string{"", "nope", "../presets", "hubspot.yaml", "sub/hubspot"} {
		if _, ok := Lookup(bad); ok {
			t.Errorf("Lookup(%q) succeeded", bad)
		}
	}
}
