package validate

import (
	"strings"
	"unicode"
)

// usStates maps the lower-cased USPS code and name of each state, DC and
// the inhabited territories to its code. It is read-only.
var usStates = func() map[string]string {
	names := map[string]string{
		"AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas",
		"CA": "California", "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware",
		"FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho",
		"IL": "Illinois", "IN": "Indiana", "IA": "Iowa", "KS": "Kansas",
		"KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland",
		"MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi",
		"MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada",
		"NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York",
		"NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma",
		"OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina",
		"SD": "South Dakota", "TN": "Tennessee", "TX": "Texas", "UT": "Utah",
		"VT": "Vermont", "VA": "Virginia", "WA": "Washington", "WV": "West Virginia",
		"WI": "Wisconsin", "WY": "Wyoming",
		"DC": "District of Columbia",
		"PR": "Puerto Rico", "VI": "U.S. Virgin Islands", "GU": "Guam",
		"AS": "American Samoa", "MP": "Northern Mariana Islands",
	}
	aliases := map[string]string{
		"washington dc": "DC", "washington d.c.": "DC", "d.c.": "DC",
		"us virgin islands": "VI", "virgin islands": "VI",
	}
	m := make(map[string]string, 2*len(names)+len(aliases))
	for code, name := range names {
		m[strings.ToLower(code)] = code
		m[strings.ToLower(name)] = code
	}
	for alias, code := range aliases {
		m[alias] = code
	}
	return m
}()

// maxStateKey is longer than every key of usStates.
const maxStateKey = 32

// normUSState takes a USPS code or a state's name in any case
// ("ca", "California", "new  york") and returns the upper-case code.
func normUSState(v any) (any, problem) {
	raw, ok := v.(string)
	if !ok {
		return nil, wrongType(v, "a US state code such as CA")
	}
	s := strings.TrimSpace(raw)
	// Lower-case ASCII and fold runs of blanks (and a comma, "Washington,
	// D.C.") into one space, in a buffer on the stack; looking a map up by
	// string(buf) does not allocate.
	var buf [maxStateKey]byte
	n := 0
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == ',':
			space = true
			continue
		case c >= 0x80 || n+2 > len(buf):
			return nil, notState(s)
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		if space && n > 0 {
			buf[n] = ' '
			n++
		}
		space = false
		buf[n] = c
		n++
	}
	code, ok := usStates[string(buf[:n])]
	if !ok {
		return nil, notState(s)
	}
	return box(v, code), problem{}
}

func notState(s string) problem {
	return invalid("%s is not a US state; send its two-letter USPS code such as CA", quote(s))
}

// normZip takes a five-digit ZIP code or ZIP+4 ("94110", "94110-1234",
// "941101234"), ignoring blanks, and returns "94110" or "94110-1234". A JSON
// number is refused: it would lose leading zeros.
func normZip(v any) (any, problem) {
	raw, ok := v.(string)
	if !ok {
		return nil, wrongType(v, "a ZIP code in quotes (text keeps its leading zeros)")
	}
	var buf [10]byte
	n, dash := 0, -1
	for _, r := range raw {
		switch {
		case unicode.IsSpace(r):
			continue
		case n == len(buf):
			return nil, notZip(raw)
		case '0' <= r && r <= '9':
		case r == '-' && dash < 0:
			dash = n
		default:
			return nil, notZip(raw)
		}
		buf[n] = byte(r)
		n++
	}
	switch {
	case dash < 0 && n == 5, dash == 5 && n == 10:
	case dash < 0 && n == 9:
		// ZIP+4 without its dash.
		return string(buf[:5]) + "-" + string(buf[5:9]), problem{}
	default:
		return nil, notZip(raw)
	}
	if string(buf[:n]) == raw {
		return v, problem{}
	}
	return string(buf[:n]), problem{}
}

func notZip(s string) problem {
	return invalid("%s is not a US ZIP code; send five digits, or ZIP+4 such as 94110-1234", quote(strings.TrimSpace(s)))
}
