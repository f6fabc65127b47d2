package config

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"maps"
	"net/textproto"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/leadrelay/leadrelay/shared/config/presets"
	"github.com/leadrelay/leadrelay/shared/limits"
)

// Delivery types.
const (
	DeliveryWebhook = "webhook"
	DeliveryEmail   = "email"
	// DeliverySheets appends a row per lead to a Google Sheet (sheets.go).
	DeliverySheets = "sheets"
)

// Delivery formats of a webhook.
const (
	FormatJSON = "json"
	FormatForm = "form"
	FormatXML  = "xml"
	FormatGet  = "get"
)

// Layouts of a mapped JSON body.
const (
	// LayoutObject: {"name": value, ...}; dotted names nest objects.
	LayoutObject = "object"
	// LayoutNameValue: {"fields": [{"name": "...", "value": "..."}, ...]},
	// as HubSpot's Forms API wants it.
	LayoutNameValue = "name_value"
)

// Auth kinds of a webhook.
const (
	AuthBearer = "bearer"
	AuthBasic  = "basic"
	AuthAPIKey = "api_key"
)

// Phone formats a field mapping can ask for. They apply to North American
// numbers; E164 also passes other numbers through as "+" and their digits.
const (
	PhoneE164     = "e164"      // +15551234567
	PhoneTenDigit = "ten_digit" // 5551234567
	PhoneNational = "national"  // (555) 123-4567
	PhoneDashed   = "dashed"    // 555-123-4567
)

// PhoneFormats lists the phone formats.
var PhoneFormats = []string{PhoneE164, PhoneTenDigit, PhoneNational, PhoneDashed}

// Named date formats a field mapping can ask for; any other value is a Go
// time layout such as "Jan 2, 2006".
const (
	DateISO     = "date"    // 2006-01-02
	DateUS      = "us"      // 01/02/2006
	DateRFC3339 = "rfc3339" // 2006-01-02T15:04:05Z07:00
	DateUnix    = "unix"    // seconds since 1970
)

// EnvelopeKeys are the values a field mapping's `from` can name besides the
// lead's fields: the lead's envelope and the post's price and bid.
var EnvelopeKeys = []string{"$lead_id", "$campaign", "$source", "$external_id", "$price", "$bid_id", "$created_at", "$test"}

// Delivery says how leads reach a buyer.
type Delivery struct {
	Type    string   `yaml:"type" json:"type"`
	URL     string   `yaml:"url,omitempty" json:"url,omitempty"`
	Format  string   `yaml:"format,omitempty" json:"format,omitempty"`
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// Secret signs webhooks (Standard Webhooks). It may be a plain string or
	// "whsec_" followed by base64.
	Secret string `yaml:"secret,omitempty" json:"secret,omitempty"`
	// To is the address for email delivery.
	To string `yaml:"to,omitempty" json:"to,omitempty"`
	// SpreadsheetID, Range and Credentials are a Google Sheets
	// delivery's: the spreadsheet, the table in it in A1 notation
	// ("Leads!A1") and an ssm: reference to the service account's JSON key
	// (a secret field, resolved on use). Its columns are Fields (sheets.go).
	SpreadsheetID string `yaml:"spreadsheet_id,omitempty" json:"spreadsheet_id,omitempty"`
	Range         string `yaml:"range,omitempty" json:"range,omitempty"`
	Credentials   string `yaml:"credentials,omitempty" json:"credentials,omitempty"`
	// Headers are sent with every post.
	Headers map[string]string `yaml:"headers,omitempty" json:"headers,omitempty"`
	// MaxAttempts bounds the tries of one post before the lead moves to the
	// next buyer (default 5).
	MaxAttempts int `yaml:"max_attempts,omitempty" json:"max_attempts,omitempty"`

	// Preset names a built-in CRM preset (hubspot, salesforce, gohighlevel)
	// whose settings apply under the buyer's own; see Resolved.
	Preset string `yaml:"preset,omitempty" json:"preset,omitempty"`
	// PreviousSecret is a second signing secret, valid alongside Secret
	// while a buyer rotates: posts carry a signature for each.
	PreviousSecret string `yaml:"previous_secret,omitempty" json:"previous_secret,omitempty"`
	// Auth authenticates posts to the buyer.
	Auth *Auth `yaml:"auth,omitempty" json:"auth,omitempty"`
	// Layout shapes a mapped JSON body: object (default) or name_value.
	Layout string `yaml:"layout,omitempty" json:"layout,omitempty"`
	// XMLRoot names the root element of XML posts (default "lead").
	XMLRoot string `yaml:"xml_root,omitempty" json:"xml_root,omitempty"`
	// Fields, when set, is the whole body: each entry one buyer field.
	// Without it the body is the default one (DESIGN.md).
	Fields []FieldMap `yaml:"fields,omitempty" json:"fields,omitempty"`
	// Response refines how the buyer's answer is judged.
	Response *Response `yaml:"response,omitempty" json:"response,omitempty"`
	// Number, Buffer, Ring, Concurrency and Record are a call delivery's
	// (calls.go): the buyer's number (E.164); how long a connected call
	// lasts before it is billed; how long the number rings before the
	// call goes to the next buyer (default 20 s); how many calls the buyer
	// takes at once (0: no limit); and whether Twilio records the call.
	Number      string   `yaml:"number,omitempty" json:"number,omitempty"`
	Buffer      Duration `yaml:"buffer,omitempty" json:"buffer,omitempty"`
	Ring        Duration `yaml:"ring,omitempty" json:"ring,omitempty"`
	Concurrency int      `yaml:"concurrency,omitempty" json:"concurrency,omitempty"`
	Record      bool     `yaml:"record,omitempty" json:"record,omitempty"`
	// Breaker pauses the buyer after consecutive transient failures
	// (default: 5 failures, 60 s cool-down); see BreakerPolicy.
	Breaker *Breaker `yaml:"breaker,omitempty" json:"breaker,omitempty"`
}

