package webhook

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/money"
)

// UserAgent is sent with every post unless the buyer's headers replace it.
const UserAgent = "LeadRelay-Webhook/1"

// DefaultXMLRoot is the root element of XML posts without xml_root.
const DefaultXMLRoot = "lead"

// Content types of the formats.
const (
	contentJSON = "application/json"
	contentForm = "application/x-www-form-urlencoded"
	contentXML  = "application/xml; charset=utf-8"
)

// Render builds the signed request of a post: the body in the buyer's
// format (with its field mapping, if any), the buyer's headers and auth,
// and the Standard Webhooks headers webhook-id, webhook-timestamp and, when
// the delivery has a secret, webhook-signature. For the get format, whose
// request has no body, the signed payload is the raw query string.
//
// Values are only ever written by encoding/json, encoding/xml and
// net/url; a value a format cannot carry exactly is an error wrapping
// ErrUnencodable, never a silent change.
func Render(d *config.Delivery, p Post) (*http.Request, error) {
	rd, u, err := target(d, p)
	if err != nil {
		return nil, err
	}
	b, err := renderBody(&rd, p, u)
	if err != nil {
		return nil, err
	}
	if a := rd.Auth; a != nil && a.Type == config.AuthAPIKey && a.Query != "" {
		if b.query == nil {
			b.query = u.Query()
		}
		b.query.Set(a.Query, a.Key)
	}
	if b.query != nil {
		u.RawQuery = b.query.Encode()
	}
	var r io.Reader = http.NoBody
	if b.method == http.MethodPost {
		r = bytes.NewReader(b.data)
	}
	req, err := http.NewRequest(b.method, u.String(), r)
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	setHeaders(req, &rd, b.ctype)
	signRequest(req, &rd, p, b.data)
	return req, nil
}

// target checks a post and resolves the delivery it goes by (its preset
// applied) and the URL it goes to.
func target(d *config.Delivery, p Post) (config.Delivery, *url.URL, error) {
	rd, err := d.Resolved()
	if err != nil {
		return rd, nil, fmt.Errorf("webhook: %w", err)
	}
	if p.Lead == nil {
		return rd, nil, errors.New("webhook: the post has no lead")
	}
	if p.MessageID == "" {
		return rd, nil, errors.New("webhook: the post has no message id")
	}
	u, err := url.Parse(rd.URL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return rd, nil, fmt.Errorf("webhook: url %q is not an http(s) URL", rd.URL)
	}
	return rd, u, nil
}

// content is a post's content in the delivery's format.
type content struct {
	method, ctype string
	data          []byte
	// query is the URL's new query (the get format), nil when it does
	// not change.
	query url.Values
}

// renderBody writes the post in the delivery's format, with its field
// mapping if any.
func renderBody(rd *config.Delivery, p Post, u *url.URL) (content, error) {
	var items []item
	var err error
	if len(rd.Fields) > 0 {
		if items, err = mapFields(rd.Fields, p); err != nil {
			return content{}, err
		}
	}
	b := content{method: http.MethodPost}
	switch rd.Format {
	case config.FormatJSON, "":
		b.ctype = contentJSON
		b.data, err = renderJSON(rd, p, items)
	case config.FormatForm:
		b.ctype = contentForm
		v := url.Values{}
		addValues(v, p, items)
		b.data = []byte(v.Encode())
	case config.FormatXML:
		b.ctype = contentXML
		b.data, err = renderXML(rd, p, items)
	case config.FormatGet:
		// The lead's values, then the buyer URL's own parameters: a
		// field of the same name (a non-strict campaign passes any
		// through) never overrides them (aff_id=AGENCY stays).
		b.method = http.MethodGet
		b.query = url.Values{}
		addValues(b.query, p, items)
		for k, v := range u.Query() {
			b.query[k] = v
		}
	default:
		return content{}, fmt.Errorf("webhook: unknown format %q", rd.Format)
	}
	return b, err
}

// setHeaders sets a post's content type, user agent, the buyer's own
// headers and its auth.
func setHeaders(req *http.Request, rd *config.Delivery, ctype string) {
	h := req.Header
	if ctype != "" {
		h.Set("Content-Type", ctype)
	}
	h.Set("User-Agent", UserAgent)
	for k, v := range rd.Headers {
		h.Set(k, v)
	}
	a := rd.Auth
	if a == nil {
		return
	}
	switch a.Type {
	case config.AuthBearer:
		h.Set("Authorization", "Bearer "+a.Token)
	case config.AuthBasic:
		req.SetBasicAuth(a.Username, a.Password)
	case config.AuthAPIKey:
		if a.Header != "" {
			h.Set(a.Header, a.Key)
		}
	}
}

