package validate

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/leadrelay/leadrelay/shared/config"
)

// lead15 is a realistic auto-insurance lead of 15 fields, as a source posts
// it: a little untidy, as real traffic is.
const lead15 = `{
	"first_name": "Maria ", "last_name": "Gonzalez", "phone": "(415) 892-1234",
	"email": "Maria.Gonzalez@Gmail.com", "address": "1 Market St", "city": "San Francisco",
	"state": "california", "zip": "94105", "age": 41, "credit": "good",
	"homeowner": true, "tcpa_consent": "yes", "vehicles": 2, "income": 85000.50,
	"coverage": "Full"
}`

var campaign15 = &config.Campaign{ID: "auto-insurance", Strict: true, Fields: map[string]config.Field{
	"first_name":   {Type: config.TypeString, Required: true, MaxLength: 50},
	"last_name":    {Type: config.TypeString, Required: true, MaxLength: 50},
	"phone":        {Type: config.TypePhone, Required: true, PII: true},
	"email":        {Type: config.TypeEmail, PII: true},
	"address":      {Type: config.TypeString, MaxLength: 200},
	"city":         {Type: config.TypeString, MaxLength: 100},
	"state":        {Type: config.TypeUSState, Required: true},
	"zip":          {Type: config.TypeZip, Required: true},
	"age":          {Type: config.TypeInteger, Min: ptr(18), Max: ptr(100)},
	"credit":       {Type: config.TypeEnum, Values: []string{"Excellent", "Good", "Fair", "Poor"}},
	"homeowner":    {Type: config.TypeBoolean},
	"tcpa_consent": {Type: config.TypeBoolean, Required: true},
	"vehicles":     {Type: config.TypeInteger, Min: ptr(0), Max: ptr(10)},
	"income":       {Type: config.TypeNumber, Min: ptr(0)},
	"coverage":     {Type: config.TypeEnum, Values: []string{"Liability", "Full"}},
}}

func decodeLead(tb testing.TB, s string) map[string]any {
	tb.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		tb.Fatal(err)
	}
	return raw
}

func TestLead15(t *testing.T) {
	out, errs := Fields(campaign15, decodeLead(t, lead15))
	if errs != nil {
		t.Fatalf("errors = %+v", errs)
	}
	if len(out) != 15 || out["phone"] != "+14158921234" || out["state"] != "CA" || out["credit"] != "Good" ||
		out["email"] != "Maria.Gonzalez@gmail.com" || out["income"] != 85000.5 || out["tcpa_consent"] != true {
		t.Errorf("Fields = %#v", out)
	}
}

func BenchmarkFields15(b *testing.B) {
	raw := decodeLead(b, lead15)
	b.ReportAllocs()
	for b.Loop() {
		if _, errs := Fields(campaign15, raw); errs != nil {
			b.Fatal(errs)
		}
	}
}

// BenchmarkFields15Invalid measures a lead with problems in five fields.
func BenchmarkFields15Invalid(b *testing.B) {
	raw := decodeLead(b, lead15)
	raw["phone"], raw["email"], raw["state"], raw["age"], raw["coverage"] = "555", "nope", "XX", json.Number("12"), "Partial"
	b.ReportAllocs()
	for b.Loop() {
		if _, errs := Fields(campaign15, raw); len(errs) != 5 {
			b.Fatal(errs)
		}
	}
}

// BenchmarkPhone isolates the phone number parser, the costliest field.
func BenchmarkPhone(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, p := normPhone("(415) 892-1234"); p.code != "" {
			b.Fatal(p)
		}
	}
}