// Breaker is a buyer's circuit breaker: after Failures consecutive
// transient delivery failures the router skips the buyer for Cooldown,
// then lets one lead through; its success closes the breaker, its failure
// opens it again.
type Breaker struct {
	Failures int      `yaml:"failures,omitempty" json:"failures,omitempty"`
	Cooldown Duration `yaml:"cooldown,omitempty" json:"cooldown,omitempty"`
}

// Breaker defaults.
const (
	DefaultBreakerFailures = 5
	DefaultBreakerCooldown = 60 * time.Second
)

// BreakerPolicy is the delivery's breaker with the defaults filled in.
func (d Delivery) BreakerPolicy() Breaker {
	b := Breaker{Failures: DefaultBreakerFailures, Cooldown: Duration(DefaultBreakerCooldown)}
	if d.Breaker != nil {
		if d.Breaker.Failures != 0 {
			b.Failures = d.Breaker.Failures
		}
		if d.Breaker.Cooldown != 0 {
			b.Cooldown = d.Breaker.Cooldown
		}
	}
	return b
}

// Auth is how a post authenticates to the buyer.
type Auth struct {
	// Type is bearer, basic or api_key.
	Type string `yaml:"type" json:"type"`
	// Token is the bearer token.
	Token string `yaml:"token,omitempty" json:"token,omitempty"`
	// Username and Password are HTTP basic credentials.
	Username string `yaml:"username,omitempty" json:"username,omitempty"`
	Password string `yaml:"password,omitempty" json:"password,omitempty"`
	// Key is the API key, sent in the header named Header or in the query
	// parameter named Query (exactly one of them).
	Key    string `yaml:"key,omitempty" json:"key,omitempty"`
	Header string `yaml:"header,omitempty" json:"header,omitempty"`
	Query  string `yaml:"query,omitempty" json:"query,omitempty"`
}

// FieldMap is one field of a buyer's body: a lead field renamed and
// reformatted, or a constant.
type FieldMap struct {
	// Name is the buyer's field name. In JSON objects and XML, dots nest:
	// "contact.email".
	Name string `yaml:"name" json:"name"`
	// From is the lead field the value comes from, or an envelope key such
	// as $lead_id or $price (EnvelopeKeys).
	From string `yaml:"from,omitempty" json:"from,omitempty"`
	// Value is a constant, instead of From.
	Value any `yaml:"value,omitempty" json:"value,omitempty"`
	// Default is used when the lead has no value for From; without it the
	// field is left out.
	Default any `yaml:"default,omitempty" json:"default,omitempty"`
	// Map translates values: {CA: California}. Values it does not list
	// pass unchanged.
	Map map[string]string `yaml:"map,omitempty" json:"map,omitempty"`
	// Phone formats a phone number (PhoneFormats).
	Phone string `yaml:"phone,omitempty" json:"phone,omitempty"`
	// Date formats a date: date, us, rfc3339, unix or a Go layout.
	Date string `yaml:"date,omitempty" json:"date,omitempty"`
}

