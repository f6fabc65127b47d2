package validate

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/leadrelay/leadrelay/shared/config"
)

// normString trims text; a number posted to a text field is kept as its
// decimal text.
func normString(f *config.Field, v any) (any, problem) {
	var s string
	switch x := v.(type) {
	case string:
		s = strings.TrimSpace(x)
		if !utf8.ValidString(s) {
			return nil, invalid("is not valid UTF-8 text")
		}
	case json.Number:
		if !isDecimal(string(x)) {
			return nil, notNumber(string(x))
		}
		s = string(x)
	case int:
		s = strconv.Itoa(x)
	case int64:
		s = strconv.FormatInt(x, 10)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, invalid("is not a finite number")
		}
		s = strconv.FormatFloat(x, 'g', -1, 64)
	default:
		return nil, wrongType(v, "text")
	}
	if p := maxLength(f, s); p.code != "" {
		return nil, p
	}
	return box(v, s), problem{}
}

// maxLength checks s against the field's max_length, in characters (runes).
func maxLength(f *config.Field, s string) problem {
	if f.MaxLength > 0 && len(s) > f.MaxLength && utf8.RuneCountInString(s) > f.MaxLength {
		return problem{CodeTooLong, fmt.Sprintf("must be at most %d characters long", f.MaxLength)}
	}
	return problem{}
}

// normInteger takes a whole number: a JSON number or decimal text whose value
// has no fraction ("42", "42.0", "4.2e1").
func normInteger(f *config.Field, v any) (any, problem) {
	var i int64
	switch x := v.(type) {
	case int:
		i = int64(x)
	case int64:
		i = x
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, invalid("is not a finite number")
		}
		w, ok := wholeInt64(x)
		if !ok {
			return nil, notWhole(x)
		}
		i = w
	case json.Number:
		var p problem
		if i, p = parseInt(string(x)); p.code != "" {
			return nil, p
		}
	case string:
		var p problem
		if i, p = parseInt(strings.TrimSpace(x)); p.code != "" {
			return nil, p
		}
	default:
		return nil, wrongType(v, "a whole number")
	}
	if p := inRange(f, float64(i)); p.code != "" {
		return nil, p
	}
	return i, problem{}
}

// normNumber takes any finite number, from JSON or decimal text.
func normNumber(f *config.Field, v any) (any, problem) {
	var n float64
	switch x := v.(type) {
	case int:
		n = float64(x)
	case int64:
		n = float64(x)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, invalid("is not a finite number")
		}
		n = x
	case json.Number:
		var p problem
		if n, p = parseFloat(string(x)); p.code != "" {
			return nil, p
		}
	case string:
		var p problem
		if n, p = parseFloat(strings.TrimSpace(x)); p.code != "" {
			return nil, p
		}
	default:
		return nil, wrongType(v, "a number")
	}
	if n == 0 {
		n = 0 // no negative zero
	}
	if p := inRange(f, n); p.code != "" {
		return nil, p
	}
	return n, problem{}
}

// inRange checks n against the field's min and max.
func inRange(f *config.Field, n float64) problem {
	if f.Min != nil && n < *f.Min {
		return problem{CodeTooSmall, "must be at least " + strconv.FormatFloat(*f.Min, 'f', -1, 64)}
	}
	if f.Max != nil && n > *f.Max {
		return problem{CodeTooLarge, "must be at most " + strconv.FormatFloat(*f.Max, 'f', -1, 64)}
	}
	return problem{}
}

// parseInt reads decimal text as a whole number that fits in 64 bits.
func parseInt(s string) (int64, problem) {
	if !isDecimal(s) {
		return 0, notNumber(s)
	}
	i, err := strconv.ParseInt(s, 10, 64)
	if err == nil {
		return i, problem{}
	}
	f, p := parseFloat(s)
	if p.code != "" {
		return 0, p
	}
	if f != math.Trunc(f) {
		return 0, notWhole(f)
	}
	w, ok := wholeInt64(f)
	if !ok {
		if f < 0 {
			return 0, problem{CodeTooSmall, "is below the smallest whole number accepted (-9223372036854775808)"}
		}
		return 0, problem{CodeTooLarge, "is above the largest whole number accepted (9223372036854775807)"}
	}
	return w, problem{}
}

