package commands

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/lead"
)

func TestPrintExplanations(t *testing.T) {
	rec := &lead.Record{Events: []lead.Event{
		{At: time.Unix(0, 0), Type: "auction", Data: map[string]any{"ping_id": "p1", "floor": "5", "duration_ms": 212.0, "timeout_ms": 400.0,
			"bids": []any{
				map[string]any{"order": "acme/home", "outcome": "bid", "bid": "29.25", "bid_id": "b-19", "latency_ms": 51.0, "rank": 1.0},
				map[string]any{"order": "slow/home", "outcome": "timeout", "latency_ms": 400.0, "detail": "no answer by the auction's deadline"},
			}}},
		{At: time.Unix(1, 0), Type: lead.EventRouted, Data: map[string]any{"orders": 3.0, "verdicts": []any{
			map[string]any{"order": "acme/home", "eligible": true, "rank": 1.0},
			map[string]any{"order": "ny/home", "eligible": false, "reason": "filter_failed", "detail": `filter state in [NY]: lead has "CA"`},
		}, "by_reason": map[string]any{"eligible": 1.0, "filter_failed": 2.0}}},
	}}
	var b bytes.Buffer
	printExplanations(&b, rec)
	out := b.String()
	for _, want := range []string{"AUCTION p1", "acme/home  bid", "29.25", "b-19", "slow/home  timeout", "ROUTING (routed", `filter state in [NY]: lead has "CA"`, "(2 of 3 orders shown"} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
}
