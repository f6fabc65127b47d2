package config

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/config/presets"
)

// deliveryDoc is a whole document whose only buyer has the given delivery
// block (indented under "delivery:").
func deliveryDoc(block string) []byte {
	var b strings.Builder
	b.WriteString("campaigns:\n  - id: auto\n    fields:\n      phone: {type: phone}\nbuyers:\n  - id: acme\n    delivery:\n")
	for line := range strings.SplitSeq(strings.Trim(block, "\n"), "\n") {
		b.WriteString("      " + line + "\n")
	}
	b.WriteString("    orders:\n      - {campaign: auto, price: 10}\n")
	return []byte(b.String())
}

const fullDelivery = `
type: webhook
url: https://buyer.example.com/leads?src=lr
format: xml
xml_root: Request
timeout: 3s
secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
previous_secret: old-plain-secret
headers: {X-Vendor: leadrelay}
auth: {type: api_key, key: k-123, header: X-API-Key}
fields:
  - {name: Contact.Phone, from: phone, phone: national}
  - {name: Contact.State, from: state, map: {CA: California}, default: CA}
  - {name: DOB, from: dob, date: "01/02/2006"}
  - {name: Vendor, value: 42}
  - {name: LeadID, from: $lead_id}
response:
  accept:
    - {xml: Response.Result, equals: Accepted}
    - {regex: "(?i)ok"}
  duplicate:
    - {xml: Response.Result, equals: Duplicate}
  buyer_lead_id: {xml: LeadId}
  price: {regex: "price=([0-9.]+)"}
  reason: {xml: Message}
`

func TestDeliveryFull(t *testing.T) {
	c, err := Parse(deliveryDoc(fullDelivery))
	if err != nil {
		t.Fatal(err)
	}
	d := c.Buyers[0].Delivery
	if d.Format != FormatXML || d.XMLRoot != "Request" || d.PreviousSecret != "old-plain-secret" || d.Auth.Header != "X-API-Key" ||
		len(d.Fields) != 5 || d.Fields[1].Map["CA"] != "California" || d.Fields[3].Value != 42 ||
		len(d.Response.Accept) != 2 || len(d.Response.Duplicate) != 1 || d.Response.Duplicate[0].Equals != "Duplicate" || d.Response.Price.Regex == "" || d.Timeout.D() != 3*time.Second {
		t.Fatalf("delivery %+v", d)
	}
	// The document survives JSON and YAML round trips.
	deliveryJSON := func(c *Config) string {
		b, err := json.Marshal(c.Buyers[0].Delivery)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	want := deliveryJSON(c)
	for _, enc := range []func() ([]byte, error){c.JSON, c.YAML} {
		b, err := enc()
		if err != nil {
			t.Fatal(err)
		}
		c2, err := Parse(b)
		if err != nil {
			t.Fatalf("reparse: %v\n%s", err, b)
		}
		if got := deliveryJSON(c2); got != want {
			t.Fatalf("round trip changed the document:\n%s\n%s", got, want)
		}
	}
}

func TestDeliveryPresets(t *testing.T) {
	if got := strings.Join(presets.Names(), ","); got != "gohighlevel,hubspot,salesforce" {
		t.Fatalf("presets %s", got)
	}
	cases := map[string]string{
		"hubspot":     "preset: hubspot\nurl: https://api.hsforms.com/submissions/v3/integration/submit/1/abc",
		"salesforce":  "preset: salesforce\nfields: [{name: oid, value: 00D000000000001}]",
		"gohighlevel": "preset: gohighlevel\nurl: https://services.leadconnectorhq.com/hooks/a/webhook-trigger/b\nfields: [{name: tags, value: leadrelay}]",
	}
	for name, block := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := Parse(deliveryDoc(block))
			if err != nil {
				t.Fatal(err)
			}
			d, err := c.Buyers[0].Delivery.Resolved()
			if err != nil {
				t.Fatal(err)
			}
			if d.Preset != name || len(d.Fields) == 0 || d.URL == "" {
				t.Fatalf("resolved %+v", d)
			}
		})
	}
}