// parseFloat reads decimal text as a finite number.
func parseFloat(s string) (float64, problem) {
	if !isDecimal(s) {
		return 0, notNumber(s)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, notNumber(s)
	}
	switch {
	case math.IsInf(f, 1):
		return 0, problem{CodeTooLarge, "is too large to be a number"}
	case math.IsInf(f, -1):
		return 0, problem{CodeTooSmall, "is too small to be a number"}
	case f == 0:
		f = 0 // no negative zero
	}
	return f, problem{}
}

// wholeInt64 returns f as an int64 when it has no fraction and fits.
func wholeInt64(f float64) (int64, bool) {
	if f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		return 0, false
	}
	return int64(f), true
}

func notWhole(f float64) problem {
	return invalid("must be a whole number, not %s", strconv.FormatFloat(f, 'f', -1, 64))
}

func notNumber(s string) problem {
	return invalid("%s is not a number; send digits such as 42 or 4.25", quote(s))
}

// isDecimal reports whether s is a plain decimal number: an optional sign,
// digits with an optional fraction, and an optional exponent ("-4.25e3").
// It refuses what strconv also reads but a lead should not carry: hex,
// underscores, "Inf" and "NaN".
func isDecimal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for ; i < len(s) && isDigit(s[i]); i++ {
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for ; i < len(s) && isDigit(s[i]); i++ {
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		start := i
		for ; i < len(s) && isDigit(s[i]); i++ {
		}
		if i == start {
			return false
		}
	}
	return i == len(s)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// normBoolean takes a JSON boolean, the numbers 1 and 0, or the words
// true/false, yes/no, on/off (an HTML checkbox posts "on") and 1/0 in any case.
func normBoolean(v any) (any, problem) {
	switch x := v.(type) {
	case bool:
		return x, problem{}
	case int:
		if x == 0 || x == 1 {
			return x == 1, problem{}
		}
	case int64:
		if x == 0 || x == 1 {
			return x == 1, problem{}
		}
	case json.Number:
		switch x {
		case "1":
			return true, problem{}
		case "0":
			return false, problem{}
		}
	case string:
		s := strings.TrimSpace(x)
		for _, w := range trueWords {
			if strings.EqualFold(s, w) {
				return true, problem{}
			}
		}
		for _, w := range falseWords {
			if strings.EqualFold(s, w) {
				return false, problem{}
			}
		}
		return nil, invalid("%s is not a boolean; send true or false", quote(s))
	default:
		return nil, wrongType(v, "true or false")
	}
	return nil, invalid("must be true or false (or 1 or 0)")
}

var (
	trueWords  = [...]string{"true", "1", "yes", "on"}
	falseWords = [...]string{"false", "0", "no", "off"}
)

// normEnum matches one of the field's values regardless of case and returns
// it spelt as configured.
func normEnum(f *config.Field, v any) (any, problem) {
	var s string
	switch x := v.(type) {
	case string:
		s = strings.TrimSpace(x)
	case json.Number:
		if !isDecimal(string(x)) {
			return nil, notNumber(string(x))
		}
		s = string(x)
	case int:
		s = strconv.Itoa(x)
	case int64:
		s = strconv.FormatInt(x, 10)
	default:
		return nil, wrongType(v, "one of "+listValues(f.Values))
	}
	if p := maxLength(f, s); p.code != "" {
		return nil, p
	}
	for _, want := range f.Values {
		if strings.EqualFold(s, want) {
			return box(v, want), problem{}
		}
	}
	return nil, problem{CodeNotAllowed, fmt.Sprintf("%s is not allowed; send one of %s", quote(s), listValues(f.Values))}
}

// listValues lists an enum's values for a message, the first ten at most.
func listValues(vs []string) string {
	const most = 10
	var b strings.Builder
	for i, v := range vs {
		if i == most {
			fmt.Fprintf(&b, " (and %d more)", len(vs)-most)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(v)
	}
	return b.String()
}

// quote quotes posted text for a message, cut short when it is long.
func quote(s string) string {
	const most = 40
	if utf8.RuneCountInString(s) <= most {
		return strconv.Quote(s)
	}
	n := 0
	for i := range s {
		if n == most {
			return strconv.Quote(s[:i]) + "…"
		}
		n++
	}
	return strconv.Quote(s)
}
