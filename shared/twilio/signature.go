// Package twilio speaks the little of Twilio's voice webhooks LeadRelay
// needs, with the standard library only: the X-Twilio-Signature check of
// a webhook request and a TwiML writer for the answers (Say, Reject,
// Hangup, Dial with one Number). twilio-go's client.RequestValidator and
// twiml package do the same; they would add about 64 KB to the ingest
// function and three modules to go.mod, for two small functions
// (docs/calls.md has the measurements).
package twilio

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/url"
	"sort"
	"strings"
)

// SignatureHeader is the header Twilio signs its webhook requests with.
const SignatureHeader = "X-Twilio-Signature"

// Signature is what Twilio sends in X-Twilio-Signature for a POST of
// params to fullURL (the exact URL Twilio requested, query included):
// the base64 HMAC-SHA1, keyed by the account's auth token, of the URL
// followed by every POST parameter's name and value, sorted by name
// (case-sensitive), without delimiters.
func Signature(token, fullURL string, params url.Values) string {
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range names {
		vs := append([]string(nil), params[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	m := hmac.New(sha1.New, []byte(token))
	m.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Valid reports, in constant time, whether sig is Twilio's signature of a
// POST of params to fullURL. Like Twilio's own validators it also accepts
// the URL with the port of its scheme written out or left out (Twilio
// signs the URL as it was configured).
func Valid(token, fullURL string, params url.Values, sig string) bool {
	if token == "" || sig == "" {
		return false
	}
	for _, u := range urlForms(fullURL) {
		if hmac.Equal([]byte(Signature(token, u, params)), []byte(sig)) {
			return true
		}
	}
	return false
}

// urlForms are fullURL as given, and with its scheme's default port added
// or removed.
func urlForms(fullURL string) []string {
	out := []string{fullURL}
	u, err := url.Parse(fullURL)
	if err != nil {
		return out
	}
	port := map[string]string{"https": "443", "http": "80"}[u.Scheme]
	if port == "" {
		return out
	}
	alt := *u
	switch u.Port() {
	case "":
		alt.Host = u.Host + ":" + port
	case port:
		alt.Host = u.Hostname()
	default:
		return out
	}
	return append(out, alt.String())
}
