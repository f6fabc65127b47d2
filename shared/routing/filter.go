package routing

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/leadrelay/leadrelay/shared/config"
)

// kind is the type of a value a filter compares.
type kind uint8

const (
	kindNone  kind = iota // absent, null or ""
	kindText              // a string (numeric or not) or a json.Number
	kindInt               // a Go integer
	kindFloat             // a Go float
	kindBool
	kindOther // anything else: compared by its fmt.Sprint text
)

// value is a lead's or a filter's value, unboxed so that comparing it
// allocates nothing in the common cases.
type value struct {
	kind kind
	s    string
	i    int64
	f    float64
	b    bool
	raw  any
}

func valueOf(v any) value {
	switch x := v.(type) {
	case nil:
		return value{}
	case string:
		if x == "" {
			return value{}
		}
		return value{kind: kindText, s: x}
	case json.Number:
		if x == "" {
			return value{}
		}
		return value{kind: kindText, s: string(x)}
	case int:
		return value{kind: kindInt, i: int64(x)}
	case int64:
		return value{kind: kindInt, i: x}
	case int32:
		return value{kind: kindInt, i: int64(x)}
	case int16:
		return value{kind: kindInt, i: int64(x)}
	case int8:
		return value{kind: kindInt, i: int64(x)}
	case uint:
		return uintValue(uint64(x))
	case uint64:
		return uintValue(x)
	case uint32:
		return value{kind: kindInt, i: int64(x)}
	case uint16:
		return value{kind: kindInt, i: int64(x)}
	case uint8:
		return value{kind: kindInt, i: int64(x)}
	case float64:
		return value{kind: kindFloat, f: x}
	case float32:
		return value{kind: kindFloat, f: float64(x)}
	case bool:
		return value{kind: kindBool, b: x}
	}
	return value{kind: kindOther, raw: v}
}

func uintValue(u uint64) value {
	if u > 1<<63-1 {
		return value{kind: kindFloat, f: float64(u)}
	}
	return value{kind: kindInt, i: int64(u)}
}

// num is a number: an exact integer, or a float.
type num struct {
	i     int64
	f     float64
	isInt bool
}

// number returns v as a number, if it is one.
func (v value) number() (num, bool) {
	switch v.kind {
	case kindInt:
		return num{i: v.i, isInt: true}, true
	case kindFloat:
		return num{f: v.f}, true
	case kindText:
		return parseNumber(v.s)
	}
	return num{}, false
}

