package config

import (
	"strings"
	"testing"
)

const diffBase = `
campaigns:
  - id: auto
    fields: {phone: {type: phone, required: true}}
sources:
  - id: src
    campaigns: [auto]
    api_key_sha256: "` + "1855dc05b1f481bcb91a6a2df592d1719cdc0b9f2e8a1a2e49d06bc8b064e155" + `"
buyers:
  - id: acme
    delivery: {type: webhook, url: "https://acme.example/leads", secret: "whsec_b2xkLXNlY3JldC1vbGQ="}
    orders:
      - campaign: auto
        price: 25.00
`

func mustParse(t *testing.T, doc string) *Config {
	t.Helper()
	c, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDiffWritingDefaultsOutChangesNothing(t *testing.T) {
	explicit := strings.Replace(diffBase, "        price: 25.00\n", "        price: 25.00\n        priority: 1\n        weight: 1\n        status: active\n", 1)
	if p := Diff(mustParse(t, diffBase), mustParse(t, explicit)); len(p.Changes) != 0 {
		t.Fatalf("defaults written out: %v", p.Changes)
	}
}

func TestDiffNamesEachEntityAndValue(t *testing.T) {
	next := strings.Replace(diffBase, "price: 25.00", "price: 30.00", 1)
	next = strings.Replace(next, "whsec_b2xkLXNlY3JldC1vbGQ=", "whsec_bmV3LXNlY3JldC1uZXc=", 1)
	next = strings.Replace(next, "sources:\n", "sources:\n  - id: src2\n    campaigns: [auto]\n    api_key_sha256: \""+strings.Repeat("ab", 32)+"\"\n", 1)
	p := Diff(mustParse(t, diffBase), mustParse(t, next))
	got := p.String()
	for _, want := range []string{
		"+ source src2\n",
		"~ buyer acme\n    delivery.secret: \"(redacted)\" → \"(redacted)\"\n",
		"~ order acme/auto\n    price: 25 → 30\n",
		"Plan: 1 to add, 2 to change, 0 to remove.",
	} {
		if !strings.Contains(got, want) {
			t.Fatalf("no %q in\n%s", want, got)
		}
	}
	for _, c := range p.Changes {
		if strings.Contains(string(c.Before)+string(c.After), "whsec_") {
			t.Fatalf("a secret leaked into the plan: %s", c.After)
		}
		if c.Kind == KindBuyer && strings.Contains(string(c.After), "orders") {
			t.Fatalf("a buyer's change carries its orders: %s", c.After)
		}
	}
	removed := Diff(mustParse(t, next), mustParse(t, diffBase))
	if a, ch, r := removed.Counts(); a != 0 || ch != 2 || r != 1 {
		t.Fatalf("reverse plan: %d add, %d change, %d remove", a, ch, r)
	}
}

func TestCheckNamesProblemsRelativeToTheEntity(t *testing.T) {
	c := mustParse(t, diffBase)
	part := []byte("id: second\ncampaign: auto\nprice: 5\ncaps:\n  daily: -1\n")
	var o Order
	if err := DecodePart(part, &o); err != nil {
		t.Fatal(err)
	}
	c.Buyers[0].Orders = append(c.Buyers[0].Orders, o)
	_, err := Check(c, part, "buyers[0].orders[1]")
	ce, ok := err.(*Error)
	if !ok || len(ce.Problems) != 1 || ce.Problems[0].Field != "caps.daily" || ce.Problems[0].Line != 5 {
		t.Fatalf("problems: %v", err)
	}
	if err := DecodePart([]byte("campaign: auto\npirce: 5\n"), &o); err == nil || err.(*Error).Problems[0].Line != 2 {
		t.Fatalf("unknown field: %v", err)
	}
}