// Response holds a buyer's response rules. Accept rules refine the
// default judgement of a 2xx answer: a 2xx that fails an Accept rule is a
// rejection. Duplicate rules apply only to the answer to a retry of a post
// whose earlier attempt got no answer (it may have reached the buyer).
type Response struct {
	// Accept rules must all hold for a 2xx answer to be an acceptance.
	Accept []Rule `yaml:"accept,omitempty" json:"accept,omitempty"`
	// Duplicate rules recognise the buyer's "already have it" answer: on a
	// retry of a post whose earlier attempt had an unknown outcome (written,
	// never answered), an answer of any status that matches every one of
	// them counts as accepted (the buyer took the lead from the earlier
	// attempt). Without them such an answer is judged as any other.
	Duplicate []Rule `yaml:"duplicate,omitempty" json:"duplicate,omitempty"`
	// BuyerLeadID extracts the buyer's id for the lead.
	BuyerLeadID *Rule `yaml:"buyer_lead_id,omitempty" json:"buyer_lead_id,omitempty"`
	// Price extracts a price the buyer returned.
	Price *Rule `yaml:"price,omitempty" json:"price,omitempty"`
	// Reason extracts the buyer's explanation of a rejection.
	Reason *Rule `yaml:"reason,omitempty" json:"reason,omitempty"`
}

// Rule finds a value in a response body by exactly one of a JSON path
// ("status", "result.code", "data.0.id"), an XML element path ("Result",
// "Response.Result": the innermost elements, anywhere in the document) or a
// regular expression (its first group, or the whole match).
//
// As an accept rule, it holds when the value equals Equals (compared as
// text, numbers by value) or, without Equals, when the value is present
// and not null, empty or false; a Regex rule holds when it matches.
type Rule struct {
	JSON   string `yaml:"json,omitempty" json:"json,omitempty"`
	XML    string `yaml:"xml,omitempty" json:"xml,omitempty"`
	Regex  string `yaml:"regex,omitempty" json:"regex,omitempty"`
	Equals any    `yaml:"equals,omitempty" json:"equals,omitempty"`
}

// Resolved returns the delivery with its preset applied: the preset's
// settings, with the buyer's own laid on top. Scalars the buyer sets win;
// headers merge; the buyer's fields replace the preset's of the same name
// and add the rest; the buyer's auth and response rules replace the
// preset's. A preset fixes the format. Without a preset, Resolved returns d.
func (d Delivery) Resolved() (Delivery, error) {
	if d.Preset == "" {
		return d, nil
	}
	pre, err := lookupPreset(d.Preset)
	if err != nil {
		return d, err
	}
	out := pre.Delivery
	out.Preset = d.Preset
	out.Type = d.Type
	if d.URL != "" {
		out.URL = d.URL
	}
	if out.Format == "" {
		out.Format = d.Format
	}
	out.Timeout, out.Secret, out.PreviousSecret = d.Timeout, d.Secret, d.PreviousSecret
	out.To, out.MaxAttempts = d.To, d.MaxAttempts
	if len(pre.Delivery.Headers)+len(d.Headers) > 0 {
		out.Headers = maps.Clone(pre.Delivery.Headers)
		if out.Headers == nil {
			out.Headers = map[string]string{}
		}
		maps.Copy(out.Headers, d.Headers)
	}
	if d.Auth != nil {
		out.Auth = d.Auth
	}
	if d.Layout != "" {
		out.Layout = d.Layout
	}
	if d.XMLRoot != "" {
		out.XMLRoot = d.XMLRoot
	}
	if d.Response != nil {
		out.Response = d.Response
	}
	out.Fields = slices.Clone(pre.Delivery.Fields)
	for _, f := range d.Fields {
		if i := slices.IndexFunc(out.Fields, func(g FieldMap) bool { return g.Name == f.Name }); i >= 0 {
			out.Fields[i] = f
		} else {
			out.Fields = append(out.Fields, f)
		}
	}
	return out, nil
}

