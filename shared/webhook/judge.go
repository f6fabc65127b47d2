package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/money"
)

// Judge decides what a buyer's answer means. err is the error of the
// request or of reading the body (it wins over the status). By default:
// 2xx accepted; 3xx rejected (redirects are not followed); 408, 429 and
// 5xx transient; other 4xx rejected; timeouts and connection errors
// transient; a target the client refused rejected. The delivery's
// response rules refine a 2xx: a failed accept rule makes it Rejected with
// reason rule_rejected. Extraction rules fill BuyerLeadID and Price from a
// 2xx, and Detail from a rejection.
//
// Judge is the judgement of a first post; JudgeAfterUnknown that of a
// post whose earlier attempt got no answer.
func Judge(d *config.Delivery, status int, body []byte, err error) Verdict {
	return judge(d, status, body, err, false)
}

// JudgeAfterUnknown judges the answer to a retry of a post whose earlier
// attempt may have reached the buyer and got no answer (Verdict.Unknown):
// an answer, whatever its status, that matches every one of the
// delivery's duplicate rules (response.duplicate, at least one) is
// Accepted with reason duplicate: the buyer has the lead from the earlier
// attempt. Any other answer is judged as Judge does.
func JudgeAfterUnknown(d *config.Delivery, status int, body []byte, err error) Verdict {
	return judge(d, status, body, err, true)
}

func judge(d *config.Delivery, status int, body []byte, err error, afterUnknown bool) Verdict {
	rd, rerr := d.Resolved()
	if rerr != nil {
		rd = *d
	}
	v := Verdict{Status: status, Response: stored(body)}
	if err != nil {
		v.Outcome, v.Reason = classify(err)
		v.Detail = describe(err)
		return v
	}
	switch {
	case status >= 200 && status <= 299:
		v.Outcome, v.Reason = Accepted, ReasonStatus2xx
	case status >= 300 && status <= 399:
		v.Outcome, v.Reason = Rejected, ReasonRedirect
	case status == http.StatusRequestTimeout || status == http.StatusTooManyRequests:
		v.Outcome, v.Reason = Transient, ReasonStatus4xx
	case status >= 400 && status <= 499:
		v.Outcome, v.Reason = Rejected, ReasonStatus4xx
	case status >= 500 && status <= 599:
		v.Outcome, v.Reason = Transient, ReasonStatus5xx
	default:
		v.Outcome, v.Reason = Transient, ReasonStatusOther
	}
	v.Detail = fmt.Sprintf("buyer answered %d %s", status, http.StatusText(status))
	if v.Reason == ReasonRedirect {
		v.Detail += " (redirects are not followed)"
	}
	rules := rd.Response
	if rules == nil {
		return v
	}
	doc := &answer{raw: body}
	if afterUnknown && len(rules.Duplicate) > 0 && doc.allHold(rules.Duplicate) {
		v.Outcome, v.Reason = Accepted, ReasonDuplicate
		v.Detail = fmt.Sprintf("buyer answered %d %s, matching its duplicate rules: it has the lead from an earlier attempt whose answer never came; counted as accepted",
			status, http.StatusText(status))
		if s, ok := doc.extract(rules.BuyerLeadID); ok {
			v.BuyerLeadID = s
		}
		if s, ok := doc.extract(rules.Price); ok {
			if a, err := money.ParseRounded(s); err == nil {
				v.Price = &a
			}
		}
		return v
	}
	if v.Outcome == Accepted {
		for i, r := range rules.Accept {
			if ok, why := doc.holds(&r); !ok {
				v.Outcome, v.Reason = Rejected, ReasonRuleRejected
				v.Detail = fmt.Sprintf("buyer answered %d but accept rule %d does not hold: %s", status, i+1, why)
				break
			}
		}
		if s, ok := doc.extract(rules.BuyerLeadID); ok {
			v.BuyerLeadID = s
		}
		if s, ok := doc.extract(rules.Price); ok {
			if a, err := money.ParseRounded(s); err == nil {
				v.Price = &a
			}
		}
	}
	if v.Outcome == Rejected {
		if s, ok := doc.extract(rules.Reason); ok && s != "" {
			v.Detail += ": " + stored([]byte(s))
		}
	}
	return v
}

// classify maps a request error to an outcome and reason.
func classify(err error) (Outcome, string) {
	var netErr net.Error
	var certErr *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var hostnameErr x509.HostnameError
	switch {
	case errors.Is(err, ErrRefusedTarget):
		return Rejected, ReasonRefusedTarget
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return Transient, ReasonTimeout
	case errors.Is(err, context.Canceled):
		return Transient, ReasonCanceled
	case errors.As(err, &certErr), errors.As(err, &unknownAuthority), errors.As(err, &hostnameErr):
		return Transient, ReasonTLS
	}
	return Transient, ReasonConnection
}

// describe writes a request error without the URL's query, which may
// carry an API key.
func describe(err error) string {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err.Error()
	}
	target := ShownURL(ue.URL)
	if target == "" {
		target = "the buyer"
	}
	return fmt.Sprintf("%s %s: %v", ue.Op, target, ue.Err)
}

