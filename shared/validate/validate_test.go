package validate

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/leadrelay/leadrelay/shared/config"
)

func ptr(f float64) *float64 { return &f }

// absent marks a case whose field must be left out of the output.
type absentValue struct{}

var absent = absentValue{}

type fieldCase struct {
	name  string
	field config.Field
	raw   any
	want  any    // normalised value, or absent; ignored when code is set
	code  string // expected FieldError code, "" when accepted
	msg   string // a phrase the message must contain, if set
}

// runFieldCases posts each case's raw value as the single field "f" of a
// campaign and checks the outcome; every accepted value must validate again
// to itself.
func runFieldCases(t *testing.T, cases []fieldCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &config.Campaign{ID: "test", Fields: map[string]config.Field{"f": tc.field}}
			out, errs := Fields(c, map[string]any{"f": tc.raw})
			if tc.code != "" {
				if out != nil {
					t.Errorf("output = %#v, want nil with errors", out)
				}
				if len(errs) != 1 || errs[0].Field != "f" || errs[0].Code != tc.code {
					t.Fatalf("errors = %+v, want one %q error on f", errs, tc.code)
				}
				if errs[0].Message == "" || !strings.Contains(errs[0].Message, tc.msg) {
					t.Errorf("message = %q, want it to contain %q", errs[0].Message, tc.msg)
				}
				return
			}
			if errs != nil {
				t.Fatalf("errors = %+v, want none", errs)
			}
			got, ok := out["f"]
			if tc.want == absent {
				if ok {
					t.Fatalf("f = %#v, want it left out", got)
				}
				return
			}
			if !ok || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("f = %#v (%T), want %#v (%T)", got, got, tc.want, tc.want)
			}
			again, errs := Fields(c, out)
			if errs != nil || !reflect.DeepEqual(again, out) {
				t.Fatalf("re-validating %#v gave %#v, %+v", out, again, errs)
			}
		})
	}
}

func TestString(t *testing.T) {
	str := config.Field{Type: config.TypeString}
	max3 := config.Field{Type: config.TypeString, MaxLength: 3}
	runFieldCases(t, []fieldCase{
		{name: "trimmed", field: str, raw: "  Jane \t", want: "Jane"},
		{name: "kept", field: str, raw: "Jane", want: "Jane"},
		{name: "inner space kept", field: str, raw: " Mary  Ann ", want: "Mary  Ann"},
		{name: "json number as text", field: str, raw: json.Number("0042"), want: "0042"},
		{name: "int64 as text", field: str, raw: int64(7), want: "7"},
		{name: "float64 as text", field: str, raw: 2.5, want: "2.5"},
		{name: "empty is absent", field: str, raw: "", want: absent},
		{name: "blank is absent", field: str, raw: " \t\n", want: absent},
		{name: "null is absent", field: str, raw: nil, want: absent},
		{name: "max length in runes", field: max3, raw: "äöü", want: "äöü"},
		{name: "max length after trim", field: max3, raw: "  abc  ", want: "abc"},
		{name: "too long", field: max3, raw: "abcd", code: CodeTooLong, msg: "at most 3 characters"},
		{name: "too long runes", field: max3, raw: "äöüß", code: CodeTooLong},
		{name: "bool", field: str, raw: true, code: CodeInvalid, msg: "not a boolean"},
		{name: "list", field: str, raw: []any{"a"}, code: CodeInvalid, msg: "not a list"},
		{name: "object", field: str, raw: map[string]any{"a": "b"}, code: CodeInvalid, msg: "not an object"},
		{name: "invalid utf-8", field: str, raw: "a\xffb", code: CodeInvalid, msg: "UTF-8"},
		{name: "NaN", field: str, raw: math.NaN(), code: CodeInvalid},
		{name: "other Go type", field: str, raw: struct{}{}, code: CodeInvalid},
	})
}

