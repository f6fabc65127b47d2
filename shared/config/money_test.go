package config

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

const moneyDoc = `
timezone: %s
campaigns:
  - id: auto
    fields: {phone: {type: phone}}
    return_reasons: %s
sources:
  - id: fb
    campaigns: [auto]
    api_key_sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    clawback: true
    postback_url: %s
    postback_secret: %s
buyers: []
`

func TestMoneySettings(t *testing.T) {
	c, err := Parse([]byte(sprintf(moneyDoc, "America/New_York", "[bad_contact, fraud]", "https://fb.example/pb", "s3cret")))
	if err != nil {
		t.Fatal(err)
	}
	ix := NewIndex(c)
	if ix.LedgerLocation().String() != "America/New_York" || !ix.Source("fb").Clawback || ix.Source("fb").PostbackURL != "https://fb.example/pb" {
		t.Fatalf("parsed %+v", c)
	}
	if r := ix.Campaign("auto").Reasons(); !slices.Equal(r, []string{"bad_contact", "fraud"}) {
		t.Fatalf("reasons %v", r)
	}
	// Defaults: UTC and the default reasons.
	c, err = Parse([]byte(sprintf(moneyDoc, `""`, "[]", `""`, `""`)))
	if err != nil {
		t.Fatal(err)
	}
	if c.Timezone != "UTC" || NewIndex(c).LedgerLocation().String() != "UTC" || len(c.Campaigns[0].Reasons()) != len(DefaultReturnReasons) {
		t.Fatalf("defaults: %q %v", c.Timezone, c.Campaigns[0].Reasons())
	}
	cases := []struct {
		doc   string
		field string
		line  int
	}{
		{sprintf(moneyDoc, "Mars/Olympus", "[]", `""`, `""`), "timezone", 2},
		{sprintf(moneyDoc, "UTC", "[fraud, fraud]", `""`, `""`), "campaigns[0].return_reasons[1]", 6},
		{sprintf(moneyDoc, "UTC", `["Bad Contact"]`, `""`, `""`), "campaigns[0].return_reasons[0]", 6},
		{sprintf(moneyDoc, "UTC", "[]", "ftp://fb.example", "s"), "sources[0].postback_url", 12},
		{sprintf(moneyDoc, "UTC", "[]", "https://fb.example", `""`), "sources[0].postback_secret", 13},
		{sprintf(moneyDoc, "UTC", "[]", `""`, "s"), "sources[0].postback_url", 12},
	}
	for _, tc := range cases {
		_, err := Parse([]byte(tc.doc))
		var ce *Error
		if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].Field != tc.field || ce.Problems[0].Line != tc.line {
			t.Errorf("%s: %v", tc.field, err)
		}
	}
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