// stored is a response as the timeline keeps it: at most
// MaxStoredResponse bytes, cut on a character boundary, valid UTF-8.
func stored(b []byte) string {
	if len(b) > MaxStoredResponse {
		b = b[:MaxStoredResponse]
		for i := 0; i < utf8.UTFMax && len(b) > 0 && !utf8.Valid(b); i++ {
			b = b[:len(b)-1]
		}
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// answer is a response body, parsed as JSON at most once.
type answer struct {
	raw    []byte
	parsed bool
	json   any
	jsonOK bool
}

func (b *answer) decodeJSON() (any, bool) {
	if !b.parsed {
		b.parsed = true
		dec := json.NewDecoder(bytes.NewReader(b.raw))
		dec.UseNumber()
		b.jsonOK = dec.Decode(&b.json) == nil
	}
	return b.json, b.jsonOK
}

// find returns the value a rule points at, and whether it is there.
func (b *answer) find(r *config.Rule) (any, bool) {
	switch {
	case r.JSON != "":
		doc, ok := b.decodeJSON()
		if !ok {
			return nil, false
		}
		return jsonPath(doc, r.JSON)
	case r.XML != "":
		s, ok := xmlPath(b.raw, r.XML)
		return s, ok
	case r.Regex != "":
		re, err := regexp.Compile(r.Regex)
		if err != nil {
			return nil, false
		}
		m := re.FindSubmatch(b.raw)
		if m == nil {
			return nil, false
		}
		if len(m) > 1 {
			return string(m[1]), true
		}
		return string(m[0]), true
	}
	return nil, false
}

// holds evaluates an accept rule; when it fails it says why.
func (b *answer) holds(r *config.Rule) (bool, string) {
	v, ok := b.find(r)
	what := r.JSON
	switch {
	case r.XML != "":
		what = "element " + r.XML
	case r.Regex != "":
		if !ok {
			return false, fmt.Sprintf("the body does not match %q", r.Regex)
		}
		return true, ""
	}
	if !ok {
		return false, what + " is missing"
	}
	if r.Equals == nil {
		if present(v) {
			return true, ""
		}
		return false, what + " is empty"
	}
	if equal(v, r.Equals) {
		return true, ""
	}
	return false, fmt.Sprintf("%s is %s, not %s", what, quoteShort(text(v)), quoteShort(text(r.Equals)))
}

// allHold reports whether every rule holds.
func (b *answer) allHold(rules []config.Rule) bool {
	for i := range rules {
		if ok, _ := b.holds(&rules[i]); !ok {
			return false
		}
	}
	return true
}

// extract returns the text an extraction rule points at.
func (b *answer) extract(r *config.Rule) (string, bool) {
	if r == nil {
		return "", false
	}
	v, ok := b.find(r)
	if !ok || v == nil {
		return "", false
	}
	switch v.(type) {
	case []any, map[string]any:
		return "", false
	}
	return strings.TrimSpace(text(v)), true
}

func present(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case string:
		return strings.TrimSpace(x) != ""
	case bool:
		return x
	}
	return true
}

// equal compares a found value with a rule's Equals: numbers by value,
// everything else as text.
func equal(v, want any) bool {
	got, w := text(v), text(want)
	if got == w {
		return true
	}
	if _, isStr := v.(string); isStr {
		return false
	}
	a, err1 := strconv.ParseFloat(got, 64)
	b, err2 := strconv.ParseFloat(w, 64)
	return err1 == nil && err2 == nil && a == b
}

func quoteShort(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strconv.Quote(strings.ToValidUTF8(s, "\uFFFD"))
}

// jsonPath walks a dotted path: object keys, and array indexes ("data.0.id").
func jsonPath(doc any, path string) (any, bool) {
	cur := doc
	for seg := range strings.SplitSeq(path, ".") {
		switch x := cur.(type) {
		case map[string]any:
			next, ok := x[seg]
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			cur = x[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// xmlPath returns the text of the first element whose innermost element
// names end with the dotted path: "Result" finds any <Result>,
// "Response.Result" a <Result> directly inside a <Response>. Namespaces are
// ignored.
func xmlPath(body []byte, path string) (string, bool) {
	want := strings.Split(path, ".")
	dec := xml.NewDecoder(bytes.NewReader(body))
	dec.Strict = false
	var stack []string
	depth := -1 // the stack depth of the matched element, -1 before a match
	var buf strings.Builder
	for {
		tok, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) || depth < 0 {
				return "", false
			}
			return strings.TrimSpace(buf.String()), true
		}
		switch t := tok.(type) {
		case xml.StartElement:
			stack = append(stack, t.Name.Local)
			if depth < 0 && endsWith(stack, want) {
				depth = len(stack)
			}
		case xml.EndElement:
			if depth == len(stack) {
				return strings.TrimSpace(buf.String()), true
			}
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case xml.CharData:
			if depth >= 0 {
				buf.Write(t)
			}
		}
	}
}

func endsWith(stack, want []string) bool {
	if len(want) > len(stack) {
		return false
	}
	off := len(stack) - len(want)
	for i, w := range want {
		if stack[off+i] != w {
			return false
		}
	}
	return true
}
