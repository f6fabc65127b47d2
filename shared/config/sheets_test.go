package config

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

const sheetsDelivery = `
type: sheets
spreadsheet_id: 1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms
range: "'Sold Leads'!B2"
credentials: "ssm:/leadrelay/sheets/acme"
timeout: 10s
fields:
  - {name: Lead, from: $lead_id}
  - {name: Phone, from: phone, phone: national}
  - {name: State, from: state, map: {CA: California}}
  - {name: Price, from: $price}
`

func TestSheetsDelivery(t *testing.T) {
	c, err := Parse(deliveryDoc(sheetsDelivery))
	if err != nil {
		t.Fatal(err)
	}
	d := c.Buyers[0].Delivery
	if d.Type != DeliverySheets || d.SpreadsheetID != "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms" || d.Range != "'Sold Leads'!B2" ||
		d.Credentials != "ssm:/leadrelay/sheets/acme" || len(d.Fields) != 4 || d.Format != "" || d.MaxAttempts != DefaultMaxAttempts {
		t.Fatalf("delivery %+v", d)
	}
	// The document survives JSON and YAML round trips.
	for _, enc := range []func() ([]byte, error){c.JSON, c.YAML} {
		b, err := enc()
		if err != nil {
			t.Fatal(err)
		}
		c2, err := Parse(b)
		if err != nil {
			t.Fatalf("reparse: %v\n%s", err, b)
		}
		x, _ := json.Marshal(c2.Buyers[0].Delivery)
		y, _ := json.Marshal(d)
		if string(x) != string(y) {
			t.Fatalf("round trip:\n%s\n%s", x, y)
		}
	}
}

// The credentials are a secret field resolved on use: listed with the
// other secrets (so plans redact them and the markers' rules keep them),
// shown as the reference they are, never opened with the configuration.
func TestSheetsCredentialsAreASecretResolvedOnUse(t *testing.T) {
	c, err := Parse(deliveryDoc(sheetsDelivery))
	if err != nil {
		t.Fatal(err)
	}
	var found []Secret
	for _, s := range Secrets(c) {
		if strings.HasSuffix(s.Path, ".credentials") {
			found = append(found, s)
		}
	}
	if len(found) != 1 || found[0].Path != "buyers[acme].delivery.credentials" || !found[0].OnUse || *found[0].Value != "ssm:/leadrelay/sheets/acme" {
		t.Fatalf("secrets %+v", found)
	}
	if shown := ShowSecrets(c); shown.Buyers[0].Delivery.Credentials != "ssm:/leadrelay/sheets/acme" {
		t.Fatalf("shown %q", shown.Buyers[0].Delivery.Credentials)
	}
	if !secretPath("buyers.acme.delivery.credentials") {
		t.Fatal("a plan shows the credentials")
	}
	// A document put back with the marker keeps the stored reference.
	next := c.Clone()
	next.Buyers[0].Delivery.Credentials = SecretSet
	if err := KeepSecrets(next, c); err != nil || next.Buyers[0].Delivery.Credentials != "ssm:/leadrelay/sheets/acme" {
		t.Fatalf("kept %q, %v", next.Buyers[0].Delivery.Credentials, err)
	}
}

