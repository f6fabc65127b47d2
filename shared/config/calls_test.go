package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const callDoc = `
campaigns:
  - id: final-expense
    type: call
    fields:
      phone: {type: phone, required: true, pii: true}
      state: {type: us_state}
      zip: {type: zip}
    dedupe: {fields: [phone], window: 24h}
sources:
  - id: tv-1
    campaigns: [final-expense]
    numbers: ["+18005550100", "+18005550101"]
    payout: {type: fixed, amount: 10}
buyers:
  - id: agency
    delivery: {type: call, number: "+15125550199", buffer: 90s, concurrency: 2, record: true}
    orders:
      - {campaign: final-expense, price: 45, priority: 1}
`

func TestCallConfiguration(t *testing.T) {
	c, err := Parse([]byte(callDoc))
	if err != nil {
		t.Fatal(err)
	}
	d := c.Buyers[0].Delivery
	if !c.Campaigns[0].IsCall() || d.Number != "+15125550199" || d.Buffer.D() != 90*time.Second || d.Concurrency != 2 || !d.Record || d.CallRing() != DefaultRing {
		t.Fatalf("parsed %+v", d)
	}
	ix := NewIndex(c)
	if s, cp := ix.SourceByNumber("+18005550101"); s == nil || s.ID != "tv-1" || cp.ID != "final-expense" {
		t.Fatalf("SourceByNumber = %v, %v", s, cp)
	}
	if s, cp := ix.SourceByNumber("+18005550199"); s != nil || cp != nil {
		t.Fatal("an unknown number has a source")
	}
	if ix.SourceByKey("") != nil {
		t.Fatal("a source without a key is found by the empty key")
	}
	if p := c.Sources[0].Payout; p.On != "" || p.PaysOnConnected() {
		t.Fatalf("payout %+v: want paid per billable call by default", p)
	}
	for _, on := range []string{PayOnBillable, PayOnConnected} {
		c, err := Parse([]byte(strings.Replace(callDoc, "amount: 10}", "amount: 10, on: "+on+"}", 1)))
		if err != nil {
			t.Fatalf("on: %s: %v", on, err)
		}
		if p := c.Sources[0].Payout; p.On != on || p.PaysOnConnected() != (on == PayOnConnected) {
			t.Fatalf("on: %s: payout %+v", on, p)
		}
	}
}

func TestCallConfigurationProblems(t *testing.T) {
	for _, c := range []struct{ old, new, field, says string }{
		{"type: call\n", "type: calls\n", "campaigns[0].type", "want leads or call"},
		{"phone: {type: phone", "phone: {type: string", "campaigns[0].fields.phone", "needs a phone field"},
		{`"+18005550101"]`, `"+18005550101", "8005550102"]`, "sources[0].numbers[2]", "not an E.164"},
		{`"+18005550101"]`, `"+18005550100"]`, "sources[0].numbers[1]", "already source tv-1's"},
		{`number: "+15125550199"`, `number: "5125550199"`, "buyers[0].delivery.number", "E.164"},
		{"buffer: 90s", "buffer: 5h", "buyers[0].delivery.buffer", "between 0s"},
		{"concurrency: 2", "concurrency: -1", "buyers[0].delivery.concurrency", "between 0"},
		{"record: true}", "record: true, ring: 2s}", "buyers[0].delivery.ring", "between 5s"},
		{`{type: call, number: "+15125550199", buffer: 90s, concurrency: 2, record: true}`, `{type: webhook, url: "https://b.example.com", buffer: 90s}`,
			"buyers[0].delivery.buffer", "is for call delivery"},
		{`{type: call, number: "+15125550199", buffer: 90s, concurrency: 2, record: true}`, `{type: webhook, url: "https://b.example.com"}`,
			"buyers[0].orders[0].campaign", "its buyers' delivery is type call"},
		{"    dedupe:", "    gather: {field: phone, prompt: Hi}\n    dedupe:", "campaigns[0].gather.field", "zip or boolean"},
		{"    dedupe:", "    gather: {field: state}\n    dedupe:", "campaigns[0].gather.prompt", "needs the prompt"},
		{"    dedupe:", "    gather: {field: zip, prompt: \"ZIP\", timeout: 1m}\n    dedupe:", "campaigns[0].gather.timeout", "between 3s"},
		{"amount: 10}", "amount: 10, on: answered}", "sources[0].payout.on", "want billable or connected"},
		{"{type: fixed, amount: 10}", "{type: revshare, percent: 40, on: connected}", "sources[0].payout.on", "fixed amount"},
		{"    payout: {type: fixed, amount: 10}\n", "    payout: {type: fixed, amount: 10}\n  - id: web\n    campaigns: [final-expense]\n    api_key_sha256: \"" + HashKey("k") + "\"\n    payout: {type: fixed, amount: 4, on: billable}\n",
			"sources[1].payout.on", "for a source of calls"},
	} {
		doc := strings.Replace(callDoc, c.old, c.new, 1)
		if doc == callDoc {
			t.Fatalf("%q is not in the document", c.old)
		}
		_, err := Parse([]byte(doc))
		var ce *Error
		if !errors.As(err, &ce) || !sheetsProblem(ce, c.field, c.says) {
			t.Errorf("%s → %s: %v, want a problem at %s saying %q", c.old, c.new, err, c.field, c.says)
		}
	}
}
