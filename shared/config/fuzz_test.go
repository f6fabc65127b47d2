package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary documents to the configuration parser: it
// never panics, refuses with *Error (every problem with a code and a
// message) or accepts,
// and a document it accepts is accepted again as it marshals back (what
// GET /v1/admin/config answers and an operator applies again).
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		"", "campaigns: []", "campaigns: [{id: a, fields: {p: {type: phone}}}]", "{", "campaigns: {a: 1}",
		"buyers: [{id: b, delivery: {type: webhook, url: 'https://b.example'}, orders: [{campaign: x, price: 1.005}]}]",
		"anchors: &a [*a]", "timezone: Mars/Olympus", "\xff",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		c, err := Parse(doc)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || len(e.Problems) == 0 {
				t.Fatalf("refused without problems: %v", err)
			}
			for _, p := range e.Problems {
				if p.Message == "" || p.Code == "" {
					t.Fatalf("a problem without a code or message: %+v", p)
				}
			}
			return
		}
		again, err := c.YAML()
		if err != nil {
			t.Fatalf("an accepted document does not marshal: %v", err)
		}
		if _, err := Parse(again); err != nil {
			t.Fatalf("an accepted document, marshalled back, is refused: %v\n%s", err, again)
		}
	})
}