// DateLayout returns the Go time layout of a named date format or of a Go
// layout, and whether the format is one. DateUnix has no layout: it returns
// ("", true).
func DateLayout(format string) (string, bool) {
	switch format {
	case DateISO:
		return time.DateOnly, true
	case DateUS:
		return "01/02/2006", true
	case DateRFC3339:
		return time.RFC3339, true
	case DateUnix:
		return "", true
	case "":
		return "", false
	}
	// A layout must hold at least one element Go replaces.
	ref := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	return format, ref.Format(format) != format
}

// ValidXMLName reports whether s can name an XML element as LeadRelay
// writes them: ASCII letters, digits, '_', '-' and '.', not starting with a
// digit, '-', '.' or "xml".
func ValidXMLName(s string) bool {
	return xmlName.MatchString(s) && !strings.HasPrefix(strings.ToLower(s), "xml")
}

var xmlName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)

// preset is one parsed preset document.
type preset struct {
	Description string `yaml:"description"`
	// RequiresFields are field names the buyer must add (Salesforce's oid).
	RequiresFields []string `yaml:"requires_fields,omitempty"`
	Delivery       Delivery `yaml:"delivery"`
}

// builtinPresets parses the embedded presets once; the result is never
// modified.
var builtinPresets = sync.OnceValues(func() (map[string]*preset, error) {
	out := map[string]*preset{}
	for _, name := range presets.Names() {
		b, _ := presets.Lookup(name)
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		var p preset
		if err := dec.Decode(&p); err != nil {
			return nil, fmt.Errorf("preset %s: %w", name, err)
		}
		out[name] = &p
	}
	return out, nil
})

func lookupPreset(name string) (*preset, error) {
	all, err := builtinPresets()
	if err != nil {
		return nil, err
	}
	p, ok := all[name]
	if !ok {
		return nil, fmt.Errorf("unknown preset %q: want one of %s", name, strings.Join(presets.Names(), ", "))
	}
	return p, nil
}

var (
	deliveryFormats = []string{FormatJSON, FormatForm, FormatXML, FormatGet}
	// reservedHeaders are set by LeadRelay itself.
	reservedHeaders = []string{"Webhook-Id", "Webhook-Timestamp", "Webhook-Signature", "Host", "Content-Length", "Transfer-Encoding", "Connection"}
)

// delivery checks a buyer's delivery at path p, step by step, in the
// order its problems are reported.
func (k *checker) delivery(p string, d Delivery) {
	eff, requires := k.preset(p, d)
	k.transport(p, d, eff)
	k.attempts(p, d)
	k.secret(p+".secret", d.Secret)
	k.secret(p+".previous_secret", d.PreviousSecret)
	if d.PreviousSecret != "" && d.Secret == "" {
		k.add(p+".previous_secret", CodeInvalid, "previous_secret needs a secret: rotate by moving the old secret here and setting the new one")
	}
	k.headers(p+".headers", d.Headers)
	if d.Auth != nil {
		k.auth(p+".auth", d.Auth)
	}
	k.breaker(p+".breaker", d.Breaker)
	k.layout(p, d, eff)
	k.fieldMaps(p, d, eff, requires)
	k.response(p, d)
}

// preset checks a delivery's preset and returns the delivery in effect
// (the preset's with the buyer's settings on top; d itself without a
// preset) and the fields the preset requires.
func (k *checker) preset(p string, d Delivery) (eff Delivery, requires []string) {
	eff = d
	if d.Preset == "" {
		return eff, nil
	}
	pre, err := lookupPreset(d.Preset)
	switch {
	case err != nil:
		k.add(p+".preset", CodeReference, "%v", err)
	case d.Type != DeliveryWebhook:
		k.add(p+".preset", CodeInvalid, "a preset needs webhook delivery")
	default:
		if f := pre.Delivery.Format; f != "" && d.Format != "" && d.Format != FormatJSON && d.Format != f {
			k.add(p+".format", CodeInvalid, "preset %q posts %s; leave format out", d.Preset, f)
		}
		eff, _ = d.Resolved()
		requires = pre.RequiresFields
	}
	return eff, requires
}

