package validate

import (
	"strings"
	"unicode/utf8"

	"github.com/leadrelay/leadrelay/shared/config"
)

// maxEmail is the longest address SMTP carries (RFC 5321: a 256-octet path
// less its angle brackets).
const maxEmail = 254

// normEmail takes a bare address (no display name, angle brackets, comments
// or quoted local part), keeps its local part as written and lower-cases its
// domain, which must have at least two labels.
//
// The syntax accepted is exactly the addresses that net/mail.ParseAddress
// parses and gives back unchanged (no display name, exactly one @), less
// quoted local parts and domain literals; it is checked here without
// allocating, and FuzzFields holds the two to agreement.
func normEmail(f *config.Field, v any) (any, problem) {
	raw, ok := v.(string)
	if !ok {
		return nil, wrongType(v, "an email address")
	}
	s := strings.TrimSpace(raw)
	if len(s) > maxEmail {
		return nil, problem{CodeTooLong, "is longer than the 254 characters an email address may have"}
	}
	at := strings.IndexByte(s, '@')
	if at < 0 || !utf8.ValidString(s) {
		return nil, notEmail(s)
	}
	local, domain := s[:at], lowerDomain(s[at+1:])
	if !isDotAtom(local) || !validDomain(domain) {
		return nil, notEmail(s)
	}
	if domain != s[at+1:] {
		s = local + "@" + domain
	}
	if p := maxLength(f, s); p.code != "" {
		return nil, p
	}
	return box(v, s), problem{}
}

func notEmail(s string) problem {
	return invalid("%s is not a valid email address; send one address such as jane@example.com", quote(s))
}

// lowerDomain lower-cases a domain, without allocating when it already is.
func lowerDomain(d string) string {
	for i := 0; i < len(d); i++ {
		if c := d[i]; 'A' <= c && c <= 'Z' || c >= utf8.RuneSelf {
			return strings.ToLower(d)
		}
	}
	return d
}

// validDomain reports whether d is a dot-atom domain with at least two
// labels, as net/mail reads one (so no [address literals]).
func validDomain(d string) bool {
	return strings.IndexByte(d, '.') > 0 && isDotAtom(d)
}

// isDotAtom reports whether s is an RFC 5322 dot-atom as net/mail accepts
// it: atoms of atext (ASCII letters, digits and !#$%&'*+-/=?^_`{|}~, or any
// non-ASCII character, which net/mail allows per RFC 6532) separated by
// single dots, with no dot first or last.
func isDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	prevDot := false
	for _, r := range s {
		if r == '.' {
			if prevDot {
				return false
			}
			prevDot = true
			continue
		}
		prevDot = false
		if !isAtext(r) {
			return false
		}
	}
	return true
}

func isAtext(r rune) bool {
	switch {
	case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		return true
	case r >= utf8.RuneSelf:
		return true // Fields checks UTF-8 validity on its own
	}
	return strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", r)
}