func TestInteger(t *testing.T) {
	i := config.Field{Type: config.TypeInteger}
	age := config.Field{Type: config.TypeInteger, Min: ptr(18), Max: ptr(100)}
	runFieldCases(t, []fieldCase{
		{name: "json number", field: i, raw: json.Number("42"), want: int64(42)},
		{name: "negative", field: i, raw: json.Number("-7"), want: int64(-7)},
		{name: "text", field: i, raw: "42", want: int64(42)},
		{name: "padded text", field: i, raw: " 42 ", want: int64(42)},
		{name: "plus sign", field: i, raw: "+42", want: int64(42)},
		{name: "integral fraction", field: i, raw: json.Number("42.0"), want: int64(42)},
		{name: "exponent", field: i, raw: json.Number("4.2e1"), want: int64(42)},
		{name: "int64 max", field: i, raw: "9223372036854775807", want: int64(math.MaxInt64)},
		{name: "int64 min", field: i, raw: "-9223372036854775808", want: int64(math.MinInt64)},
		{name: "float64", field: i, raw: 42.0, want: int64(42)},
		{name: "int", field: i, raw: 42, want: int64(42)},
		{name: "empty is absent", field: i, raw: "", want: absent},
		{name: "at min", field: age, raw: "18", want: int64(18)},
		{name: "at max", field: age, raw: json.Number("100"), want: int64(100)},
		{name: "below min", field: age, raw: "17", code: CodeTooSmall, msg: "at least 18"},
		{name: "above max", field: age, raw: json.Number("101"), code: CodeTooLarge, msg: "at most 100"},
		{name: "fraction", field: i, raw: json.Number("42.5"), code: CodeInvalid, msg: "whole number"},
		{name: "float64 fraction", field: i, raw: 42.5, code: CodeInvalid, msg: "whole number"},
		{name: "overflow", field: i, raw: "99999999999999999999", code: CodeTooLarge},
		{name: "underflow", field: i, raw: "-99999999999999999999", code: CodeTooSmall},
		{name: "huge exponent", field: i, raw: json.Number("1e400"), code: CodeTooLarge},
		{name: "words", field: i, raw: "forty", code: CodeInvalid, msg: "not a number"},
		{name: "hex", field: i, raw: "0x10", code: CodeInvalid},
		{name: "underscores", field: i, raw: "1_000", code: CodeInvalid},
		{name: "thousands separator", field: i, raw: "1,000", code: CodeInvalid},
		{name: "Inf", field: i, raw: "Inf", code: CodeInvalid},
		{name: "NaN text", field: i, raw: "NaN", code: CodeInvalid},
		{name: "NaN float", field: i, raw: math.NaN(), code: CodeInvalid},
		{name: "bool", field: i, raw: true, code: CodeInvalid, msg: "not a boolean"},
		{name: "list", field: i, raw: []any{json.Number("1")}, code: CodeInvalid},
	})
}

