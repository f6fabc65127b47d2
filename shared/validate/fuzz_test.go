package validate

import (
	"encoding/json"
	"math"
	"net/mail"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/leadrelay/leadrelay/shared/config"
)

// fuzzFields holds one field of every type, some with limits.
var fuzzFields = map[string]config.Field{
	"string":  {Type: config.TypeString, MaxLength: 20},
	"integer": {Type: config.TypeInteger, Min: ptr(-1000), Max: ptr(1e12)},
	"number":  {Type: config.TypeNumber, Min: ptr(-0.5), Max: ptr(1e300)},
	"boolean": {Type: config.TypeBoolean},
	"enum":    {Type: config.TypeEnum, Values: []string{"Owner", "renter", "ǅx", "10"}},
	"email":   {Type: config.TypeEmail, MaxLength: 200},
	"phone":   {Type: config.TypePhone},
	"state":   {Type: config.TypeUSState},
	"zip":     {Type: config.TypeZip},
}

var codes = []string{CodeRequired, CodeInvalid, CodeTooLong, CodeTooSmall, CodeTooLarge, CodeNotAllowed, CodeUnknown}

// FuzzFields posts random values to every field type, and to an undeclared
// field of a non-strict campaign: nothing panics, problems are well formed,
// and an accepted value validates again to itself, both as returned and
// after a trip through JSON (as the router reads a lead back).
func FuzzFields(f *testing.F) {
	for _, s := range []string{
		"", " ", "42", "-0", "4.2e1", "1e400", "0x10", "NaN", "true", "YES", "owner", "ǆX",
		"jane@example.com", " Jane@EXAMPLE.com", `"a b"@example.com`, "a@b@c.d", "JOSÉ@EXÄMPLE.COM",
		"(415) 892-1234", "+44 20 7031 3000", "1-800-FLOWERS", "California", "washington, d.c.",
		"94110-1234", "941101234", "+1 (604) 681-3000", "1.415.892.1234", "((415)))892--1234", "+(1)4158921234",
		"+4158921234", "1 (115) 892-1234", "(800) 275-2273", "12125550199", "+1 212 555 0199 ", "\xff", "ǅ", "\u2028",
	} {
		for kind := range byte(7) {
			f.Add(kind, s, uint64(0))
		}
	}
	f.Add(byte(6), "", math.Float64bits(math.NaN()))
	f.Add(byte(6), "", math.Float64bits(1e20))
	f.Add(byte(6), "", math.Float64bits(-0.0))

	f.Fuzz(func(t *testing.T, kind byte, s string, bits uint64) {
		var v any
		switch kind % 8 {
		case 0:
			v = s
		case 1:
			v = json.Number(s)
		case 2:
			v = len(s)%2 == 0
		case 3:
			v = nil
		case 4:
			v = []any{s}
		case 5:
			v = map[string]any{s: s}
		case 6:
			v = math.Float64frombits(bits)
		case 7:
			v = int64(bits)
		}
		for name, fd := range fuzzFields {
			c := &config.Campaign{ID: "fuzz", Fields: map[string]config.Field{name: fd}}
			checkFuzz(t, c, map[string]any{name: v})
			if name == "email" {
				if out, errs := Fields(c, map[string]any{name: v}); errs == nil && out[name] != nil {
					if e := out[name].(string); !checkedByNetMail(e) {
						t.Errorf("accepted email %q, which net/mail does not take unchanged", e)
					}
				}
			}
		}
		if kind%8 == 0 {
			if fast, ok := plainUSPhone(strings.TrimSpace(s)); ok {
				if slow, ok := parsePhone(strings.TrimSpace(s)); !ok || slow != fast {
					t.Errorf("phone %q: fast path gives %q, phonenumbers gives %q, %v", s, fast, slow, ok)
				}
			}
			// The other way round: what net/mail takes unchanged, with one
			// @ and a dot in the domain, is an email address.
			c := &config.Campaign{ID: "fuzz", Fields: map[string]config.Field{"email": {Type: config.TypeEmail}}}
			a := strings.TrimSpace(s)
			at := strings.IndexByte(a, '@')
			if checkedByNetMail(a) && len(a) <= maxEmail && strings.Count(a, "@") == 1 && strings.Contains(a[at:], ".") {
				if _, errs := Fields(c, map[string]any{"email": s}); errs != nil {
					t.Errorf("net/mail takes %q, Fields says %+v", a, errs)
				}
			}
		}
		checkFuzz(t, &config.Campaign{ID: "fuzz", Fields: map[string]config.Field{"x": {Type: config.TypeString}}}, map[string]any{s: v})
		checkFuzz(t, &config.Campaign{ID: "fuzz", Strict: true, Fields: fuzzFields}, map[string]any{s: v})
	})
}

func checkFuzz(t *testing.T, c *config.Campaign, raw map[string]any) {
	t.Helper()
	out, errs := Fields(c, raw)
	if errs != nil {
		if out != nil {
			t.Fatalf("Fields(%#v) returned output %#v with errors %+v", raw, out, errs)
		}
		if !slices.IsSortedFunc(errs, func(a, b FieldError) int { return strings.Compare(a.Field, b.Field) }) {
			t.Errorf("errors not sorted: %+v", errs)
		}
		for _, e := range errs {
			if !slices.Contains(codes, e.Code) || e.Message == "" {
				t.Errorf("Fields(%#v): malformed error %+v", raw, e)
			}
		}
		return
	}
	for k, v := range out {
		switch v.(type) {
		case string, int64, float64, bool:
		default:
			t.Fatalf("Fields(%#v): %s = %#v of type %T", raw, k, v, v)
		}
	}
	again, errs := Fields(c, out)
	if errs != nil || !reflect.DeepEqual(again, out) {
		t.Fatalf("Fields(%#v) = %#v, which validates again to %#v, %+v", raw, out, again, errs)
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatalf("json.Marshal(%#v): %v", out, err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var back map[string]any
	if err := dec.Decode(&back); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	if again, errs := Fields(c, back); errs != nil || !reflect.DeepEqual(again, out) {
		t.Fatalf("Fields(%#v) = %#v; through JSON %s it validates to %#v, %+v", raw, out, b, again, errs)
	}
}

// checkedByNetMail reports whether net/mail parses s as a bare address and
// gives it back unchanged.
func checkedByNetMail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s
}