// transport checks where a delivery goes: a webhook's URL and format, an
// email's address.
func (k *checker) transport(p string, d, eff Delivery) {
	switch d.Type {
	case DeliveryWebhook:
		k.url(p+".url", eff.URL, true)
		if !slices.Contains(deliveryFormats, eff.Format) {
			k.add(p+".format", CodeInvalid, "format %q: want one of %s", eff.Format, strings.Join(deliveryFormats, ", "))
		}
	case DeliveryEmail:
		if !strings.Contains(d.To, "@") {
			k.add(p+".to", CodeRequired, "email delivery needs a 'to' address")
		}
	case DeliverySheets:
		k.sheets(p, d)
	case DeliveryCall:
		k.callDelivery(p, d)
	default:
		k.add(p+".type", CodeInvalid, "delivery type %q: want webhook, email, sheets or call", d.Type)
	}
	if d.Type != DeliveryCall {
		k.notCall(p, d)
	}
	if d.Type != DeliverySheets {
		k.notSheets(p, d)
	}
}

// attempts checks a delivery's timeout and attempts against the
// deployment's limits.
func (k *checker) attempts(p string, d Delivery) {
	if t := d.Timeout.D(); t < MinDeliveryTimeout || t > limits.MaxDeliveryTimeout {
		k.add(p+".timeout", CodeInvalid, "timeout must be %s to %s (the delivery function's timeout is %s)",
			MinDeliveryTimeout, limits.MaxDeliveryTimeout, seconds(limits.DeliveryFunctionTimeout))
	}
	if d.MaxAttempts < 1 || d.MaxAttempts > limits.MaxDeliveryAttempts {
		k.add(p+".max_attempts", CodeInvalid, "max_attempts must be 1 to %d (the delivery queue's maxReceiveCount is %d)",
			limits.MaxDeliveryAttempts, limits.QueueMaxReceiveCount)
	}
}

// headers checks a delivery's own headers (at path p): HTTP tokens,
// none LeadRelay sets itself, no control characters.
func (k *checker) headers(p string, headers map[string]string) {
	for _, name := range sortedKeys(headers) {
		hp := p + "." + name
		if !validHeaderName(name) {
			k.add(hp, CodeInvalid, "header name %q is not an HTTP token", name)
		} else if slices.Contains(reservedHeaders, textproto.CanonicalMIMEHeaderKey(name)) {
			k.add(hp, CodeInvalid, "header %q is set by LeadRelay", name)
		}
		if !validHeaderValue(headers[name]) {
			k.add(hp, CodeInvalid, "header value holds control characters")
		}
	}
}

// breaker checks a delivery's circuit breaker settings (at path p).
func (k *checker) breaker(p string, b *Breaker) {
	if b == nil {
		return
	}
	if b.Failures < 0 || b.Failures > 100 {
		k.add(p+".failures", CodeInvalid, "breaker failures must be 1 to 100 (default %d)", DefaultBreakerFailures)
	}
	if c := b.Cooldown.D(); c != 0 && (c < time.Second || c > 24*time.Hour) {
		k.add(p+".cooldown", CodeInvalid, "breaker cooldown must be 1s to 24h (default %s)", DefaultBreakerCooldown)
	}
}

// layout checks the body's layout and XML root against the format in
// effect.
func (k *checker) layout(p string, d, eff Delivery) {
	if d.Layout != "" && d.Layout != LayoutObject && d.Layout != LayoutNameValue {
		k.add(p+".layout", CodeInvalid, "layout %q: want object or name_value", d.Layout)
	}
	if eff.Layout == LayoutNameValue && eff.Format != FormatJSON {
		k.add(p+".layout", CodeInvalid, "layout name_value is for the json format")
	}
	if d.XMLRoot != "" {
		if eff.Format != FormatXML {
			k.add(p+".xml_root", CodeInvalid, "xml_root is for the xml format")
		} else if !ValidXMLName(d.XMLRoot) {
			k.add(p+".xml_root", CodeInvalid, "xml_root %q is not an XML element name", d.XMLRoot)
		}
	}
}