func TestNumber(t *testing.T) {
	n := config.Field{Type: config.TypeNumber}
	rng := config.Field{Type: config.TypeNumber, Min: ptr(0.5), Max: ptr(99.5)}
	runFieldCases(t, []fieldCase{
		{name: "json number", field: n, raw: json.Number("4.25"), want: 4.25},
		{name: "integral", field: n, raw: json.Number("42"), want: 42.0},
		{name: "exponent", field: n, raw: json.Number("1e3"), want: 1000.0},
		{name: "text", field: n, raw: " 4.25 ", want: 4.25},
		{name: "leading dot", field: n, raw: ".5", want: 0.5},
		{name: "trailing dot", field: n, raw: "5.", want: 5.0},
		{name: "negative zero", field: n, raw: "-0", want: 0.0},
		{name: "int64", field: n, raw: int64(3), want: 3.0},
		{name: "float64", field: n, raw: 3.5, want: 3.5},
		{name: "at min", field: rng, raw: "0.5", want: 0.5},
		{name: "below min", field: rng, raw: "0.49", code: CodeTooSmall, msg: "at least 0.5"},
		{name: "above max", field: rng, raw: json.Number("99.51"), code: CodeTooLarge, msg: "at most 99.5"},
		{name: "overflow", field: n, raw: json.Number("1e400"), code: CodeTooLarge},
		{name: "negative overflow", field: n, raw: "-1e400", code: CodeTooSmall},
		{name: "words", field: n, raw: "lots", code: CodeInvalid, msg: "not a number"},
		{name: "dangling exponent", field: n, raw: "1e", code: CodeInvalid},
		{name: "sign only", field: n, raw: "+", code: CodeInvalid},
		{name: "double sign", field: n, raw: "--1", code: CodeInvalid},
		{name: "currency", field: n, raw: "$25", code: CodeInvalid},
		{name: "hex float", field: n, raw: "0x1p4", code: CodeInvalid},
		{name: "infinity text", field: n, raw: "infinity", code: CodeInvalid},
		{name: "Inf float", field: n, raw: math.Inf(1), code: CodeInvalid},
		{name: "bool", field: n, raw: false, code: CodeInvalid},
		{name: "object", field: n, raw: map[string]any{}, code: CodeInvalid},
	})
	// reflect.DeepEqual takes -0 for 0: check the sign on its own.
	for _, raw := range []any{"-0", json.Number("-0.0"), math.Copysign(0, -1)} {
		c := &config.Campaign{ID: "test", Fields: map[string]config.Field{"f": n}}
		out, errs := Fields(c, map[string]any{"f": raw})
		if f, ok := out["f"].(float64); errs != nil || !ok || math.Signbit(f) {
			t.Errorf("Fields(%#v) = %#v, %+v; want positive zero", raw, out, errs)
		}
	}
}

func TestBoolean(t *testing.T) {
	b := config.Field{Type: config.TypeBoolean}
	runFieldCases(t, []fieldCase{
		{name: "true", field: b, raw: true, want: true},
		{name: "false", field: b, raw: false, want: false},
		{name: "text true", field: b, raw: "true", want: true},
		{name: "text TRUE", field: b, raw: "TRUE", want: true},
		{name: "text False", field: b, raw: " False ", want: false},
		{name: "text 1", field: b, raw: "1", want: true},
		{name: "text 0", field: b, raw: "0", want: false},
		{name: "yes", field: b, raw: "Yes", want: true},
		{name: "no", field: b, raw: "NO", want: false},
		{name: "checkbox on", field: b, raw: "on", want: true},
		{name: "off", field: b, raw: "off", want: false},
		{name: "json 1", field: b, raw: json.Number("1"), want: true},
		{name: "json 0", field: b, raw: json.Number("0"), want: false},
		{name: "int64 1", field: b, raw: int64(1), want: true},
		{name: "empty is absent", field: b, raw: "", want: absent},
		{name: "maybe", field: b, raw: "maybe", code: CodeInvalid, msg: "send true or false"},
		{name: "typo", field: b, raw: "tru", code: CodeInvalid},
		{name: "text 2", field: b, raw: "2", code: CodeInvalid},
		{name: "json 2", field: b, raw: json.Number("2"), code: CodeInvalid},
		{name: "json 1.0", field: b, raw: json.Number("1.0"), code: CodeInvalid},
		{name: "list", field: b, raw: []any{true}, code: CodeInvalid},
	})
}

func TestEnum(t *testing.T) {
	e := config.Field{Type: config.TypeEnum, Values: []string{"Owner", "Renter", "Lives with family"}}
	tiers := config.Field{Type: config.TypeEnum, Values: []string{"1", "2", "3"}}
	short := config.Field{Type: config.TypeEnum, Values: []string{"Owner", "No"}, MaxLength: 3}
	runFieldCases(t, []fieldCase{
		{name: "exact", field: e, raw: "Owner", want: "Owner"},
		{name: "case folded", field: e, raw: "owner", want: "Owner"},
		{name: "upper and padded", field: e, raw: "  RENTER ", want: "Renter"},
		{name: "with spaces", field: e, raw: "lives WITH family", want: "Lives with family"},
		{name: "json number", field: tiers, raw: json.Number("2"), want: "2"},
		{name: "text number", field: tiers, raw: "3", want: "3"},
		{name: "within max length", field: short, raw: "no", want: "No"},
		{name: "empty is absent", field: e, raw: " ", want: absent},
		{name: "not listed", field: e, raw: "Owned", code: CodeNotAllowed, msg: "Owner, Renter, Lives with family"},
		{name: "number not listed", field: tiers, raw: json.Number("4"), code: CodeNotAllowed},
		{name: "too long", field: short, raw: "Owner", code: CodeTooLong},
		{name: "bool", field: e, raw: true, code: CodeInvalid},
		{name: "list", field: e, raw: []any{"Owner"}, code: CodeInvalid},
	})
}