func TestResolvedLaysTheBuyerOnTop(t *testing.T) {
	d := Delivery{
		Type: DeliveryWebhook, Preset: "salesforce", Format: FormatJSON, URL: "https://sf.example.com/w2l",
		Secret: "s", Timeout: Duration(time.Second), MaxAttempts: 3,
		Headers: map[string]string{"X-A": "1"},
		Fields:  []FieldMap{{Name: "oid", Value: "00D"}, {Name: "lead_source", Value: "Agency"}},
	}
	r, err := d.Resolved()
	if err != nil {
		t.Fatal(err)
	}
	if r.Format != FormatForm || r.URL != "https://sf.example.com/w2l" || r.Secret != "s" || r.MaxAttempts != 3 || r.Headers["X-A"] != "1" {
		t.Fatalf("resolved %+v", r)
	}
	var source string
	n := 0
	for _, f := range r.Fields {
		if f.Name == "lead_source" {
			source, n = f.Value.(string), n+1
		}
	}
	if source != "Agency" || n != 1 || r.Fields[len(r.Fields)-1].Name != "oid" {
		t.Fatalf("fields %+v", r.Fields)
	}
	// The preset itself is not changed by a buyer's override.
	r2, _ := Delivery{Type: DeliveryWebhook, Preset: "salesforce"}.Resolved()
	for _, f := range r2.Fields {
		if f.Name == "lead_source" && f.Value != "LeadRelay" {
			t.Fatalf("preset modified: %+v", f)
		}
	}
	if _, err := (Delivery{Preset: "nope"}).Resolved(); err == nil {
		t.Fatal("unknown preset resolved")
	}
}