// fieldMaps checks the buyer's field mapping: each field, no name twice,
// a nesting the format can carry, and the fields the preset requires.
func (k *checker) fieldMaps(p string, d, eff Delivery, requires []string) {
	nested := eff.Format == FormatXML || eff.Format == FormatJSON && eff.Layout != LayoutNameValue
	names := map[string]bool{}
	for i, f := range d.Fields {
		fp := fmt.Sprintf("%s.fields[%d]", p, i)
		k.fieldMap(fp, f, eff.Format, nested)
		if names[f.Name] {
			k.add(fp+".name", CodeDuplicate, "field %q is mapped twice", f.Name)
		}
		names[f.Name] = true
	}
	if nested {
		k.nesting(p+".fields", eff.Fields)
	}
	for _, name := range requires {
		if !slices.ContainsFunc(eff.Fields, func(f FieldMap) bool { return f.Name == name && f.Value != nil }) {
			k.add(p+".fields", CodeRequired, "preset %q needs a field %q with a value, such as {name: %s, value: \"...\"}", d.Preset, name, name)
		}
	}
}

// response checks the rules that judge a buyer's answer.
func (k *checker) response(p string, d Delivery) {
	r := d.Response
	if r == nil {
		return
	}
	for i, rule := range r.Accept {
		k.rule(fmt.Sprintf("%s.response.accept[%d]", p, i), &rule, true)
	}
	for i, rule := range r.Duplicate {
		k.rule(fmt.Sprintf("%s.response.duplicate[%d]", p, i), &rule, true)
	}
	if len(r.Duplicate) > 0 && d.Type == DeliveryEmail {
		k.add(p+".response.duplicate", CodeInvalid, "duplicate rules are for webhook delivery: an email is accepted by SES or not, never unknown")
	}
	k.rule(p+".response.buyer_lead_id", r.BuyerLeadID, false)
	k.rule(p+".response.price", r.Price, false)
	k.rule(p+".response.reason", r.Reason, false)
}

func (k *checker) secret(p, s string) {
	if rest, ok := strings.CutPrefix(s, "whsec_"); ok {
		if b, err := base64.StdEncoding.DecodeString(rest); err != nil || len(b) == 0 {
			k.add(p, CodeInvalid, "a whsec_ secret must be followed by standard base64")
		}
	}
}

func (k *checker) auth(p string, a *Auth) {
	set := map[string]string{"token": a.Token, "username": a.Username, "password": a.Password, "key": a.Key, "header": a.Header, "query": a.Query}
	var allowed []string
	switch a.Type {
	case AuthBearer:
		allowed = []string{"token"}
		if a.Token == "" {
			k.add(p+".token", CodeRequired, "bearer auth needs a token")
		}
	case AuthBasic:
		allowed = []string{"username", "password"}
		if a.Username == "" {
			k.add(p+".username", CodeRequired, "basic auth needs a username")
		} else if strings.Contains(a.Username, ":") {
			k.add(p+".username", CodeInvalid, "a basic auth username cannot hold ':'")
		}
	case AuthAPIKey:
		allowed = []string{"key", "header", "query"}
		if a.Key == "" {
			k.add(p+".key", CodeRequired, "api_key auth needs a key")
		}
		switch {
		case (a.Header == "") == (a.Query == ""):
			k.add(p+".header", CodeRequired, "api_key auth needs exactly one of header (a header name) or query (a parameter name)")
		case a.Header != "" && !validHeaderName(a.Header):
			k.add(p+".header", CodeInvalid, "header name %q is not an HTTP token", a.Header)
		case a.Header != "" && slices.Contains(reservedHeaders, textproto.CanonicalMIMEHeaderKey(a.Header)):
			k.add(p+".header", CodeInvalid, "header %q is set by LeadRelay", a.Header)
		}
	default:
		k.add(p+".type", CodeInvalid, "auth type %q: want bearer, basic or api_key", a.Type)
		return
	}
	for _, name := range sortedKeys(set) {
		v := set[name]
		if v == "" {
			continue
		}
		if !slices.Contains(allowed, name) {
			k.add(p+"."+name, CodeInvalid, "%s does not belong to %s auth", name, a.Type)
		} else if !validHeaderValue(v) {
			k.add(p+"."+name, CodeInvalid, "%s holds control characters", name)
		}
	}
}

