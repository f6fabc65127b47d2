package main

import (
	"strings"
	"testing"
)

func TestParseInitTrace(t *testing.T) {
	stderr := `init runtime @0.028 ms, 0.13 ms clock, 0 bytes, 0 allocs
init github.com/nyaruka/phonenumbers @9.7 ms, 9.5 ms clock, 2478888 bytes, 35508 allocs
init gopkg.in/yaml%2ev3 @19 ms, 0 ms clock, 25720 bytes, 276 allocs
2026/12/01 03:59:21 failed to get the next invoke: Get "http://127.0.0.1:1/2018-06-01/runtime/invocation/next": connection refused
init not a trace line
`
	lines := parseInitTrace([]byte(stderr))
	if len(lines) != 3 || lines[1].pkg != "github.com/nyaruka/phonenumbers" || lines[1].ms != 9.5 {
		t.Fatalf("parsed %+v", lines)
	}
	if got := sum(lines); got < 9.629 || got > 9.631 {
		t.Errorf("sum = %v, want 9.63", got)
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}, {nil, 0}} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestReportMarksWhatMissesATarget(t *testing.T) {
	var b strings.Builder
	over := report(&b, []result{
		{fn: "router", size: 9_900_000, initMS: 3},
		{fn: "ingest", size: 13_000_000, initMS: 12, awsCalls: 1},
	}, "arm64", 5, 12, 25)
	out := b.String()
	if !over || !strings.Contains(out, "13.00    OVER") || !strings.Contains(out, "1 in 5 runs") || !strings.Contains(out, "9.90     ok") {
		t.Errorf("over=%v\n%s", over, out)
	}
	b.Reset()
	if report(&b, []result{{fn: "router", size: 9_900_000, initMS: 3}}, "arm64", 5, 12, 25) {
		t.Errorf("a function within the targets reported over:\n%s", b.String())
	}
}