func TestEmail(t *testing.T) {
	e := config.Field{Type: config.TypeEmail}
	max16 := config.Field{Type: config.TypeEmail, MaxLength: 16}
	long := strings.Repeat("a", 64) + "@" + strings.Repeat("b", 185) + ".com"
	runFieldCases(t, []fieldCase{
		{name: "plain", field: e, raw: "jane@example.com", want: "jane@example.com"},
		{name: "domain lowered, local kept", field: e, raw: " Jane.Doe@Example.COM ", want: "Jane.Doe@example.com"},
		{name: "plus tag and subdomains", field: e, raw: "a+tag@mail.example.co.uk", want: "a+tag@mail.example.co.uk"},
		{name: "atext specials", field: e, raw: "o'brien_{x}@example.org", want: "o'brien_{x}@example.org"},
		{name: "unicode", field: e, raw: "JOSÉ@EXÄMPLE.COM", want: "JOSÉ@exämple.com"},
		{name: "254 characters", field: e, raw: long, want: long},
		{name: "max length", field: max16, raw: "jane@example.com", want: "jane@example.com"},
		{name: "empty is absent", field: e, raw: "", want: absent},
		{name: "quoted local part", field: e, raw: `"john smith"@example.com`, code: CodeInvalid},
		{name: "quoted dot-atom", field: e, raw: `"john"@example.com`, code: CodeInvalid},
		{name: "display name", field: e, raw: "Jane <jane@example.com>", code: CodeInvalid, msg: "not a valid email address"},
		{name: "angle brackets", field: e, raw: "<jane@example.com>", code: CodeInvalid},
		{name: "comment", field: e, raw: "(work)jane@example.com", code: CodeInvalid},
		{name: "no at", field: e, raw: "jane.example.com", code: CodeInvalid},
		{name: "no local part", field: e, raw: "@example.com", code: CodeInvalid},
		{name: "no domain", field: e, raw: "jane@", code: CodeInvalid},
		{name: "two ats", field: e, raw: "jane@doe@example.com", code: CodeInvalid},
		{name: "double at", field: e, raw: "jane@@example.com", code: CodeInvalid},
		{name: "no dot in domain", field: e, raw: "jane@localhost", code: CodeInvalid},
		{name: "trailing dot", field: e, raw: "jane@example.com.", code: CodeInvalid},
		{name: "leading dot in domain", field: e, raw: "jane@.example.com", code: CodeInvalid},
		{name: "double dot", field: e, raw: "jane..doe@example.com", code: CodeInvalid},
		{name: "space inside", field: e, raw: "jane doe@example.com", code: CodeInvalid},
		{name: "space in domain", field: e, raw: "jane@exa mple.com", code: CodeInvalid},
		{name: "domain literal", field: e, raw: "jane@[192.0.2.1]", code: CodeInvalid},
		{name: "comma list", field: e, raw: "a@example.com,b@example.com", code: CodeInvalid},
		{name: "invalid utf-8", field: e, raw: "j\xffne@example.com", code: CodeInvalid},
		{name: "over 254", field: e, raw: "a" + long, code: CodeTooLong},
		{name: "over max length", field: max16, raw: "janet@example.com", code: CodeTooLong, msg: "at most 16"},
		{name: "number", field: e, raw: json.Number("1"), code: CodeInvalid},
		{name: "list", field: e, raw: []any{"jane@example.com"}, code: CodeInvalid},
	})
}