// parseNumber reads a plain decimal number: an optional minus, digits with
// an optional fraction, and an optional exponent. Anything else (a plus
// sign, hex, "inf", spaces) is text.
func parseNumber(s string) (num, bool) {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits, integer := 0, true
	for ; i < len(s) && isDigit(s[i]); i++ {
		digits++
	}
	if i < len(s) && s[i] == '.' {
		integer = false
		for i++; i < len(s) && isDigit(s[i]); i++ {
			digits++
		}
	}
	if digits == 0 {
		return num{}, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		integer = false
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for ; i < len(s) && isDigit(s[i]); i++ {
			exp++
		}
		if exp == 0 {
			return num{}, false
		}
	}
	if i != len(s) {
		return num{}, false
	}
	if integer {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return num{i: n, isInt: true}, true
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return num{}, false // out of range
	}
	return num{f: f}, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func cmpNum(a, b num) int {
	if a.isInt && b.isInt {
		switch {
		case a.i < b.i:
			return -1
		case a.i > b.i:
			return 1
		}
		return 0
	}
	x, y := a.f, b.f
	if a.isInt {
		x = float64(a.i)
	}
	if b.isInt {
		y = float64(b.i)
	}
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// text is v as text: what text comparisons, contains, starts_with and regex
// see.
func (v value) text() string {
	switch v.kind {
	case kindText:
		return v.s
	case kindInt:
		return strconv.FormatInt(v.i, 10)
	case kindFloat:
		return strconv.FormatFloat(v.f, 'f', -1, 64)
	case kindBool:
		return strconv.FormatBool(v.b)
	case kindOther:
		return fmt.Sprint(v.raw)
	}
	return ""
}

// equal compares as numbers when both are numeric, else as case-folded text.
func equal(a, b value) bool {
	if x, ok := a.number(); ok {
		if y, ok := b.number(); ok {
			return cmpNum(x, y) == 0
		}
	}
	return strings.EqualFold(a.text(), b.text())
}

// compare orders as numbers when both are numeric, else as bytes.
func compare(a, b value) int {
	if x, ok := a.number(); ok {
		if y, ok := b.number(); ok {
			return cmpNum(x, y)
		}
	}
	return strings.Compare(a.text(), b.text())
}

// anyOf reports whether pred holds for an element of list, or for list
// itself when it is not a list.
func anyOf(list any, pred func(value) bool) bool {
	switch l := list.(type) {
	case []any:
		for _, x := range l {
			if pred(valueOf(x)) {
				return true
			}
		}
		return false
	case []string:
		for _, x := range l {
			if pred(valueOf(x)) {
				return true
			}
		}
		return false
	}
	return pred(valueOf(list))
}

// pair returns the two elements of a between value.
func pair(v any) (lo, hi value, ok bool) {
	switch l := v.(type) {
	case []any:
		if len(l) == 2 {
			return valueOf(l[0]), valueOf(l[1]), true
		}
	case []string:
		if len(l) == 2 {
			return valueOf(l[0]), valueOf(l[1]), true
		}
	}
	return value{}, value{}, false
}

// hasPrefixFold is strings.HasPrefix ignoring case.
func hasPrefixFold(s, prefix string) bool {
	for prefix != "" {
		if s == "" {
			return false
		}
		r1, n1 := utf8.DecodeRuneInString(s)
		r2, n2 := utf8.DecodeRuneInString(prefix)
		if r1 != r2 && !strings.EqualFold(s[:n1], prefix[:n2]) {
			return false
		}
		s, prefix = s[n1:], prefix[n2:]
	}
	return true
}

// containsFold is strings.Contains ignoring case.
func containsFold(s, sub string) bool {
	if sub == "" {
		return true
	}
	for i := range s {
		if hasPrefixFold(s[i:], sub) {
			return true
		}
	}
	return false
}

// lookup returns the lead's value for a filter's field: the lead's own
// field, or a derived one.
func (d *decider) lookup(name string, b *config.Buyer) value {
	l := d.lead
	switch name {
	case "score":
		return value{kind: kindInt, i: int64(l.Score)}
	case "source":
		return valueOf(l.Source)
	case "hour":
		return value{kind: kindInt, i: int64(d.zone(b.Timezone).local.Hour())}
	case "weekday":
		return value{kind: kindText, s: weekdayName(d.zone(b.Timezone).local.Weekday())}
	case "age":
		if !d.campaignAge {
			return value{kind: kindInt, i: int64(d.in.Now.Sub(l.CreatedAt) / time.Minute)}
		}
	}
	return valueOf(l.Fields[name])
}

// note says where a derived value comes from, for explanations.
func (d *decider) note(name string, b *config.Buyer) string {
	switch name {
	case "hour", "weekday":
		return "in " + d.zone(b.Timezone).loc.String()
	case "age":
		if !d.campaignAge {
			return "minutes since the lead arrived"
		}
	}
	return ""
}

// weekdayNames holds the schedule and filter names of the time.Weekday
// values, three letters each.
const weekdayNames = "sunmontuewedthufrisat"

// weekdayName is the name of wd: "mon".
func weekdayName(wd time.Weekday) string { return weekdayNames[3*wd : 3*wd+3] }

// filter reports whether the lead passes f. If not, detail says why, or
// the explanation is left for fillDetails to set on Explain[verdict].
func (d *decider) filter(f *config.Filter, b *config.Buyer, verdict int) (ok bool, detail string) {
	lv := d.lookup(f.Field, b)
	if f.Op == config.OpExists {
		want := true
		if w, isBool := f.Value.(bool); isBool {
			want = w
		}
		if (lv.kind != kindNone) == want {
			return true, ""
		}
		return false, d.filterDetail(f, lv, b, verdict)
	}
	if lv.kind == kindNone {
		return false, d.filterDetail(f, lv, b, verdict)
	}
	switch f.Op {
	case config.OpEq:
		ok = equal(lv, valueOf(f.Value))
	case config.OpNe:
		ok = !equal(lv, valueOf(f.Value))
	case config.OpIn:
		ok = anyOf(f.Value, func(x value) bool { return equal(lv, x) })
	case config.OpNotIn:
		ok = !anyOf(f.Value, func(x value) bool { return equal(lv, x) })
	case config.OpGt:
		ok = compare(lv, valueOf(f.Value)) > 0
	case config.OpGte:
		ok = compare(lv, valueOf(f.Value)) >= 0
	case config.OpLt:
		ok = compare(lv, valueOf(f.Value)) < 0
	case config.OpLte:
		ok = compare(lv, valueOf(f.Value)) <= 0
	case config.OpBetween:
		lo, hi, isPair := pair(f.Value)
		if !isPair {
			return false, fmt.Sprintf("filter %s between %s: want a value [low, high]", f.Field, appendFilterValue(nil, f.Value))
		}
		ok = compare(lv, lo) >= 0 && compare(lv, hi) <= 0
	case config.OpContains:
		ok = containsFold(lv.text(), valueOf(f.Value).text())
	case config.OpStartsWith:
		text := lv.text()
		ok = anyOf(f.Value, func(x value) bool { return x.kind != kindNone && hasPrefixFold(text, x.text()) })
	case config.OpRegex:
		pattern, _ := f.Value.(string)
		re := d.regexp(pattern)
		if re.err != nil {
			return false, fmt.Sprintf("filter %s regex %q: the pattern does not compile: %v", f.Field, pattern, re.err)
		}
		ok = re.match(lv.text())
	default:
		return false, fmt.Sprintf("filter %s: unknown op %q", f.Field, f.Op)
	}
	if ok {
		return true, ""
	}
	return false, d.filterDetail(f, lv, b, verdict)
}

// regexp compiles a pattern once per Decide.
func (d *decider) regexp(pattern string) *compiled {
	if c, ok := d.regexps[pattern]; ok {
		return c
	}
	re, err := regexp.Compile(pattern)
	c := &compiled{re: re, err: err}
	if d.regexps == nil {
		d.regexps = make(map[string]*compiled)
	}
	d.regexps[pattern] = c
	return c
}

// filterDetail explains a failed filter,
// `filter state in [CA TX]: lead has "NY"`, in d.details for Explain[verdict],
// and returns "".
func (d *decider) filterDetail(f *config.Filter, lv value, b *config.Buyer, verdict int) string {
	buf := append(d.scratch[:0], "filter "...)
	buf = append(buf, f.Field...)
	buf = append(buf, ' ')
	buf = append(buf, f.Op...)
	if f.Value != nil {
		buf = append(buf, ' ')
		buf = appendFilterValue(buf, f.Value)
	}
	buf = append(buf, ": lead has "...)
	if lv.kind == kindNone {
		buf = append(buf, "no "...)
		buf = append(buf, f.Field...)
	} else {
		buf = lv.appendTo(buf)
	}
	if note := d.note(f.Field, b); note != "" {
		buf = append(buf, " ("...)
		buf = append(buf, note...)
		buf = append(buf, ')')
	}
	d.scratch = buf
	start := d.details.Len()
	d.details.Write(buf)
	d.spans = append(d.spans, detailSpan{verdict: verdict, start: start, end: d.details.Len()})
	return ""
}

// appendTo appends v as an explanation shows a lead's value: text quoted,
// numbers and booleans bare.
func (v value) appendTo(b []byte) []byte {
	switch v.kind {
	case kindText:
		return strconv.AppendQuote(b, v.s)
	case kindInt:
		return strconv.AppendInt(b, v.i, 10)
	case kindFloat:
		return strconv.AppendFloat(b, v.f, 'f', -1, 64)
	case kindBool:
		return strconv.AppendBool(b, v.b)
	case kindOther:
		return strconv.AppendQuote(b, v.text())
	}
	return append(b, "no value"...)
}

// appendFilterValue appends a filter's value as the configuration shows it:
// 25, CA, [CA TX].
func appendFilterValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return append(b, x...)
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ' ')
			}
			b = appendFilterValue(b, e)
		}
		return append(b, ']')
	case []string:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ' ')
			}
			b = append(b, e...)
		}
		return append(b, ']')
	}
	switch val := valueOf(v); val.kind {
	case kindInt:
		return strconv.AppendInt(b, val.i, 10)
	case kindFloat:
		return strconv.AppendFloat(b, val.f, 'g', -1, 64)
	case kindBool:
		return strconv.AppendBool(b, val.b)
	case kindText:
		return append(b, val.s...)
	}
	return fmt.Append(b, v)
}