func (k *checker) fieldMap(p string, f FieldMap, format string, nested bool) {
	switch {
	case f.Name == "":
		k.add(p+".name", CodeRequired, "a mapped field needs a name")
	case format == FormatXML:
		for _, seg := range strings.Split(f.Name, ".") {
			if !ValidXMLName(seg) {
				k.add(p+".name", CodeInvalid, "%q is not an XML element name (letters, digits, '_', '-'; dots nest)", f.Name)
				break
			}
		}
	case nested && slices.Contains(strings.Split(f.Name, "."), ""):
		k.add(p+".name", CodeInvalid, "%q has an empty part between dots", f.Name)
	}
	switch {
	case (f.From == "") == (f.Value == nil):
		k.add(p, CodeRequired, "a mapped field needs exactly one of from (a lead field) or value (a constant)")
	case strings.HasPrefix(f.From, "$") && !slices.Contains(EnvelopeKeys, f.From):
		k.add(p+".from", CodeInvalid, "%q: want a lead field or one of %s", f.From, strings.Join(EnvelopeKeys, ", "))
	}
	k.scalar(p+".value", f.Value)
	k.scalar(p+".default", f.Default)
	if f.Default != nil && f.From == "" {
		k.add(p+".default", CodeInvalid, "default is for fields mapped from the lead")
	}
	if f.Phone != "" && !slices.Contains(PhoneFormats, f.Phone) {
		k.add(p+".phone", CodeInvalid, "phone format %q: want one of %s", f.Phone, strings.Join(PhoneFormats, ", "))
	}
	if f.Date != "" {
		if _, ok := DateLayout(f.Date); !ok {
			k.add(p+".date", CodeInvalid, "date format %q: want date, us, rfc3339, unix or a Go layout such as 01/02/2006", f.Date)
		}
	}
	if f.Phone != "" && f.Date != "" {
		k.add(p+".date", CodeInvalid, "a field is a phone or a date, not both")
	}
}

func (k *checker) scalar(p string, v any) {
	switch v.(type) {
	case []any, map[string]any:
		k.add(p, CodeInvalid, "must be a single value, not a list or a mapping")
	}
}

// nesting finds dotted names that would need a value and an object at the
// same place: "contact" and "contact.email".
func (k *checker) nesting(p string, fields []FieldMap) {
	leaves := map[string]bool{}
	for _, f := range fields {
		leaves[f.Name] = true
	}
	for _, f := range fields {
		for i := strings.IndexByte(f.Name, '.'); i >= 0; i = nextDot(f.Name, i) {
			if leaves[f.Name[:i]] {
				k.add(p, CodeInvalid, "field %q and field %q cannot both be mapped: one holds the other", f.Name[:i], f.Name)
			}
		}
	}
}

func nextDot(s string, i int) int {
	j := strings.IndexByte(s[i+1:], '.')
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

func (k *checker) rule(p string, r *Rule, accept bool) {
	if r == nil {
		return
	}
	n := 0
	for _, s := range []string{r.JSON, r.XML, r.Regex} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		k.add(p, CodeInvalid, "a rule needs exactly one of json (a path such as result.code), xml (an element path) or regex")
		return
	}
	if r.Regex != "" {
		if _, err := regexp.Compile(r.Regex); err != nil {
			k.add(p+".regex", CodeInvalid, "regex does not compile: %v", err)
		}
		if r.Equals != nil {
			k.add(p+".equals", CodeInvalid, "equals is for json and xml rules; a regex rule holds when it matches")
		}
	}
	for _, kv := range [][2]string{{"json", r.JSON}, {"xml", r.XML}} {
		if kv[1] != "" && slices.Contains(strings.Split(kv[1], "."), "") {
			k.add(p+"."+kv[0], CodeInvalid, "path %q has an empty part between dots", kv[1])
		}
	}
	if !accept && r.Equals != nil {
		k.add(p+".equals", CodeInvalid, "equals is for accept rules")
	}
	k.scalar(p+".equals", r.Equals)
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