// Every mistake in a Sheets delivery is a problem at its field, and a key
// pasted in place of the reference is refused without being echoed.
func TestSheetsDeliveryProblems(t *testing.T) {
	const key = `{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----PrivateKeyLiteral"}`
	keyYAML, _ := json.Marshal(key)
	for _, c := range []struct{ old, new, field, says string }{
		{"spreadsheet_id: 1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms\n", "", "buyers[0].delivery.spreadsheet_id", "needs a spreadsheet_id"},
		{"spreadsheet_id: 1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms", "spreadsheet_id: https://docs.google.com/spreadsheets/d/1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms/edit",
			"buyers[0].delivery.spreadsheet_id", "not the URL"},
		{"spreadsheet_id: 1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms", "spreadsheet_id: \"my sheet\"", "buyers[0].delivery.spreadsheet_id", "not a spreadsheet's id"},
		{"range: \"'Sold Leads'!B2\"\n", "", "buyers[0].delivery.range", "needs a range"},
		{`range: "'Sold Leads'!B2"`, `range: "A1"`, "buyers[0].delivery.range", "with the sheet's name"},
		{`range: "'Sold Leads'!B2"`, `range: "Sold Leads!B2"`, "buyers[0].delivery.range", "A1 notation"},
		{`range: "'Sold Leads'!B2"`, `range: "Leads!1:1"`, "buyers[0].delivery.range", "A1 notation"},
		{`range: "'Sold Leads'!B2"`, `range: "Leads!D1:B1"`, "buyers[0].delivery.range", "ends left"},
		{`range: "'Sold Leads'!B2"`, `range: "Leads!A:F9"`, "buyers[0].delivery.range", "first cell's row"},
		{"credentials: \"ssm:/leadrelay/sheets/acme\"\n", "", "buyers[0].delivery.credentials", "needs credentials"},
		{`credentials: "ssm:/leadrelay/sheets/acme"`, "credentials: " + string(keyYAML), "buyers[0].delivery.credentials", "never the key itself"},
		{`credentials: "ssm:/leadrelay/sheets/acme"`, `credentials: "ssm:leadrelay/sheets"`, "buyers[acme].delivery.credentials", "full path"},
		{"fields:\n  - {name: Lead, from: $lead_id}\n  - {name: Phone, from: phone, phone: national}\n  - {name: State, from: state, map: {CA: California}}\n  - {name: Price, from: $price}\n",
			"", "buyers[0].delivery.fields", "needs fields"},
		{"{name: Lead, from: $lead_id}", "{name: Lead, from: $lead_id, map: {a: b}}", "buyers[0].delivery.fields[0]", "written as it is"},
		{"{name: Price, from: $price}", "{name: Phone, from: $price}", "buyers[0].delivery.fields[3].name", "mapped twice"},
		{"timeout: 10s", "timeout: 10s\nurl: https://buyer.example.com", "buyers[0].delivery.url", "does not belong to sheets"},
		{"timeout: 10s", "timeout: 10s\nsecret: s3cret", "buyers[0].delivery.secret", "does not belong to sheets"},
		{"timeout: 10s", "timeout: 10s\nresponse: {accept: [{json: ok}]}", "buyers[0].delivery.response", "does not belong to sheets"},
		{"type: sheets", "type: webhook\nurl: https://buyer.example.com", "buyers[0].delivery.spreadsheet_id", "is for sheets delivery"},
		{"type: sheets", "type: sms", "buyers[0].delivery.type", "want webhook, email, sheets or call"},
	} {
		block := strings.Replace(sheetsDelivery, c.old, c.new, 1)
		if block == sheetsDelivery {
			t.Fatalf("%q is not in the document", c.old)
		}
		_, err := Parse(deliveryDoc(block))
		var ce *Error
		if !errors.As(err, &ce) || !sheetsProblem(ce, c.field, c.says) {
			t.Errorf("%s → %s: %v, want a problem at %s saying %q", c.old, c.new, err, c.field, c.says)
			continue
		}
		if strings.Contains(err.Error(), "PrivateKeyLiteral") {
			t.Errorf("the problem echoes the key: %v", err)
		}
	}
}

func sheetsProblem(e *Error, field, says string) bool {
	for _, p := range e.Problems {
		if p.Field == field && strings.Contains(p.Message, says) {
			return true
		}
	}
	return false
}

func TestParseSheetRange(t *testing.T) {
	for _, c := range []struct {
		in     string
		want   SheetRange
		column string // Column(1)
	}{
		{"Leads!A1", SheetRange{Sheet: "Leads", Col: 1, Row: 1}, "'Leads'!B1:B"},
		{"Leads!A1:F1", SheetRange{Sheet: "Leads", Col: 1, Row: 1}, "'Leads'!B1:B"},
		{"Leads!C:F", SheetRange{Sheet: "Leads", Col: 3}, "'Leads'!D:D"},
		{"Sheet_1.v2!Z10:AB", SheetRange{Sheet: "Sheet_1.v2", Col: 26, Row: 10}, "'Sheet_1.v2'!AA10:AA"},
		{"'My Leads'!B2", SheetRange{Sheet: "My Leads", Col: 2, Row: 2}, "'My Leads'!C2:C"},
		{"'Bob''s!'!AZ3", SheetRange{Sheet: "Bob's!", Col: 52, Row: 3}, "'Bob''s!'!BA3:BA"},
		{"Prospects!A1", SheetRange{Sheet: "Prospects", Col: 1, Row: 1}, "'Prospects'!B1:B"},
	} {
		got, err := ParseSheetRange(c.in)
		if err != nil || got != c.want {
			t.Errorf("%s: %+v, %v; want %+v", c.in, got, err, c.want)
			continue
		}
		if col := got.Column(1); col != c.column {
			t.Errorf("%s: Column(1) = %s, want %s", c.in, col, c.column)
		}
	}
	for _, bad := range []string{"", "A1", "Leads", "Leads!", "Leads!a1", "Leads!1:2", "Leads!A0", "Leads!AAAA1", "'Leads!A1", "My Leads!A1", "Leads!A1:", "Leads!B1:A1"} {
		if r, err := ParseSheetRange(bad); err == nil {
			t.Errorf("%q: %+v, want an error", bad, r)
		}
	}
	for n, name := range map[int]string{1: "A", 26: "Z", 27: "AA", 52: "AZ", 53: "BA", 702: "ZZ", 703: "AAA", 18278: "ZZZ"} {
		if ColumnName(n) != name || ColumnNumber(name) != n {
			t.Errorf("%d: %s / %d, want %s", n, ColumnName(n), ColumnNumber(name), name)
		}
	}
}