// signRequest sets the Standard Webhooks headers: the message id, the
// timestamp and, with a secret, the signature of the body (of the raw
// query for the get format).
func signRequest(req *http.Request, rd *config.Delivery, p Post, data []byte) {
	now := p.Now
	if now.IsZero() {
		now = time.Now()
	}
	signed := data
	if req.Method == http.MethodGet {
		signed = []byte(req.URL.RawQuery)
	}
	h := req.Header
	h.Set(HeaderID, p.MessageID)
	h.Set(HeaderTimestamp, timestamp(now))
	if sig := signAll(rd.Secret, rd.PreviousSecret, p.MessageID, now, signed); sig != "" {
		h.Set(HeaderSignature, sig)
	}
}

// item is one field of a mapped body.
type item struct {
	name  string
	value any
}

// jsonBody is the default JSON body of DESIGN.md.
type jsonBody struct {
	LeadID   string         `json:"lead_id"`
	Campaign string         `json:"campaign"`
	Price    money.Amount   `json:"price"`
	BidID    string         `json:"bid_id,omitempty"`
	Test     bool           `json:"test,omitempty"`
	Fields   map[string]any `json:"fields"`
}

type nameValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func renderJSON(rd *config.Delivery, p Post, items []item) ([]byte, error) {
	var v any
	switch {
	case items == nil:
		l := p.Lead
		fields := l.Fields
		if fields == nil {
			fields = map[string]any{}
		}
		if err := checkUTF8(l.ID, l.Campaign, p.BidID); err != nil {
			return nil, err
		}
		for k, fv := range fields {
			if err := checkJSONValue(k, fv); err != nil {
				return nil, err
			}
		}
		v = jsonBody{LeadID: l.ID, Campaign: l.Campaign, Price: p.Price, BidID: p.BidID, Test: l.Test, Fields: fields}
	case rd.Layout == config.LayoutNameValue:
		list := make([]nameValue, len(items))
		for i, it := range items {
			list[i] = nameValue{Name: it.name, Value: text(it.value)}
			if err := checkUTF8(it.name, list[i].Value); err != nil {
				return nil, fmt.Errorf("field %s: %w", it.name, err)
			}
		}
		v = map[string][]nameValue{"fields": list}
	default:
		obj := map[string]any{}
		for _, it := range items {
			if err := checkJSONValue(it.name, it.value); err != nil {
				return nil, err
			}
			if err := nest(obj, it.name, it.value); err != nil {
				return nil, err
			}
		}
		v = obj
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("webhook: json body: %w: %v", ErrUnencodable, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// nest sets a dotted name in nested objects: "contact.email".
func nest(obj map[string]any, name string, v any) error {
	for {
		head, rest, ok := strings.Cut(name, ".")
		if !ok {
			if _, taken := obj[name]; taken {
				return fmt.Errorf("webhook: field %q is mapped twice or holds other fields", name)
			}
			obj[name] = v
			return nil
		}
		child, _ := obj[head].(map[string]any)
		if child == nil {
			if _, taken := obj[head]; taken {
				return fmt.Errorf("webhook: field %q is a value and holds other fields", head)
			}
			child = map[string]any{}
			obj[head] = child
		}
		obj, name = child, rest
	}
}

// envelopeKeys are the names the default flat bodies (form, get) give the
// envelope; a lead field of the same name is left out of them.
var envelopeKeys = []string{"lead_id", "campaign", "price", "bid_id", "test"}

func addValues(q url.Values, p Post, items []item) {
	if items != nil {
		for _, it := range items {
			q.Add(it.name, text(it.value))
		}
		return
	}
	l := p.Lead
	q.Set("lead_id", l.ID)
	q.Set("campaign", l.Campaign)
	q.Set("price", p.Price.Decimal())
	if p.BidID != "" {
		q.Set("bid_id", p.BidID)
	}
	if l.Test {
		q.Set("test", "true")
	}
	for k, v := range l.Fields {
		if !slices.Contains(envelopeKeys, k) {
			q.Set(k, text(v))
		}
	}
}

func renderXML(rd *config.Delivery, p Post, items []item) ([]byte, error) {
	root := rd.XMLRoot
	if root == "" {
		root = DefaultXMLRoot
	}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	w := xmlWriter{enc: xml.NewEncoder(&buf)}
	w.start(root)
	if items == nil {
		l := p.Lead
		w.leaf("lead_id", l.ID)
		w.leaf("campaign", l.Campaign)
		w.leaf("price", p.Price.Decimal())
		if p.BidID != "" {
			w.leaf("bid_id", p.BidID)
		}
		if l.Test {
			w.leaf("test", "true")
		}
		w.start("fields")
		keys := make([]string, 0, len(l.Fields))
		for k := range l.Fields {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if config.ValidXMLName(k) {
				w.leaf(k, text(l.Fields[k]))
			} else {
				// A name XML cannot carry goes in an attribute.
				w.startField(k)
				w.text(text(l.Fields[k]))
				w.end("field")
			}
		}
		w.end("fields")
	} else {
		w.tree(items)
	}
	w.end(root)
	if w.err == nil {
		w.err = w.enc.Flush()
	}
	if w.err != nil {
		return nil, w.err
	}
	return buf.Bytes(), nil
}

// xmlWriter writes elements through encoding/xml, keeping the first error.
type xmlWriter struct {
	enc *xml.Encoder
	err error
}

func (w *xmlWriter) start(name string) {
	if w.err == nil {
		w.err = w.enc.EncodeToken(xml.StartElement{Name: xml.Name{Local: name}})
	}
}

// startField opens <field name="...">, for a field name that cannot be an
// element name (the empty name included).
func (w *xmlWriter) startField(fieldName string) {
	if w.err != nil {
		return
	}
	if err := checkXML(fieldName); err != nil {
		w.err = fmt.Errorf("field name: %w", err)
		return
	}
	w.err = w.enc.EncodeToken(xml.StartElement{
		Name: xml.Name{Local: "field"},
		Attr: []xml.Attr{{Name: xml.Name{Local: "name"}, Value: fieldName}},
	})
}

func (w *xmlWriter) end(name string) {
	if w.err == nil {
		w.err = w.enc.EncodeToken(xml.EndElement{Name: xml.Name{Local: name}})
	}
}

func (w *xmlWriter) text(s string) {
	if w.err != nil {
		return
	}
	if err := checkXML(s); err != nil {
		w.err = err
		return
	}
	w.err = w.enc.EncodeToken(xml.CharData(s))
}

func (w *xmlWriter) leaf(name, s string) {
	w.start(name)
	w.text(s)
	w.end(name)
}

// tree writes mapped items, nesting dotted names: the first item under a
// prefix opens its element, and later items under the same prefix join it.
func (w *xmlWriter) tree(items []item) {
	type node struct {
		name  string
		value *string
		kids  []*node
	}
	root := &node{}
	for _, it := range items {
		n := root
		for seg := range strings.SplitSeq(it.name, ".") {
			i := slices.IndexFunc(n.kids, func(k *node) bool { return k.name == seg })
			if i < 0 {
				n.kids = append(n.kids, &node{name: seg})
				i = len(n.kids) - 1
			}
			n = n.kids[i]
		}
		if n.value != nil || len(n.kids) > 0 {
			w.err = fmt.Errorf("webhook: field %q is mapped twice or holds other fields", it.name)
			return
		}
		s := text(it.value)
		n.value = &s
	}
	var write func(n *node)
	write = func(n *node) {
		if !config.ValidXMLName(n.name) {
			w.err = fmt.Errorf("webhook: %q is not an XML element name", n.name)
			return
		}
		if n.value != nil && len(n.kids) > 0 {
			w.err = fmt.Errorf("webhook: field %q is a value and holds other fields", n.name)
			return
		}
		w.start(n.name)
		if n.value != nil {
			w.text(*n.value)
		}
		for _, k := range n.kids {
			write(k)
		}
		w.end(n.name)
	}
	for _, k := range root.kids {
		write(k)
	}
}

// checkUTF8 reports the first string that is not valid UTF-8.
func checkUTF8(ss ...string) error {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return fmt.Errorf("webhook: invalid UTF-8: %w", ErrUnencodable)
		}
	}
	return nil
}

// checkJSONValue reports a field JSON cannot write exactly.
func checkJSONValue(name string, v any) error {
	if err := checkUTF8(name); err != nil {
		return fmt.Errorf("field name: %w", err)
	}
	switch x := v.(type) {
	case string:
		if err := checkUTF8(x); err != nil {
			return fmt.Errorf("field %s: %w", name, err)
		}
	case []any:
		for _, e := range x {
			if err := checkJSONValue(name, e); err != nil {
				return err
			}
		}
	case map[string]any:
		for k, e := range x {
			if err := checkJSONValue(k, e); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkXML reports text XML 1.0 cannot carry: invalid UTF-8 and the
// characters outside its Char production (most C0 controls, surrogates,
// U+FFFE and U+FFFF).
func checkXML(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("webhook: invalid UTF-8: %w", ErrUnencodable)
	}
	for _, r := range s {
		if !xmlChar(r) {
			return fmt.Errorf("webhook: character %U cannot appear in XML: %w", r, ErrUnencodable)
		}
	}
	return nil
}

func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}
