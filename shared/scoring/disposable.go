package scoring

import (
	_ "embed"
	"strings"
)

// Email domain kinds (the email_domain signal's values).
const (
	DomainFree       = "free"
	DomainCorporate  = "corporate"
	DomainDisposable = "disposable"
	DomainNone       = "none"
)

// disposableDomains is the vendored list of disposable email domains (see
// data/README.md): one lower-case domain a line, sorted by byte, each line
// ending in a newline. It is searched as it is, without being parsed.
//
//go:embed data/disposable_domains.txt
var disposableDomains string

// freeDomains lists free mail providers, in the same form.
//
//go:embed data/free_domains.txt
var freeDomains string

// domainKind says what kind of domain an email domain is: DomainDisposable
// when it or a domain it is under is a disposable one (mail.foo.example.com
// is disposable when example.com is), else DomainFree for a free mail
// provider, else DomainCorporate; DomainNone for "".
func domainKind(domain string) string {
	domain = strings.TrimSuffix(strings.ToLower(domain), ".")
	switch {
	case domain == "":
		return DomainNone
	case isDisposable(domain):
		return DomainDisposable
	case hasLine(freeDomains, domain):
		return DomainFree
	}
	return DomainCorporate
}

// isDisposable reports whether domain or any domain it is under is in the
// disposable list. The last label alone (the "com" of example.com) is never
// looked up.
func isDisposable(domain string) bool {
	d := domain
	for {
		dot := strings.IndexByte(d, '.')
		if dot < 0 {
			return false
		}
		if dot > 0 && hasLine(disposableDomains, d) {
			return true
		}
		d = d[dot+1:]
	}
}

// hasLine reports whether list, lines sorted by byte and each ending in a
// newline, has a line equal to s. It is a binary search over the text
// itself: each probe lands in a line, reads it, and keeps the half that can
// still hold s, so a lookup costs a few dozen short comparisons and nothing
// is built beforehand.
func hasLine(list, s string) bool {
	if s == "" {
		return false
	}
	// lo and hi are line starts: s, if there, is a line starting in [lo, hi).
	lo, hi := 0, len(list)
	for lo < hi {
		mid := lo + (hi-lo)/2
		start := lo + strings.LastIndexByte(list[lo:mid], '\n') + 1
		end := start + strings.IndexByte(list[start:], '\n')
		if end < start { // no final newline: the rest is the line
			end = len(list)
		}
		switch c := strings.Compare(list[start:end], s); {
		case c == 0:
			return true
		case c < 0:
			lo = end + 1
		default:
			hi = start
		}
	}
	return false
}
