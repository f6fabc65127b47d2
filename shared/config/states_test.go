package config

import (
	"testing"
	"time"
)

// Every zone named loads, so a lead's hour is never read in UTC by
// mistake.
func TestStateZonesLoad(t *testing.T) {
	if len(stateZones) < 51 {
		t.Fatalf("%d states", len(stateZones))
	}
	for st, name := range stateZones {
		if _, err := time.LoadLocation(name); err != nil {
			t.Errorf("%s: %v", st, err)
		}
	}
	if StateZone("CA") != "America/Los_Angeles" || StateZone("ZZ") != "" {
		t.Fatal("lookup")
	}
}