func TestDeliveryProblems(t *testing.T) {
	base := "type: webhook\nurl: https://b.example.com/x\n"
	cases := []struct {
		name, block, field, code string
	}{
		{"unknown preset", "preset: marketo\n", "buyers[0].delivery.preset", CodeReference},
		{"preset needs its fields", "preset: salesforce\n", "buyers[0].delivery.fields", CodeRequired},
		{"preset fixes format", "preset: hubspot\nformat: xml\n", "buyers[0].delivery.format", CodeInvalid},
		{"preset needs url", "preset: hubspot\nurl: ''\n", "buyers[0].delivery.url", CodeRequired},
		{"bad whsec", base + "secret: whsec_not*base64", "buyers[0].delivery.secret", CodeInvalid},
		{"previous without secret", base + "previous_secret: old", "buyers[0].delivery.previous_secret", CodeInvalid},
		{"reserved header", base + "headers: {webhook-id: x}", "buyers[0].delivery.headers.webhook-id", CodeInvalid},
		{"bad header name", base + "headers: {'X Bad': x}", "buyers[0].delivery.headers.X Bad", CodeInvalid},
		{"header injection", base + "headers: {X-A: \"a\\r\\nX-B: b\"}", "buyers[0].delivery.headers.X-A", CodeInvalid},
		{"auth type", base + "auth: {type: oauth}", "buyers[0].delivery.auth.type", CodeInvalid},
		{"bearer without token", base + "auth: {type: bearer}", "buyers[0].delivery.auth.token", CodeRequired},
		{"basic with token", base + "auth: {type: basic, username: u, token: t}", "buyers[0].delivery.auth.token", CodeInvalid},
		{"basic colon", base + "auth: {type: basic, username: 'a:b'}", "buyers[0].delivery.auth.username", CodeInvalid},
		{"api key nowhere", base + "auth: {type: api_key, key: k}", "buyers[0].delivery.auth.header", CodeRequired},
		{"api key twice", base + "auth: {type: api_key, key: k, header: X-K, query: k}", "buyers[0].delivery.auth.header", CodeRequired},
		{"token injection", base + "auth: {type: bearer, token: \"t\\nX: y\"}", "buyers[0].delivery.auth.token", CodeInvalid},
		{"layout", base + "layout: table", "buyers[0].delivery.layout", CodeInvalid},
		{"name_value needs json", base + "format: form\nlayout: name_value", "buyers[0].delivery.layout", CodeInvalid},
		{"xml_root needs xml", base + "xml_root: Lead", "buyers[0].delivery.xml_root", CodeInvalid},
		{"xml_root name", base + "format: xml\nxml_root: 1lead", "buyers[0].delivery.xml_root", CodeInvalid},
		{"field without name", base + "fields: [{from: phone}]", "buyers[0].delivery.fields[0].name", CodeRequired},
		{"field from and value", base + "fields: [{name: a, from: phone, value: x}]", "buyers[0].delivery.fields[0]", CodeRequired},
		{"field neither", base + "fields: [{name: a}]", "buyers[0].delivery.fields[0]", CodeRequired},
		{"unknown envelope key", base + "fields: [{name: a, from: $cost}]", "buyers[0].delivery.fields[0].from", CodeInvalid},
		{"phone format", base + "fields: [{name: a, from: phone, phone: intl}]", "buyers[0].delivery.fields[0].phone", CodeInvalid},
		{"date format", base + "fields: [{name: a, from: dob, date: dd/mm/yyyy}]", "buyers[0].delivery.fields[0].date", CodeInvalid},
		{"phone and date", base + "fields: [{name: a, from: dob, phone: e164, date: us}]", "buyers[0].delivery.fields[0].date", CodeInvalid},
		{"default on a constant", base + "fields: [{name: a, value: x, default: y}]", "buyers[0].delivery.fields[0].default", CodeInvalid},
		{"list value", base + "fields: [{name: a, value: [1, 2]}]", "buyers[0].delivery.fields[0].value", CodeInvalid},
		{"xml field name", base + "format: xml\nfields: [{name: 'a b', from: phone}]", "buyers[0].delivery.fields[0].name", CodeInvalid},
		{"empty nested part", base + "fields: [{name: a..b, from: phone}]", "buyers[0].delivery.fields[0].name", CodeInvalid},
		{"duplicate field", base + "fields: [{name: a, from: phone}, {name: a, value: x}]", "buyers[0].delivery.fields[1].name", CodeDuplicate},
		{"nesting conflict", base + "fields: [{name: a, from: phone}, {name: a.b, value: x}]", "buyers[0].delivery.fields", CodeInvalid},
		{"rule kinds", base + "response: {accept: [{json: a, regex: b}]}", "buyers[0].delivery.response.accept[0]", CodeInvalid},
		{"rule empty", base + "response: {accept: [{equals: 1}]}", "buyers[0].delivery.response.accept[0]", CodeInvalid},
		{"bad regex", base + "response: {accept: [{regex: '(['}]}", "buyers[0].delivery.response.accept[0].regex", CodeInvalid},
		{"equals on regex", base + "response: {accept: [{regex: ok, equals: ok}]}", "buyers[0].delivery.response.accept[0].equals", CodeInvalid},
		{"equals on extraction", base + "response: {buyer_lead_id: {json: id, equals: x}}", "buyers[0].delivery.response.buyer_lead_id.equals", CodeInvalid},
		{"bad path", base + "response: {price: {json: data..price}}", "buyers[0].delivery.response.price.json", CodeInvalid},
		{"duplicate rule kinds", base + "response: {duplicate: [{json: a, xml: b}]}", "buyers[0].delivery.response.duplicate[0]", CodeInvalid},
		{"duplicate rule empty", base + "response: {duplicate: [{equals: duplicate}]}", "buyers[0].delivery.response.duplicate[0]", CodeInvalid},
		{"duplicate bad regex", base + "response: {duplicate: [{json: status, equals: duplicate}, {regex: '(['}]}", "buyers[0].delivery.response.duplicate[1].regex", CodeInvalid},
		{"duplicate equals on regex", base + "response: {duplicate: [{regex: dup, equals: dup}]}", "buyers[0].delivery.response.duplicate[0].equals", CodeInvalid},
		{"duplicate bad path", base + "response: {duplicate: [{json: status..code}]}", "buyers[0].delivery.response.duplicate[0].json", CodeInvalid},
		{"duplicate list equals", base + "response: {duplicate: [{json: status, equals: [a]}]}", "buyers[0].delivery.response.duplicate[0].equals", CodeInvalid},
		{"duplicate on email", "type: email\nto: a@b.co\nresponse: {duplicate: [{json: status, equals: duplicate}]}", "buyers[0].delivery.response.duplicate", CodeInvalid},
		{"email with preset", "type: email\nto: a@b.co\npreset: hubspot", "buyers[0].delivery.preset", CodeInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(deliveryDoc(c.block))
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("want *Error, got %v", err)
			}
			for _, p := range ce.Problems {
				if p.Field == c.field && p.Code == c.code {
					if p.Line == 0 {
						t.Fatalf("problem without a line: %+v", p)
					}
					return
				}
			}
			t.Fatalf("got %+v; want field %q code %q", ce.Problems, c.field, c.code)
		})
	}
}

func TestDateLayout(t *testing.T) {
	for in, want := range map[string]string{"date": "2006-01-02", "us": "01/02/2006", "rfc3339": time.RFC3339, "Jan 2, 2006": "Jan 2, 2006"} {
		if got, ok := DateLayout(in); !ok || got != want {
			t.Errorf("DateLayout(%q) = %q, %v", in, got, ok)
		}
	}
	for _, bad := range []string{"", "dd/mm/yyyy", "yesterday"} {
		if _, ok := DateLayout(bad); ok {
			t.Errorf("DateLayout(%q) accepted", bad)
		}
	}
}