func TestPhone(t *testing.T) {
	p := config.Field{Type: config.TypePhone}
	const want = "+14158921234"
	runFieldCases(t, []fieldCase{
		{name: "parentheses", field: p, raw: "(415) 892-1234", want: want},
		{name: "dots", field: p, raw: "415.892.1234", want: want},
		{name: "international", field: p, raw: "+1 415 892 1234", want: want},
		{name: "leading 1", field: p, raw: "14158921234", want: want},
		{name: "ten digits", field: p, raw: "4158921234", want: want},
		{name: "e164 kept", field: p, raw: want, want: want},
		{name: "padded", field: p, raw: "  415-892-1234  ", want: want},
		{name: "json number", field: p, raw: json.Number("4158921234"), want: want},
		{name: "int64", field: p, raw: int64(14158921234), want: want},
		{name: "canada shares +1", field: p, raw: "(604) 681-3000", want: "+16046813000"},
		{name: "other country with +", field: p, raw: "+44 20 7031 3000", want: "+442070313000"},
		{name: "empty is absent", field: p, raw: "", want: absent},
		{name: "seven digits", field: p, raw: "892-1234", code: CodeInvalid, msg: "not a valid phone number"},
		{name: "too short", field: p, raw: "+1 415 892 123", code: CodeInvalid},
		{name: "zeros", field: p, raw: "+1 000 000 0000", code: CodeInvalid},
		{name: "area code starts with 1", field: p, raw: "(115) 892-1234", code: CodeInvalid},
		{name: "words", field: p, raw: "call me", code: CodeInvalid},
		{name: "very long", field: p, raw: strings.Repeat("4", 100), code: CodeInvalid},
		{name: "bool", field: p, raw: true, code: CodeInvalid},
		{name: "float", field: p, raw: 4158921234.0, code: CodeInvalid},
		{name: "object", field: p, raw: map[string]any{"number": "4158921234"}, code: CodeInvalid},
	})
}

func TestUSState(t *testing.T) {
	s := config.Field{Type: config.TypeUSState}
	runFieldCases(t, []fieldCase{
		{name: "code", field: s, raw: "CA", want: "CA"},
		{name: "lower code", field: s, raw: "ca", want: "CA"},
		{name: "padded code", field: s, raw: " tx ", want: "TX"},
		{name: "name", field: s, raw: "California", want: "CA"},
		{name: "upper name", field: s, raw: "NEW YORK", want: "NY"},
		{name: "name with extra spaces", field: s, raw: " new   hampshire ", want: "NH"},
		{name: "DC", field: s, raw: "dc", want: "DC"},
		{name: "DC name", field: s, raw: "District of Columbia", want: "DC"},
		{name: "Washington, D.C.", field: s, raw: "Washington, D.C.", want: "DC"},
		{name: "Washington is a state", field: s, raw: "washington", want: "WA"},
		{name: "Puerto Rico", field: s, raw: "PR", want: "PR"},
		{name: "Virgin Islands", field: s, raw: "vi", want: "VI"},
		{name: "Virgin Islands name", field: s, raw: "U.S. Virgin Islands", want: "VI"},
		{name: "Guam", field: s, raw: "Guam", want: "GU"},
		{name: "American Samoa", field: s, raw: "as", want: "AS"},
		{name: "Northern Mariana Islands", field: s, raw: "northern mariana islands", want: "MP"},
		{name: "empty is absent", field: s, raw: "", want: absent},
		{name: "unknown code", field: s, raw: "XX", code: CodeInvalid, msg: "not a US state"},
		{name: "abbreviation", field: s, raw: "Calif.", code: CodeInvalid},
		{name: "province", field: s, raw: "ON", code: CodeInvalid},
		{name: "accented", field: s, raw: "Cálifornia", code: CodeInvalid},
		{name: "long", field: s, raw: strings.Repeat("x", 100), code: CodeInvalid},
		{name: "number", field: s, raw: json.Number("6"), code: CodeInvalid},
		{name: "list", field: s, raw: []any{"CA"}, code: CodeInvalid},
	})
}

