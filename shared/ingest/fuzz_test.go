package ingest

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzDecodeJSON feeds arbitrary bodies to the JSON lead decoder: it never
// panics, and a body it accepts names only the envelope's properties (every
// other property is a problem named by its key).
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		benchLead, `{}`, `[]`, `null`, `{"campaign":1}`, `{"fields":[]}`, `{"campaign":"a","fields":{"x":{"y":[1,2,{"z":null}]}}}`,
		`{"test":"yes"}`, `{"bid_ids":["a",1]}`, `{"status":"sold","payout":9}`, `{"campaign":"a"} trailing`, "\xff\xfe",
		`{"a":` + strings.Repeat("[", 1000) + strings.Repeat("]", 1000) + `}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		env, probs, err := decodeJSON(body)
		if err != nil {
			return
		}
		for _, p := range probs {
			// The field is the property's key, which may be "" itself.
			if p.Code == "" || p.Message == "" {
				t.Fatalf("a problem without a code or message: %+v", p)
			}
		}
		if len(probs) == 0 && len(env.ExternalID) > 255 {
			t.Fatalf("an external_id of %d characters accepted", len(env.ExternalID))
		}
	})
}

// FuzzDecodeForm feeds arbitrary form bodies to the form decoder: it never
// panics, and every parameter that is not the envelope's is a field.
func FuzzDecodeForm(f *testing.F) {
	for _, s := range []string{
		"campaign=auto&phone=4158927310", "test=maybe", "a=1&a=2", "%zz", "redirect=javascript:alert(1)", "bid_ids=a,b,,c", "=&&=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		env, _, err := decodeForm([]byte(body))
		if err != nil {
			return
		}
		vals, _ := url.ParseQuery(body)
		for k := range vals {
			switch k {
			case "campaign", "external_id", "redirect", "ping_id", "bid_ids", "test":
				if _, ok := env.Fields[k]; ok {
					t.Fatalf("envelope parameter %q taken as a field", k)
				}
			default:
				if _, ok := env.Fields[k]; !ok {
					t.Fatalf("parameter %q lost", k)
				}
			}
		}
	})
}
