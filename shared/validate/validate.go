// Package validate checks the fields a source posts against its campaign's
// schema and normalises them, on the ingest hot path.
//
// Fields accepts values as encoding/json decodes them with UseNumber
// (json.Number, string, bool, nil, and nested []any or map[string]any, which
// no field type accepts), as form posts carry them (every value a string),
// and as Fields itself returns them (string, int64, float64, bool), so
// validating a normalised lead again gives the same lead.
//
// An empty or blank string and null count as an absent field. Every problem
// with a lead is reported, one per field, sorted by field name.
//
// What each type takes, beyond the obvious:
//   - string: a JSON number is kept as its text; a boolean is refused.
//   - integer: any whole value ("42", 42.0, 4.2e1); number: any finite one.
//     Hex, "Inf", "NaN", "1,000" and "$5" are refused.
//   - boolean: true/false, yes/no, on/off (an HTML checkbox posts "on") and
//     1/0, in any case, and the JSON numbers 1 and 0.
//   - enum: a JSON number matches a value by its text ("2").
//   - email: dot-atom@dot-atom only; quoted local parts ("a b"@x.com) and
//     domain literals (a@[192.0.2.1]) are refused, though RFC 5322 has them.
//   - phone: read as a US number unless it starts with + and a country code,
//     so valid numbers of other countries are kept; an extension is dropped.
//   - zip: nine digits without the dash are taken as ZIP+4.
package validate

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/leadrelay/leadrelay/shared/config"
)

// Codes of FieldError.
const (
	// CodeRequired: a required field is absent, null or blank.
	CodeRequired = "required"
	// CodeInvalid: the value has the wrong type or format.
	CodeInvalid = "invalid"
	// CodeTooLong: the value has more characters than max_length allows.
	CodeTooLong = "too_long"
	// CodeTooSmall: the number is below the field's min.
	CodeTooSmall = "too_small"
	// CodeTooLarge: the number is above the field's max.
	CodeTooLarge = "too_large"
	// CodeNotAllowed: the value is not one of an enum field's values.
	CodeNotAllowed = "not_allowed"
	// CodeUnknown: a strict campaign does not declare the field.
	CodeUnknown = "unknown"
)

// maxFieldName bounds the names of pass-through fields that a non-strict
// campaign does not declare.
const maxFieldName = 128

// FieldError is one problem with one field of a posted lead; it is the public
// error shape of POST /v1/leads: {"field": "phone", "code": "invalid", "message": "..."}.
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error returns "field: message".
func (e FieldError) Error() string { return e.Field + ": " + e.Message }

// Fields checks raw posted fields against the campaign's schema and returns the normalised
// fields, or every problem found (sorted by field name; the returned map is nil then).
//
// Normalised values are string, int64, float64 or bool; absent, null and
// blank optional fields are left out. A non-strict campaign keeps fields it
// does not declare as trimmed strings or JSON scalars (bool, int64 when
// integral, float64 otherwise).
func Fields(c *config.Campaign, raw map[string]any) (map[string]any, []FieldError) {
	out := make(map[string]any, len(raw))
	var errs []FieldError
	for name, f := range c.Fields {
		v, ok := raw[name]
		if !ok || isBlank(v) {
			if f.Required {
				errs = append(errs, FieldError{Field: name, Code: CodeRequired, Message: "is required but missing or empty"})
			}
			continue
		}
		n, p := normalise(&f, v)
		if p.code != "" {
			errs = append(errs, FieldError{Field: name, Code: p.code, Message: p.message})
			continue
		}
		out[name] = n
	}
	for name, v := range raw {
		if _, ok := c.Fields[name]; ok {
			continue
		}
		if c.Strict {
			errs = append(errs, FieldError{Field: name, Code: CodeUnknown, Message: fmt.Sprintf("is not a field of campaign %q", c.ID)})
			continue
		}
		if name == "" || len(name) > maxFieldName || !utf8.ValidString(name) {
			errs = append(errs, FieldError{Field: name, Code: CodeInvalid, Message: fmt.Sprintf("field names must be 1 to %d bytes of UTF-8 text", maxFieldName)})
			continue
		}
		if isBlank(v) {
			continue
		}
		n, p := passThrough(v)
		if p.code != "" {
			errs = append(errs, FieldError{Field: name, Code: p.code, Message: p.message})
			continue
		}
		out[name] = n
	}
	if len(errs) > 0 {
		slices.SortFunc(errs, func(a, b FieldError) int { return strings.Compare(a.Field, b.Field) })
		return nil, errs
	}
	return out, nil
}

// problem is a code and message, empty when there is none. Returning it by
// value keeps the accepting path free of allocations.
type problem struct{ code, message string }

func invalid(format string, args ...any) problem {
	return problem{CodeInvalid, fmt.Sprintf(format, args...)}
}

// isBlank reports whether v counts as absent: nil, or a string that is empty
// once trimmed.
func isBlank(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return strings.TrimSpace(v) == ""
	}
	return false
}

// normalise checks one present, non-blank value against its field.
func normalise(f *config.Field, v any) (any, problem) {
	switch f.Type {
	case config.TypeString:
		return normString(f, v)
	case config.TypeInteger:
		return normInteger(f, v)
	case config.TypeNumber:
		return normNumber(f, v)
	case config.TypeBoolean:
		return normBoolean(v)
	case config.TypeEnum:
		return normEnum(f, v)
	case config.TypeEmail:
		return normEmail(f, v)
	case config.TypePhone:
		return normPhone(v)
	case config.TypeUSState:
		return normUSState(v)
	case config.TypeZip:
		return normZip(v)
	}
	// config.Parse refuses unknown types; a campaign built by hand may not.
	return nil, invalid("the campaign declares unknown field type %q", f.Type)
}

// passThrough keeps a field a non-strict campaign does not declare.
func passThrough(v any) (any, problem) {
	switch x := v.(type) {
	case string:
		s := strings.TrimSpace(x)
		if !utf8.ValidString(s) {
			return nil, invalid("is not valid UTF-8 text")
		}
		return box(v, s), problem{}
	case bool:
		return x, problem{}
	case int:
		return int64(x), problem{}
	case int64:
		return x, problem{}
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, invalid("is not a finite number")
		}
		if i, ok := wholeInt64(x); ok {
			return i, problem{}
		}
		return x, problem{}
	case json.Number:
		if i, p := parseInt(string(x)); p.code == "" {
			return i, problem{}
		}
		f, p := parseFloat(string(x))
		if p.code != "" {
			return nil, p
		}
		return f, problem{}
	}
	return nil, wrongType(v, "text, a number or a boolean")
}

// wrongType reports a value of a type the field does not take.
func wrongType(v any, want string) problem {
	switch v.(type) {
	case []any:
		return invalid("must be %s, not a list", want)
	case map[string]any:
		return invalid("must be %s, not an object", want)
	case bool:
		return invalid("must be %s, not a boolean", want)
	case string:
		return invalid("must be %s, not text", want)
	case json.Number, int, int64, float64:
		return invalid("must be %s, not a number", want)
	}
	return invalid("must be %s, not a %T", want, v)
}

// box returns the normalised string s as an interface, reusing v when it
// already holds exactly s: storing a string in an interface allocates, and
// most posted values are already normal.
func box(v any, s string) any {
	if raw, ok := v.(string); ok && raw == s {
		return v
	}
	return s
}