func TestZip(t *testing.T) {
	z := config.Field{Type: config.TypeZip}
	runFieldCases(t, []fieldCase{
		{name: "five digits", field: z, raw: "94110", want: "94110"},
		{name: "leading zero", field: z, raw: "02134", want: "02134"},
		{name: "zip+4", field: z, raw: "94110-1234", want: "94110-1234"},
		{name: "spaces removed", field: z, raw: " 94110 - 1234 ", want: "94110-1234"},
		{name: "nine digits", field: z, raw: "941101234", want: "94110-1234"},
		{name: "empty is absent", field: z, raw: "", want: absent},
		{name: "json number", field: z, raw: json.Number("2134"), code: CodeInvalid, msg: "leading zeros"},
		{name: "four digits", field: z, raw: "9411", code: CodeInvalid, msg: "not a US ZIP code"},
		{name: "six digits", field: z, raw: "941100", code: CodeInvalid},
		{name: "short plus four", field: z, raw: "94110-123", code: CodeInvalid},
		{name: "dangling dash", field: z, raw: "94110-", code: CodeInvalid},
		{name: "leading dash", field: z, raw: "-94110", code: CodeInvalid},
		{name: "two dashes", field: z, raw: "94110--1234", code: CodeInvalid},
		{name: "letters", field: z, raw: "SW1A 1AA", code: CodeInvalid},
		{name: "long", field: z, raw: "94110-12345", code: CodeInvalid},
		{name: "unicode digits", field: z, raw: "٩٤١١٠", code: CodeInvalid},
		{name: "bool", field: z, raw: true, code: CodeInvalid},
	})
}

func TestUnknownFieldType(t *testing.T) {
	runFieldCases(t, []fieldCase{
		{name: "hand-built campaign", field: config.Field{Type: "date"}, raw: "2024-01-01", code: CodeInvalid, msg: `unknown field type "date"`},
	})
}

func TestRequired(t *testing.T) {
	c := &config.Campaign{ID: "auto", Fields: map[string]config.Field{
		"phone": {Type: config.TypePhone, Required: true},
		"age":   {Type: config.TypeInteger, Required: true},
		"zip":   {Type: config.TypeZip},
	}}
	tests := []struct {
		name string
		raw  map[string]any
		want []FieldError
	}{
		{"missing", map[string]any{"age": json.Number("30")}, []FieldError{{Field: "phone", Code: CodeRequired}}},
		{"null", map[string]any{"phone": nil, "age": json.Number("30")}, []FieldError{{Field: "phone", Code: CodeRequired}}},
		{"empty", map[string]any{"phone": "", "age": json.Number("30")}, []FieldError{{Field: "phone", Code: CodeRequired}}},
		{"blank", map[string]any{"phone": "  ", "age": json.Number("30")}, []FieldError{{Field: "phone", Code: CodeRequired}}},
		{"both, sorted", nil, []FieldError{{Field: "age", Code: CodeRequired}, {Field: "phone", Code: CodeRequired}}},
		{"optional absent is fine", map[string]any{"phone": "4158921234", "age": "30"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errs := Fields(c, tc.raw)
			if len(errs) != len(tc.want) {
				t.Fatalf("errors = %+v, want %+v", errs, tc.want)
			}
			for i := range errs {
				if errs[i].Field != tc.want[i].Field || errs[i].Code != tc.want[i].Code || errs[i].Message == "" {
					t.Errorf("error %d = %+v, want %+v with a message", i, errs[i], tc.want[i])
				}
			}
			if (out == nil) != (len(tc.want) > 0) {
				t.Errorf("output = %#v with %d errors", out, len(errs))
			}
		})
	}
}

