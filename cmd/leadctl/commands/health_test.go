package commands

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestPrintHealth(t *testing.T) {
	raw := `{"at":"2026-12-01T11:40:00Z","window_days":7,"buyers":[
	 {"buyer":"acme","name":"acme","status":"active","breaker":{"state":"closed","failures":0},
	  "caps":[{"period":"monthly","kind":"leads","limit":1000,"used":40,"bucket":"2026-12"}],
	  "orders":[{"order":"auto","campaign":"auto","status":"active","price":25,
	   "caps":[{"period":"daily","kind":"leads","limit":100,"used":12,"bucket":"2026-12-01"},{"period":"daily","kind":"budget","limit":1000.5,"used":300,"bucket":"2026-12-01"}],
	   "offered":40,"sold":30,"acceptance":0.75,"responses":30,"avg_response_ms":212}]},
	 {"buyer":"slow","name":"slow","status":"paused","breaker":{"state":"open","failures":5,"open_until":"2026-12-01T11:45:00Z"},
	  "orders":[{"order":"home","campaign":"home","status":"paused","price":9,"caps":[],"offered":0,"sold":0,"responses":0}]}]}`
	var v healthView
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := printHealth(&b, &v); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"over 7 day(s)",
		"acme           closed",
		"(all orders)  -       monthly 40/1000",
		"acme/auto     active  daily 12/100, daily budget 300.00/1000.50  40       30    75.0%       212 ms (30)",
		"slow (paused)  open (5 failures) until 2026-12-01T11:45:00Z  slow/home     paused  -",
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
}
