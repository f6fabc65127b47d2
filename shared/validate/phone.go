package validate

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// phoneRegion is the region of numbers posted without a country code.
const phoneRegion = "US"

// maxPhone bounds the text handed to the phone number parser.
const maxPhone = 64

// normPhone takes a phone number in any common notation ("(415) 892-1234",
// "415.892.1234", "+1 415 892 1234", "14158921234"), read as a US number
// unless it starts with + and a country code, and returns it in E.164
// ("+14158921234"). The number must be valid, not merely the right length:
// its area code and exchange must be in use.
func normPhone(v any) (any, problem) {
	var s string
	switch x := v.(type) {
	case string:
		s = strings.TrimSpace(x)
	case json.Number:
		if !isDecimal(string(x)) {
			return nil, notNumber(string(x))
		}
		s = string(x)
	case int64:
		s = strconv.FormatInt(x, 10)
	case int:
		s = strconv.Itoa(x)
	default:
		return nil, wrongType(v, "a phone number")
	}
	if len(s) > maxPhone {
		return nil, notPhone(s)
	}
	if e164, ok := plainUSPhone(s); ok {
		return box(v, e164), problem{}
	}
	e164, ok := parsePhone(s)
	if !ok {
		return nil, notPhone(s)
	}
	return box(v, e164), problem{}
}

// parsePhone parses any notation phonenumbers reads, with US as the default
// region, and returns the number in E.164 if it is valid.
func parsePhone(s string) (string, bool) {
	var n phonenumbers.PhoneNumber
	if err := phonenumbers.ParseToNumber(s, phoneRegion, &n); err != nil {
		return "", false
	}
	// Most leads are US numbers: check the US rules before searching every
	// region that shares the country code.
	if !phonenumbers.IsValidNumberForRegion(&n, phoneRegion) && !phonenumbers.IsValidNumber(&n) {
		return "", false
	}
	return phonenumbers.Format(&n, phonenumbers.E164), true
}

// plainUSPhone is parsePhone's fast path for the usual shapes of a North
// American number: ten digits, maybe after 1 or +1, separated by blanks,
// dots, dashes and parentheses. It builds the number phonenumbers would
// parse, at a third of the cost, and reports false when s has another shape
// or the number is not valid, for parsePhone to decide. FuzzFields holds it
// to agreement with parsePhone.
func plainUSPhone(s string) (string, bool) {
	var d [11]byte
	n := 0
	plus := len(s) > 0 && s[0] == '+'
	if plus {
		s = s[1:]
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '(', ')', '-', '.':
		default:
			if !isDigit(c) || n == len(d) {
				return "", false
			}
			d[n] = c
			n++
		}
	}
	nn := d[:n]
	switch {
	case n == 11 && d[0] == '1':
		nn = d[1:]
	case n != 10 || plus:
		return "", false
	}
	if nn[0] < '2' {
		return "", false // not a NANP area code; leave it to the parser
	}
	cc, national := int32(1), uint64(0)
	for _, c := range nn {
		national = national*10 + uint64(c-'0')
	}
	num := phonenumbers.PhoneNumber{CountryCode: &cc, NationalNumber: &national}
	if !phonenumbers.IsValidNumberForRegion(&num, phoneRegion) && !phonenumbers.IsValidNumber(&num) {
		return "", false
	}
	var out [12]byte
	out[0], out[1] = '+', '1'
	copy(out[2:], nn)
	return string(out[:]), true
}

func notPhone(s string) problem {
	return invalid("%s is not a valid phone number; send a 10-digit US number such as (415) 892-1234, or + and the country code", quote(s))
}
