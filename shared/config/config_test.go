package config

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseDesignExample(t *testing.T) {
	c, err := Parse(mustRead(t, "testdata/design.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ix := NewIndex(c)
	cp := ix.Campaign("auto-insurance")
	if cp == nil || cp.Dedupe.Window.D() != 720*time.Hour || cp.Ping.Floor != 500 || cp.Ping.Timeout.D() != 800*time.Millisecond {
		t.Fatalf("campaign: %+v", cp)
	}
	if s := ix.SourceByKey("test"); s == nil || s.ID != "fb-1" || s.Payout.Amount != 400 {
		t.Fatalf("source by key: %+v", s)
	}
	o, ok := ix.Order("acme", "auto-insurance")
	if !ok || o.Order.Price != 2500 || o.Order.Caps.DailyBudget != 100000 || o.Order.ReturnWindow.D() != 72*time.Hour {
		t.Fatalf("order: %+v", o.Order)
	}
	if len(ix.Orders("auto-insurance")) != 1 || o.Key() != "acme/auto-insurance" {
		t.Fatal("orders by campaign")
	}
	// A document round-trips through JSON and YAML unchanged.
	for _, enc := range []func() ([]byte, error){c.JSON, c.YAML} {
		b, err := enc()
		if err != nil {
			t.Fatal(err)
		}
		c2, err := Parse(b)
		if err != nil {
			t.Fatalf("reparse: %v\n%s", err, b)
		}
		if b2, _ := c2.JSON(); string(b2) != string(mustJSON(t, c)) {
			t.Fatalf("round trip changed the document:\n%s\n%s", b2, mustJSON(t, c))
		}
	}
}

func mustJSON(t *testing.T, c *Config) []byte {
	b, err := c.JSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseProblems(t *testing.T) {
	base := string(mustRead(t, "testdata/design.yaml"))
	cases := []struct {
		name, old, new, field, code string
		line                        int
	}{
		{"unknown field", "max_sales: 1 ", "max_salez: 1 ", "max_salez", CodeUnknown, 12},
		{"filter on unknown field", "{field: age, op: gte", "{field: agee, op: gte", "buyers[0].orders[0].filters[1].field", CodeReference, 29},
		{"negative cap", "hourly: 10", "hourly: -1", "buyers[0].orders[0].caps.hourly", CodeInvalid, 31},
		{"unknown campaign", "- campaign: auto-insurance", "- campaign: home", "buyers[0].orders[0].campaign", CodeReference, 23},
		{"bad type", "{type: zip}", "{type: zipcode}", "campaigns[0].fields.zip.type", CodeInvalid, 7},
		{"bad op", "op: in,", "op: within,", "buyers[0].orders[0].filters[0].op", CodeInvalid, 28},
		{"bad hours", `"08:00-18:00"`, `"8-18"`, "buyers[0].orders[0].schedule.hours", CodeInvalid, 30},
		{"bad key hash", `"9f86d0`, `"zz86d0`, "sources[0].api_key_sha256", CodeInvalid, 16},
		{"bad money", "price: 25.00", "price: 25.001", "", CodeInvalid, 24},
		{"bad tz", "America/Los_Angeles", "Mars/Olympus", "buyers[0].orders[0].schedule.timezone", CodeInvalid, 30},
		{"syntax", "campaigns:", "campaigns: [", "", CodeSyntax, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := strings.Replace(base, c.old, c.new, 1)
			if doc == base {
				t.Fatalf("replacement %q not found", c.old)
			}
			_, err := Parse([]byte(doc))
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("want *Error, got %v", err)
			}
			p := ce.Problems[0]
			if p.Code != c.code || p.Field != c.field || (c.line > 0 && p.Line != c.line) {
				t.Fatalf("got %+v; want field %q code %q line %d", ce.Problems, c.field, c.code, c.line)
			}
		})
	}
}

func TestDuplicateIDs(t *testing.T) {
	doc := strings.Replace(string(mustRead(t, "testdata/design.yaml")), "sources:", `  - id: auto-insurance
    fields: {phone: {type: phone}}
sources:`, 1)
	_, err := Parse([]byte(doc))
	var ce *Error
	if !errors.As(err, &ce) || ce.Problems[0].Code != CodeDuplicate || ce.Problems[0].Field != "campaigns[1].id" {
		t.Fatalf("got %v", err)
	}
}

// A buyer may not be called "health": GET /v1/admin/buyers/health is the
// buyers' health page, not that buyer.
func TestReservedBuyerID(t *testing.T) {
	doc := strings.Replace(string(mustRead(t, "testdata/design.yaml")), "buyers:\n  - id: acme\n", "buyers:\n  - id: health\n", 1)
	_, err := Parse([]byte(doc))
	var ce *Error
	if !errors.As(err, &ce) || len(ce.Problems) == 0 {
		t.Fatalf("a buyer called health: %v", err)
	}
	for _, p := range ce.Problems {
		if p.Field == "buyers[0].id" && p.Code == CodeInvalid {
			return
		}
	}
	t.Fatalf("want buyers[0].id invalid: %+v", ce.Problems)
}

func TestHours(t *testing.T) {
	r, err := ParseHours("22:00-02:00, 08:00-12:00")
	if err != nil || len(r) != 2 {
		t.Fatal(r, err)
	}
	if !r[0].Contains(23*60) || !r[0].Contains(60) || r[0].Contains(2*60) || r[0].Contains(12*60) {
		t.Fatal("overnight range")
	}
	if !r[1].Contains(8*60) || r[1].Contains(12*60) {
		t.Fatal("day range")
	}
	if _, err := ParseHours("00:00-24:00"); err != nil {
		t.Fatal(err)
	}
}
