package webhook

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
)

// representable says whether a format can carry s exactly, independently
// of the renderer: JSON and XML need valid UTF-8, XML also only the
// characters of its Char production; form and query bodies carry any bytes.
func representable(format, s string) bool {
	switch format {
	case config.FormatJSON:
		return utf8.ValidString(s)
	case config.FormatXML:
		if !utf8.ValidString(s) {
			return false
		}
		for _, r := range s {
			ok := r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || r >= 0x10000
			if !ok {
				return false
			}
		}
	}
	return true
}

func FuzzRender(f *testing.F) {
	for _, h := range hostile {
		f.Add("note", h)
	}
	f.Add(`we<ird "name"`, "v")
	f.Add("price", "shadow")
	f.Add("", "")
	f.Add("a\x00", "b\xff")
	f.Add("x", "\ufffe")
	f.Fuzz(func(t *testing.T, name, value string) {
		l := &lead.Lead{ID: "L1", Campaign: "auto", Fields: map[string]any{"fixed": "F"}}
		l.Fields[name] = value
		l.Fields["mapped_src"] = value
		p := Post{Lead: l, Price: 1999, BidID: value, MessageID: "msg_1", Now: testNow}
		for _, format := range []string{config.FormatJSON, config.FormatForm, config.FormatXML, config.FormatGet} {
			// The default body.
			want := parsed{"lead_id": "L1", "campaign": "auto", "price": "19.99"}
			if value != "" {
				want["bid_id"] = value
			}
			nested := format == config.FormatJSON || format == config.FormatXML
			for k, v := range l.Fields {
				switch {
				case nested:
					want["fields."+k] = v.(string)
				case !slices.Contains(envelopeKeys, k):
					want[k] = v.(string)
				}
			}
			ok := representable(format, name) && representable(format, value)
			if format == config.FormatForm || format == config.FormatGet {
				ok = true
			}
			check(t, format, delivery(format), p, want, ok)

			// A mapped body.
			d := delivery(format)
			d.Fields = []config.FieldMap{{Name: "Contact.Value", From: "mapped_src"}, {Name: "Const", Value: value}, {Name: "Fixed", From: "fixed"}}
			fixed := l.Fields["fixed"].(string)
			check(t, format, d, p, parsed{"Contact.Value": value, "Const": value, "Fixed": fixed}, representable(format, value) && representable(format, fixed))
		}
	})
}

// check renders a post and reads it back: it must give exactly want, or
// fail with ErrUnencodable exactly when the format cannot carry the input.
func check(t *testing.T, format string, d *config.Delivery, p Post, want parsed, representable bool) {
	t.Helper()
	req, err := Render(d, p)
	if !representable {
		if !errors.Is(err, ErrUnencodable) {
			t.Fatalf("%s: unrepresentable input rendered (err %v)", format, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: %v", format, err)
	}
	b := body(t, req)
	if got := parseBack(t, format, req, b); !maps.Equal(got, want) {
		t.Fatalf("%s: read back\n got %q\nwant %q\nbody %q %q", format, got, want, b, req.URL.RawQuery)
	}
}

func BenchmarkRender(b *testing.B) {
	l := &lead.Lead{ID: "01JH5Q4T6W8Y0A2C4E6G8J0K2M", Campaign: "auto-insurance", Fields: map[string]any{}}
	for i := range 20 {
		var v any
		switch i % 4 {
		case 0:
			v = fmt.Sprintf("value %d with <markup> & \"quotes\"", i)
		case 1:
			v = float64(i * 7)
		case 2:
			v = i%3 == 0
		default:
			v = "+1555123" + fmt.Sprintf("%04d", i)
		}
		l.Fields[fmt.Sprintf("field_%02d", i)] = v
	}
	p := Post{Lead: l, Price: 2550, BidID: "bid-1", MessageID: "msg_2mZ9x", Now: testNow}
	mapped := make([]config.FieldMap, 0, 20)
	for i := range 20 {
		mapped = append(mapped, config.FieldMap{Name: fmt.Sprintf("Buyer.Field%d", i), From: fmt.Sprintf("field_%02d", i)})
	}
	cases := []struct {
		name   string
		format string
		fields []config.FieldMap
	}{
		{"json", config.FormatJSON, nil},
		{"json_mapped", config.FormatJSON, mapped},
		{"form", config.FormatForm, nil},
		{"xml", config.FormatXML, nil},
		{"xml_mapped", config.FormatXML, mapped},
		{"get", config.FormatGet, nil},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			d := delivery(c.format)
			d.Secret, d.Fields = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", c.fields
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Render(d, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
