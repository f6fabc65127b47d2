package routing

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
)

func TestFilters(t *testing.T) {
	// Wednesday 2026-11-25 19:30 UTC is 11:30 in Los Angeles.
	now := mustTime(t, "2026-11-25T19:30:00Z")
	created := now.Add(-90 * time.Minute)
	list := func(v ...any) []any { return v }
	tests := []struct {
		name   string
		fields map[string]any
		filter config.Filter
		// campaignAge declares a field "age" on the campaign.
		campaignAge bool
		want        bool
		detail      string // a part of the detail when the filter fails
	}{
		// eq, ne
		{name: "eq text folds case", fields: map[string]any{"state": "ca"}, filter: config.Filter{Field: "state", Op: "eq", Value: "CA"}, want: true},
		{name: "eq text differs", fields: map[string]any{"state": "NY"}, filter: config.Filter{Field: "state", Op: "eq", Value: "CA"}, detail: `filter state eq CA: lead has "NY"`},
		{name: "eq int and numeric string", fields: map[string]any{"years": "30"}, filter: config.Filter{Field: "years", Op: "eq", Value: 30}, want: true},
		{name: "eq int64 and float", fields: map[string]any{"years": int64(30)}, filter: config.Filter{Field: "years", Op: "eq", Value: 30.0}, want: true},
		{name: "eq numbers compare as numbers", fields: map[string]any{"zip": "00501"}, filter: config.Filter{Field: "zip", Op: "eq", Value: 501}, want: true},
		{name: "eq json.Number", fields: map[string]any{"years": json.Number("30")}, filter: config.Filter{Field: "years", Op: "eq", Value: 30}, want: true},
		{name: "eq json.Number float", fields: map[string]any{"income": json.Number("2.5e4")}, filter: config.Filter{Field: "income", Op: "eq", Value: 25000}, want: true},
		{name: "eq bool", fields: map[string]any{"owner": true}, filter: config.Filter{Field: "owner", Op: "eq", Value: true}, want: true},
		{name: "eq bool text", fields: map[string]any{"owner": "TRUE"}, filter: config.Filter{Field: "owner", Op: "eq", Value: true}, want: true},
		{name: "eq bool differs", fields: map[string]any{"owner": false}, filter: config.Filter{Field: "owner", Op: "eq", Value: true}, detail: "lead has false"},
		{name: "eq plus sign is text", fields: map[string]any{"n": "+30"}, filter: config.Filter{Field: "n", Op: "eq", Value: 30}, detail: `lead has "+30"`},
		{name: "eq missing fails", fields: map[string]any{}, filter: config.Filter{Field: "state", Op: "eq", Value: "CA"}, detail: "filter state eq CA: lead has no state"},
		{name: "eq empty string is missing", fields: map[string]any{"state": ""}, filter: config.Filter{Field: "state", Op: "eq", Value: ""}, detail: "lead has no state"},
		{name: "ne passes", fields: map[string]any{"state": "NY"}, filter: config.Filter{Field: "state", Op: "ne", Value: "CA"}, want: true},
		{name: "ne folds case", fields: map[string]any{"state": "ca"}, filter: config.Filter{Field: "state", Op: "ne", Value: "CA"}, detail: `filter state ne CA: lead has "ca"`},
		{name: "ne numeric", fields: map[string]any{"years": 30.0}, filter: config.Filter{Field: "years", Op: "ne", Value: "30"}, detail: "lead has 30"},
		{name: "ne missing fails", fields: map[string]any{}, filter: config.Filter{Field: "state", Op: "ne", Value: "CA"}, detail: "lead has no state"},
		// in, not_in
		{name: "in", fields: map[string]any{"state": "tx"}, filter: config.Filter{Field: "state", Op: "in", Value: list("CA", "TX")}, want: true},
		{name: "in fails", fields: map[string]any{"state": "NY"}, filter: config.Filter{Field: "state", Op: "in", Value: list("CA", "TX")}, detail: `filter state in [CA TX]: lead has "NY"`},
		{name: "in numbers", fields: map[string]any{"years": int64(40)}, filter: config.Filter{Field: "years", Op: "in", Value: list(30, 40.0)}, want: true},
		{name: "in missing", fields: map[string]any{}, filter: config.Filter{Field: "state", Op: "in", Value: list("CA")}, detail: "lead has no state"},
		{name: "not_in", fields: map[string]any{"state": "NY"}, filter: config.Filter{Field: "state", Op: "not_in", Value: list("CA", "TX")}, want: true},
		{name: "not_in fails", fields: map[string]any{"state": "Ca"}, filter: config.Filter{Field: "state", Op: "not_in", Value: list("CA", "TX")}, detail: `filter state not_in [CA TX]: lead has "Ca"`},
		{name: "not_in missing fails", fields: map[string]any{}, filter: config.Filter{Field: "state", Op: "not_in", Value: list("CA")}, detail: "lead has no state"},
		// ordered comparisons
		{name: "gt numeric string", fields: map[string]any{"years": "100"}, filter: config.Filter{Field: "years", Op: "gt", Value: 99}, want: true},
		{name: "gt numeric not lexical", fields: map[string]any{"years": "9"}, filter: config.Filter{Field: "years", Op: "gt", Value: "10"}, detail: `filter years gt 10: lead has "9"`},
		{name: "gt equal fails", fields: map[string]any{"years": 25}, filter: config.Filter{Field: "years", Op: "gt", Value: 25}, detail: "lead has 25"},
		{name: "gte equal", fields: map[string]any{"years": int64(25)}, filter: config.Filter{Field: "years", Op: "gte", Value: 25}, want: true},
		{name: "gte float", fields: map[string]any{"years": 24.9}, filter: config.Filter{Field: "years", Op: "gte", Value: 25}, detail: "filter years gte 25: lead has 24.9"},
		{name: "lt", fields: map[string]any{"income": 1e3}, filter: config.Filter{Field: "income", Op: "lt", Value: "1000.5"}, want: true},
		{name: "lt fails", fields: map[string]any{"income": 2000}, filter: config.Filter{Field: "income", Op: "lt", Value: 1000}, detail: "lead has 2000"},
		{name: "lte equal", fields: map[string]any{"income": "1000"}, filter: config.Filter{Field: "income", Op: "lte", Value: 1000.0}, want: true},
		{name: "lte text is byte-wise", fields: map[string]any{"since": "2026-01-15"}, filter: config.Filter{Field: "since", Op: "lte", Value: "2026-02-01"}, want: true},
		{name: "gt text is byte-wise", fields: map[string]any{"since": "2026-01-15"}, filter: config.Filter{Field: "since", Op: "gt", Value: "2026-02-01"}, detail: `lead has "2026-01-15"`},
		{name: "gt missing", fields: map[string]any{}, filter: config.Filter{Field: "years", Op: "gt", Value: 1}, detail: "lead has no years"},
		{name: "between inclusive low", fields: map[string]any{"years": 25}, filter: config.Filter{Field: "years", Op: "between", Value: list(25, 40)}, want: true},
		{name: "between inclusive high", fields: map[string]any{"years": "40"}, filter: config.Filter{Field: "years", Op: "between", Value: list(25, 40)}, want: true},
		{name: "between above", fields: map[string]any{"years": 40.5}, filter: config.Filter{Field: "years", Op: "between", Value: list(25, 40)}, detail: "filter years between [25 40]: lead has 40.5"},
		{name: "between bad value", fields: map[string]any{"years": 30}, filter: config.Filter{Field: "years", Op: "between", Value: list(25)}, detail: "want a value [low, high]"},
		{name: "between missing", fields: map[string]any{}, filter: config.Filter{Field: "years", Op: "between", Value: list(1, 2)}, detail: "lead has no years"},
		// exists
		{name: "exists present", fields: map[string]any{"email": "a@b.c"}, filter: config.Filter{Field: "email", Op: "exists"}, want: true},
		{name: "exists true absent", fields: map[string]any{}, filter: config.Filter{Field: "email", Op: "exists", Value: true}, detail: "filter email exists true: lead has no email"},
		{name: "exists no value absent", fields: map[string]any{"email": nil}, filter: config.Filter{Field: "email", Op: "exists"}, detail: "lead has no email"},
		{name: "exists false absent", fields: map[string]any{}, filter: config.Filter{Field: "email", Op: "exists", Value: false}, want: true},
		{name: "exists false empty", fields: map[string]any{"email": ""}, filter: config.Filter{Field: "email", Op: "exists", Value: false}, want: true},
		{name: "exists false present", fields: map[string]any{"email": "a@b.c"}, filter: config.Filter{Field: "email", Op: "exists", Value: false}, detail: `filter email exists false: lead has "a@b.c"`},
		{name: "exists zero number is a value", fields: map[string]any{"n": 0}, filter: config.Filter{Field: "n", Op: "exists"}, want: true},
		// contains, starts_with, regex
		{name: "contains folds case", fields: map[string]any{"email": "Jane@Example.COM"}, filter: config.Filter{Field: "email", Op: "contains", Value: "example.com"}, want: true},
		{name: "contains fails", fields: map[string]any{"email": "jane@example.org"}, filter: config.Filter{Field: "email", Op: "contains", Value: "example.com"}, detail: `filter email contains example.com: lead has "jane@example.org"`},
		{name: "contains unicode fold", fields: map[string]any{"city": "MÜNCHEN"}, filter: config.Filter{Field: "city", Op: "contains", Value: "ünch"}, want: true},
		{name: "contains number as text", fields: map[string]any{"phone": int64(5551234567)}, filter: config.Filter{Field: "phone", Op: "contains", Value: 123}, want: true},
		{name: "contains missing", fields: map[string]any{}, filter: config.Filter{Field: "email", Op: "contains", Value: "x"}, detail: "lead has no email"},
		{name: "starts_with", fields: map[string]any{"zip": "90210"}, filter: config.Filter{Field: "zip", Op: "starts_with", Value: "902"}, want: true},
		{name: "starts_with number value", fields: map[string]any{"zip": "90210"}, filter: config.Filter{Field: "zip", Op: "starts_with", Value: 902}, want: true},
		{name: "starts_with list", fields: map[string]any{"zip": "10001"}, filter: config.Filter{Field: "zip", Op: "starts_with", Value: list("902", 100)}, want: true},
		{name: "starts_with list fails", fields: map[string]any{"zip": "60601"}, filter: config.Filter{Field: "zip", Op: "starts_with", Value: list("902", "100")}, detail: `filter zip starts_with [902 100]: lead has "60601"`},
		{name: "starts_with folds case", fields: map[string]any{"name": "McDonald"}, filter: config.Filter{Field: "name", Op: "starts_with", Value: "MC"}, want: true},
		{name: "starts_with longer prefix", fields: map[string]any{"zip": "90"}, filter: config.Filter{Field: "zip", Op: "starts_with", Value: "902"}, detail: `lead has "90"`},
		{name: "starts_with missing", fields: map[string]any{}, filter: config.Filter{Field: "zip", Op: "starts_with", Value: "9"}, detail: "lead has no zip"},
		{name: "regex", fields: map[string]any{"phone": "+15551234567"}, filter: config.Filter{Field: "phone", Op: "regex", Value: `^\+1555`}, want: true},
		{name: "regex is case sensitive", fields: map[string]any{"name": "ACME"}, filter: config.Filter{Field: "name", Op: "regex", Value: `^acme$`}, detail: `filter name regex ^acme$: lead has "ACME"`},
		{name: "regex (?i)", fields: map[string]any{"name": "ACME"}, filter: config.Filter{Field: "name", Op: "regex", Value: `(?i)^acme$`}, want: true},
		{name: "regex on number", fields: map[string]any{"years": int64(42)}, filter: config.Filter{Field: "years", Op: "regex", Value: `^4\d$`}, want: true},
		{name: "regex bad pattern fails", fields: map[string]any{"name": "x"}, filter: config.Filter{Field: "name", Op: "regex", Value: `(`}, detail: "does not compile"},
		{name: "regex missing", fields: map[string]any{}, filter: config.Filter{Field: "name", Op: "regex", Value: `.*`}, detail: "lead has no name"},
		{name: "unknown op fails", fields: map[string]any{"name": "x"}, filter: config.Filter{Field: "name", Op: "like", Value: "x"}, detail: `unknown op "like"`},
		// derived fields
		{name: "score", filter: config.Filter{Field: "score", Op: "gte", Value: 70}, want: true},
		{name: "score fails", filter: config.Filter{Field: "score", Op: "gt", Value: 80}, detail: "filter score gt 80: lead has 75"},
		{name: "score wins over a lead field", fields: map[string]any{"score": 99}, filter: config.Filter{Field: "score", Op: "eq", Value: 75}, want: true},
		{name: "source", filter: config.Filter{Field: "source", Op: "in", Value: list("FB-1", "google")}, want: true},
		{name: "source fails", filter: config.Filter{Field: "source", Op: "eq", Value: "google"}, detail: `lead has "fb-1"`},
		{name: "age derived minutes", filter: config.Filter{Field: "age", Op: "between", Value: list(90, 90)}, want: true},
		{name: "age derived fails", filter: config.Filter{Field: "age", Op: "lt", Value: 60}, detail: "filter age lt 60: lead has 90 (minutes since the lead arrived)"},
		{name: "age campaign field wins", fields: map[string]any{"age": 30}, campaignAge: true, filter: config.Filter{Field: "age", Op: "eq", Value: 30}, want: true},
		{name: "age campaign field missing", fields: map[string]any{}, campaignAge: true, filter: config.Filter{Field: "age", Op: "gte", Value: 0}, detail: "lead has no age"},
		{name: "age lead field ignored without campaign field", fields: map[string]any{"age": 30}, filter: config.Filter{Field: "age", Op: "eq", Value: 30}, detail: "lead has 90"},
		{name: "hour in buyer timezone", filter: config.Filter{Field: "hour", Op: "eq", Value: 11}, want: true},
		{name: "hour fails", filter: config.Filter{Field: "hour", Op: "between", Value: list(13, 17)}, detail: "filter hour between [13 17]: lead has 11 (in America/Los_Angeles)"},
		{name: "weekday in buyer timezone", filter: config.Filter{Field: "weekday", Op: "in", Value: list("Mon", "Wed")}, want: true},
		{name: "weekday fails", filter: config.Filter{Field: "weekday", Op: "eq", Value: "thu"}, detail: `filter weekday eq thu: lead has "wed" (in America/Los_Angeles)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cp := config.Campaign{Fields: map[string]config.Field{"state": {Type: "us_state"}}}
			if tt.campaignAge {
				cp.Fields["age"] = config.Field{Type: "integer"}
			}
			f := newFixture(t, cp, buyer("acme", "America/Los_Angeles", config.Order{Price: 2500, Filters: []config.Filter{tt.filter}}))
			l := &lead.Lead{ID: "l1", Source: "fb-1", Score: 75, CreatedAt: created, Fields: tt.fields}
			d := Decide(f.input(l, now))
			v := d.Explain[0]
			if v.Eligible != tt.want {
				t.Fatalf("eligible = %v, want %v (%s: %s)", v.Eligible, tt.want, v.Reason, v.Detail)
			}
			if tt.want {
				if len(d.Candidates) != 1 || v.Rank != 1 || v.Reason != "" {
					t.Fatalf("eligible order: candidates %d, verdict %+v", len(d.Candidates), v)
				}
				return
			}
			if v.Reason != ReasonFilterFailed || len(d.Candidates) != 0 {
				t.Fatalf("verdict %+v, %d candidates; want filter_failed and none", v, len(d.Candidates))
			}
			if !strings.Contains(v.Detail, tt.detail) {
				t.Errorf("detail %q, want it to contain %q", v.Detail, tt.detail)
			}
		})
	}
}

func TestFiltersAllMustPass(t *testing.T) {
	now := mustTime(t, "2026-11-25T19:30:00Z")
	filters := []config.Filter{
		{Field: "state", Op: "in", Value: []any{"CA", "TX"}},
		{Field: "age", Op: "gte", Value: 25},
	}
	tests := []struct {
		fields map[string]any
		want   bool
		detail string
	}{
		{fields: map[string]any{"state": "CA", "age": 30}, want: true},
		{fields: map[string]any{"state": "NY", "age": 30}, detail: "filter state in"},
		{fields: map[string]any{"state": "TX", "age": 20}, detail: "filter age gte 25"},
	}
	for _, tt := range tests {
		f := newFixture(t, config.Campaign{Fields: map[string]config.Field{"age": {Type: "integer"}}},
			buyer("acme", "UTC", config.Order{Price: 100, Filters: filters}))
		v := Decide(f.input(&lead.Lead{Fields: tt.fields}, now)).Explain[0]
		if v.Eligible != tt.want || !strings.Contains(v.Detail, tt.detail) {
			t.Errorf("fields %v: verdict %+v, want eligible %v and detail %q", tt.fields, v, tt.want, tt.detail)
		}
	}
}

func TestParseNumber(t *testing.T) {
	tests := []struct {
		in    string
		ok    bool
		isInt bool
		i     int64
		f     float64
	}{
		{in: "25", ok: true, isInt: true, i: 25},
		{in: "-3", ok: true, isInt: true, i: -3},
		{in: "007", ok: true, isInt: true, i: 7},
		{in: "2.5", ok: true, f: 2.5},
		{in: ".5", ok: true, f: 0.5},
		{in: "5.", ok: true, f: 5},
		{in: "1e3", ok: true, f: 1000},
		{in: "1E-2", ok: true, f: 0.01},
		{in: "99999999999999999999", ok: true, f: 1e20},
		{in: ""},
		{in: "-"},
		{in: "."},
		{in: "+1"},
		{in: "1e"},
		{in: "0x10"},
		{in: "inf"},
		{in: "NaN"},
		{in: " 1"},
		{in: "1_000"},
		{in: "CA"},
		{in: "1e999"},
	}
	for _, tt := range tests {
		n, ok := parseNumber(tt.in)
		if ok != tt.ok || ok && (n.isInt != tt.isInt || n.i != tt.i || n.f != tt.f) {
			t.Errorf("parseNumber(%q) = %+v, %v; want ok %v int %v i %d f %g", tt.in, n, ok, tt.ok, tt.isInt, tt.i, tt.f)
		}
	}
}

func TestRegexCompiledOncePerDecide(t *testing.T) {
	var b config.Buyer
	b.ID = "acme"
	for _, id := range []string{"a", "b", "c"} {
		b.Orders = append(b.Orders, config.Order{ID: id, Price: 100, Filters: []config.Filter{
			{Field: "phone", Op: "regex", Value: `^\+1`},
			{Field: "zip", Op: "regex", Value: `^9`},
		}})
	}
	f := newFixture(t, config.Campaign{}, b)
	in := f.input(&lead.Lead{Fields: map[string]any{"phone": "+15551234567", "zip": "90210"}}, time.Unix(0, 0))
	d := newDecider(&in)
	for _, ref := range f.orders {
		if reason, detail := d.check(ref, ref.Key(), 0); reason != "" {
			t.Fatalf("%s: %s %s", ref.Key(), reason, detail)
		}
	}
	if len(d.regexps) != 2 {
		t.Errorf("compiled %d patterns for 3 orders with the same 2 patterns, want 2", len(d.regexps))
	}
	first := d.regexps[`^\+1`]
	if d.regexp(`^\+1`) != first {
		t.Error("a second lookup compiled the pattern again")
	}
	// The memo of the last match must not leak into another text.
	if !first.match("+1555") || first.match("555") || !first.match("+1") {
		t.Error("match memo answers for the wrong text")
	}
}