func TestUndeclaredFields(t *testing.T) {
	fields := map[string]config.Field{"email": {Type: config.TypeEmail}}
	open := &config.Campaign{ID: "open", Fields: fields}
	strict := &config.Campaign{ID: "tight", Fields: fields, Strict: true}
	tests := []struct {
		name     string
		campaign *config.Campaign
		raw      any
		want     any // absent when left out
		code     string
	}{
		{"text trimmed", open, " fb_ad_12 ", "fb_ad_12", ""},
		{"bool", open, true, true, ""},
		{"integral number", open, json.Number("3"), int64(3), ""},
		{"integral with fraction", open, json.Number("3.0"), int64(3), ""},
		{"beyond int64", open, json.Number("1e20"), 1e20, ""},
		{"fraction", open, json.Number("3.5"), 3.5, ""},
		{"numeric text stays text", open, "0042", "0042", ""},
		{"int64", open, int64(9), int64(9), ""},
		{"float64", open, 2.5, 2.5, ""},
		{"null dropped", open, nil, absent, ""},
		{"empty dropped", open, "", absent, ""},
		{"list", open, []any{"a"}, nil, CodeInvalid},
		{"object", open, map[string]any{"a": "b"}, nil, CodeInvalid},
		{"invalid utf-8", open, "\xff", nil, CodeInvalid},
		{"json overflow", open, json.Number("1e400"), nil, CodeTooLarge},
		{"NaN", open, math.NaN(), nil, CodeInvalid},
		{"strict refuses", strict, "x", nil, CodeUnknown},
		{"strict refuses even null", strict, nil, nil, CodeUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errs := Fields(tc.campaign, map[string]any{"utm_source": tc.raw, "email": "a@example.com"})
			if tc.code != "" {
				if out != nil || len(errs) != 1 || errs[0].Field != "utm_source" || errs[0].Code != tc.code || errs[0].Message == "" {
					t.Fatalf("Fields = %#v, %+v; want one %q error on utm_source", out, errs, tc.code)
				}
				return
			}
			if errs != nil {
				t.Fatalf("errors = %+v", errs)
			}
			got, ok := out["utm_source"]
			if tc.want == absent {
				if ok {
					t.Fatalf("utm_source = %#v, want it left out", got)
				}
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("utm_source = %#v (%T), want %#v (%T)", got, got, tc.want, tc.want)
			}
			if again, errs := Fields(tc.campaign, out); errs != nil || !reflect.DeepEqual(again, out) {
				t.Fatalf("re-validating %#v gave %#v, %+v", out, again, errs)
			}
		})
	}
}

func TestUndeclaredFieldNames(t *testing.T) {
	c := &config.Campaign{ID: "open", Fields: map[string]config.Field{"email": {Type: config.TypeEmail}}}
	for _, name := range []string{"", strings.Repeat("n", maxFieldName+1), "bad\xffname"} {
		_, errs := Fields(c, map[string]any{name: "x"})
		if len(errs) != 1 || errs[0].Code != CodeInvalid || errs[0].Field != name {
			t.Errorf("field name %q: errors = %+v, want one invalid", name, errs)
		}
	}
	if out, errs := Fields(c, map[string]any{strings.Repeat("n", maxFieldName): "x"}); errs != nil || len(out) != 1 {
		t.Errorf("name of %d bytes: %#v, %+v", maxFieldName, out, errs)
	}
}

// TestEveryProblem checks that all problems come back at once, sorted by
// field, with the JSON shape of the API.
func TestEveryProblem(t *testing.T) {
	c := &config.Campaign{ID: "auto", Strict: true, Fields: map[string]config.Field{
		"phone": {Type: config.TypePhone, Required: true},
		"email": {Type: config.TypeEmail},
		"state": {Type: config.TypeUSState, Required: true},
		"age":   {Type: config.TypeInteger, Min: ptr(18)},
		"tier":  {Type: config.TypeEnum, Values: []string{"gold"}},
		"zip":   {Type: config.TypeZip},
	}}
	raw := map[string]any{
		"phone": "12",
		"email": "nope",
		"age":   json.Number("12"),
		"tier":  "silver",
		"zip":   "94110",
		"x":     "y",
	}
	out, errs := Fields(c, raw)
	if out != nil {
		t.Errorf("output = %#v, want nil", out)
	}
	want := []FieldError{
		{Field: "age", Code: CodeTooSmall},
		{Field: "email", Code: CodeInvalid},
		{Field: "phone", Code: CodeInvalid},
		{Field: "state", Code: CodeRequired},
		{Field: "tier", Code: CodeNotAllowed},
		{Field: "x", Code: CodeUnknown},
	}
	if len(errs) != len(want) {
		t.Fatalf("errors = %+v, want %+v", errs, want)
	}
	for i := range want {
		if errs[i].Field != want[i].Field || errs[i].Code != want[i].Code {
			t.Errorf("error %d = %+v, want %+v", i, errs[i], want[i])
		}
	}
	b, err := json.Marshal(errs[0])
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); got != `{"field":"age","code":"too_small","message":"must be at least 18"}` {
		t.Errorf("JSON = %s", got)
	}
	if got := errs[5].Error(); got != `x: is not a field of campaign "auto"` {
		t.Errorf("Error() = %q", got)
	}
}

