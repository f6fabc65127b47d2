package config

import (
	"errors"
	"fmt"
	"testing"
)

const marginDoc = `
campaigns:
  - id: home
    fields: {state: {type: us_state}}
    distribution: ping_post
    ping: {margin: %s}
sources:
  - id: a
    campaigns: [home]
    api_key_sha256: "1855dc05b1f481bcb91a6a2df592d1719cdc0b9f2e8a1a2e49d06bc8b064e155"
    ping_margin: {fixed: 1.25}
  - id: b
    campaigns: [home]
    api_key_sha256: "2855dc05b1f481bcb91a6a2df592d1719cdc0b9f2e8a1a2e49d06bc8b064e155"
buyers: []
`

func TestPingMargin(t *testing.T) {
	c, err := Parse([]byte(fmt.Sprintf(marginDoc, "{percent: 20}")))
	if err != nil {
		t.Fatal(err)
	}
	camp := &c.Campaigns[0]
	if m := PingMargin(camp, &c.Sources[0]); m.Fixed != 125 || m.Percent != 0 {
		t.Fatalf("source override: %+v", m)
	}
	if m := PingMargin(camp, &c.Sources[1]); m.Percent != 20 {
		t.Fatalf("campaign margin: %+v", m)
	}
	for doc, field := range map[string]string{
		"{percent: 20, fixed: 1}": "campaigns[0].ping.margin",
		"{percent: 120}":          "campaigns[0].ping.margin.percent",
		"{fixed: -1}":             "campaigns[0].ping.margin.fixed",
	} {
		_, err := Parse([]byte(fmt.Sprintf(marginDoc, doc)))
		var ce *Error
		if !errors.As(err, &ce) || ce.Problems[0].Field != field || ce.Problems[0].Line != 6 {
			t.Errorf("%s: %v", doc, err)
		}
	}
}