// TestParsedCampaign validates a lead against a campaign as config.Parse
// builds it from YAML, from a JSON body decoded with UseNumber.
func TestParsedCampaign(t *testing.T) {
	cfg, err := config.Parse([]byte(`
campaigns:
  - id: auto-insurance
    fields:
      phone:  {type: phone, required: true, pii: true}
      email:  {type: email, pii: true}
      state:  {type: us_state, required: true}
      zip:    {type: zip}
      age:    {type: integer, min: 18, max: 100}
      owner:  {type: boolean}
sources: []
buyers: []
`))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(`{"phone": "(415) 892-1234", "email": "Jo@Example.com", "state": "california",
		"zip": "02134", "age": 34, "owner": "yes", "gclid": "abc", "visits": 3}`))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		t.Fatal(err)
	}
	out, errs := Fields(&cfg.Campaigns[0], raw)
	if errs != nil {
		t.Fatalf("errors = %+v", errs)
	}
	want := map[string]any{
		"phone": "+14158921234", "email": "Jo@example.com", "state": "CA", "zip": "02134",
		"age": int64(34), "owner": true, "gclid": "abc", "visits": int64(3),
	}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("Fields = %#v\nwant     %#v", out, want)
	}
}

// TestEmailFastPath checks that every address the dot-atom fast path takes
// is one net/mail would take unchanged.
func TestEmailFastPath(t *testing.T) {
	for _, s := range []string{
		"jane@example.com", "a.b-c+d@x.y.z", "!#$%&'*+-/=?^_`{|}~@example.com", "ü@example.de",
	} {
		if !checkedByNetMail(s) {
			t.Errorf("%q: net/mail does not take it unchanged", s)
		}
	}
}

// TestPhoneFastPath checks that the fast path for plain North American
// numbers agrees with phonenumbers, and leaves alone what it should.
func TestPhoneFastPath(t *testing.T) {
	tests := []struct {
		in   string
		fast bool // whether the fast path decides
	}{
		{"(415) 892-1234", true},
		{"415.892.1234", true},
		{"+1 415 892 1234", true},
		{"14158921234", true},
		{"+1 (604) 681-3000", true},
		{"(800) 275-2273", true},
		{"+4158921234", false},      // + without the country code 1
		{"(115) 892-1234", false},   // not an area code
		{"1-800-FLOWERS", false},    // letters
		{"+44 20 7031 3000", false}, // another country
		{"415 892 1234 x12", false}, // extension
		{"4158921234567", false},    // too many digits
		{"+1 415 892 123", false},   // too few
		{"(415) 892-1234 ", true},   // blanks are separators
	}
	for _, tc := range tests {
		fast, ok := plainUSPhone(tc.in)
		if ok != tc.fast {
			t.Errorf("plainUSPhone(%q) = %q, %v; want decided %v", tc.in, fast, ok, tc.fast)
		}
		if !ok {
			continue
		}
		if slow, ok := parsePhone(tc.in); !ok || slow != fast {
			t.Errorf("%q: fast path %q, phonenumbers %q, %v", tc.in, fast, slow, ok)
		}
	}
}
