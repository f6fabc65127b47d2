package webhook

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
)

var testNow = time.Unix(1767225600, 0) // 2026-01-01T00:00:00Z

func testLead() *lead.Lead {
	return &lead.Lead{
		ID:       "L1",
		Campaign: "auto",
		Source:   "fb-1",
		Fields: map[string]any{
			"first_name": "Ana",
			"phone":      "+15551234567",
			"state":      "CA",
			"age":        float64(30), // as after a JSON round trip
			"score":      72.5,
			"dob":        "1985-04-12",
			"opt_in":     true,
		},
		CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

func testPost(l *lead.Lead) Post {
	return Post{Lead: l, Price: 2550, MessageID: "msg_1", Now: testNow}
}

func delivery(format string) *config.Delivery {
	return &config.Delivery{Type: "webhook", URL: "https://buyer.example.com/leads", Format: format, Timeout: config.Duration(time.Second), MaxAttempts: 5}
}

// hostile values: markup, entities, quotes, line breaks, unicode, CDATA ends
// and URL syntax.
var hostile = []string{
	`<script>alert("x")</script>`,
	`Tom & Jerry's "quote"`,
	"line1\nline2\r\nline3\rline4\ttab",
	"ünïcödé 漢字 🚀 \u200b",
	"]]><![CDATA[x]]>",
	"a=b&c=d?e#f;g+h%20 /",
	"&amp; &lt; &#x41; &#0;",
	"  leading and trailing  ",
	"",
}

// body reads a rendered request's body.
func body(t testing.TB, req *http.Request) []byte {
	t.Helper()
	if req.Body == nil {
		return nil
	}
	b, err := io.ReadAll(req.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// parsed is a rendered post read back: every leaf value as text, by its
// dotted path ("fields.phone", "Contact.Phone").
type parsed map[string]string

// parseBack reads any format back, the way a buyer would.
func parseBack(t testing.TB, format string, req *http.Request, b []byte) parsed {
	t.Helper()
	out := parsed{}
	switch format {
	case config.FormatJSON:
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("json does not parse: %v\n%s", err, b)
		}
		if dec.More() {
			t.Fatalf("json has trailing data: %s", b)
		}
		flattenJSON(out, "", v)
	case config.FormatForm:
		q, err := url.ParseQuery(string(b))
		if err != nil {
			t.Fatalf("form does not parse: %v\n%s", err, b)
		}
		flattenValues(t, out, q)
	case config.FormatGet:
		q, err := url.ParseQuery(req.URL.RawQuery)
		if err != nil {
			t.Fatalf("query does not parse: %v\n%s", err, req.URL.RawQuery)
		}
		flattenValues(t, out, q)
	case config.FormatXML:
		flattenXML(t, out, b)
	}
	return out
}

func flattenJSON(out parsed, prefix string, v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			flattenJSON(out, join(prefix, k), e)
		}
	case []any:
		for i, e := range x {
			flattenJSON(out, join(prefix, fmt.Sprint(i)), e)
		}
	default:
		out[prefix] = text(x)
	}
}

func flattenValues(t testing.TB, out parsed, q url.Values) {
	for k, vs := range q {
		if len(vs) != 1 {
			t.Fatalf("%q has %d values", k, len(vs))
		}
		out[k] = vs[0]
	}
}

// flattenXML reads leaf elements below the root; <field name="x"> counts as
// an element named x.
func flattenXML(t testing.TB, out parsed, b []byte) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	var path []string
	var hasKids []bool
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("xml does not parse: %v\n%s", err, b)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			name := x.Name.Local
			for _, a := range x.Attr {
				if name == "field" && a.Name.Local == "name" {
					name = a.Value
				}
			}
			if len(hasKids) > 0 {
				hasKids[len(hasKids)-1] = true
			}
			path = append(path, name)
			hasKids = append(hasKids, false)
			text.Reset()
		case xml.CharData:
			text.Write(x)
		case xml.EndElement:
			if len(path) > 1 && !hasKids[len(hasKids)-1] {
				out[strings.Join(path[1:], ".")] = text.String()
			}
			path, hasKids = path[:len(path)-1], hasKids[:len(hasKids)-1]
			text.Reset()
		}
	}
}

func join(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

func TestRenderDefaultBodies(t *testing.T) {
	l := testLead()
	for i, h := range hostile {
		l.Fields[fmt.Sprintf("h%d", i)] = h
	}
	l.Fields[`we<ird "name" & 1`] = "odd name"
	for _, format := range []string{config.FormatJSON, config.FormatForm, config.FormatXML, config.FormatGet} {
		for _, bid := range []string{"", "bid-9"} {
			t.Run(format+"/bid="+bid, func(t *testing.T) {
				p := testPost(l)
				p.BidID = bid
				req, err := Render(delivery(format), p)
				if err != nil {
					t.Fatal(err)
				}
				b := body(t, req)
				got := parseBack(t, format, req, b)

				fieldKey := func(k string) string { return k }
				if format == config.FormatJSON || format == config.FormatXML {
					fieldKey = func(k string) string { return "fields." + k }
				}
				want := parsed{"lead_id": "L1", "campaign": "auto", "price": "25.5"}
				if bid != "" {
					want["bid_id"] = bid
				}
				for k, v := range l.Fields {
					want[fieldKey(k)] = text(v)
				}
				if format == config.FormatXML {
					// An empty element has no text: it reads back as "".
					want[fieldKey("h8")] = ""
				}
				if !maps.Equal(got, want) {
					t.Fatalf("read back\n got %q\nwant %q\nbody %s%s", got, want, b, req.URL.RawQuery)
				}
				wantMethod, wantType := http.MethodPost, map[string]string{
					config.FormatJSON: contentJSON, config.FormatForm: contentForm, config.FormatXML: contentXML,
				}[format]
				if format == config.FormatGet {
					wantMethod = http.MethodGet
					if len(b) != 0 {
						t.Fatalf("GET has a body: %s", b)
					}
				}
				if req.Method != wantMethod || req.Header.Get("Content-Type") != wantType {
					t.Fatalf("method %s content type %q", req.Method, req.Header.Get("Content-Type"))
				}
				if req.Header.Get(HeaderID) != "msg_1" || req.Header.Get(HeaderTimestamp) != "1767225600" {
					t.Fatalf("webhook headers: %v", req.Header)
				}
			})
		}
	}
}

func TestRenderJSONPriceIsANumber(t *testing.T) {
	req, err := Render(delivery(config.FormatJSON), testPost(testLead()))
	if err != nil {
		t.Fatal(err)
	}
	b := body(t, req)
	if !bytes.Contains(b, []byte(`"price":25.5,`)) || bytes.Contains(b, []byte("bid_id")) || !bytes.Contains(b, []byte(`"age":30,`)) {
		t.Fatalf("body %s", b)
	}
	l := testLead()
	l.Fields = nil
	l.Test = true
	req, _ = Render(delivery(config.FormatJSON), testPost(l))
	if b := body(t, req); string(b) != `{"lead_id":"L1","campaign":"auto","price":25.5,"test":true,"fields":{}}` {
		t.Fatalf("body %s", b)
	}
}

func TestRenderMapping(t *testing.T) {
	fields := []config.FieldMap{
		{Name: "FirstName", From: "first_name"},
		{Name: "Contact.Phone", From: "phone", Phone: config.PhoneNational},
		{Name: "Contact.State", From: "state", Map: map[string]string{"CA": "California", "TX": "Texas"}},
		{Name: "DOB", From: "dob", Date: config.DateUS},
		{Name: "Vendor", Value: "LR & Co <1>"},
		{Name: "Missing", From: "nope"},
		{Name: "Country", From: "country", Default: "US"},
		{Name: "LeadID", From: "$lead_id"},
		{Name: "Price", From: "$price"},
		{Name: "Age", From: "age"},
		{Name: "Created", From: "$created_at", Date: config.DateUnix},
	}
	want := parsed{
		"FirstName": "Ana", "Contact.Phone": "(555) 123-4567", "Contact.State": "California",
		"DOB": "04/12/1985", "Vendor": "LR & Co <1>", "Country": "US", "LeadID": "L1", "Price": "25.5",
		"Age": "30", "Created": "1767323045",
	}
	for _, format := range []string{config.FormatJSON, config.FormatForm, config.FormatXML, config.FormatGet} {
		t.Run(format, func(t *testing.T) {
			d := delivery(format)
			d.Fields = fields
			req, err := Render(d, testPost(testLead()))
			if err != nil {
				t.Fatal(err)
			}
			b := body(t, req)
			if got := parseBack(t, format, req, b); !maps.Equal(got, want) {
				t.Fatalf("read back\n got %q\nwant %q\nbody %s", got, want, b)
			}
			if format == config.FormatJSON && !bytes.Contains(b, []byte(`"Contact":{"Phone":"(555) 123-4567","State":"California"}`)) {
				t.Fatalf("JSON does not nest: %s", b)
			}
			if format == config.FormatJSON && !bytes.Contains(b, []byte(`"Price":25.5`)) {
				t.Fatalf("price is not a number: %s", b)
			}
		})
	}
}

func TestRenderNameValueAndXMLRoot(t *testing.T) {
	d := delivery(config.FormatJSON)
	d.Layout = config.LayoutNameValue
	d.Fields = []config.FieldMap{{Name: "email", Value: "a@b.co"}, {Name: "firstname", From: "first_name"}, {Name: "age", From: "age"}}
	req, err := Render(d, testPost(testLead()))
	if err != nil {
		t.Fatal(err)
	}
	if b := body(t, req); string(b) != `{"fields":[{"name":"email","value":"a@b.co"},{"name":"firstname","value":"Ana"},{"name":"age","value":"30"}]}` {
		t.Fatalf("body %s", b)
	}

	d = delivery(config.FormatXML)
	d.XMLRoot = "Request"
	d.Fields = []config.FieldMap{{Name: "Lead.Name", From: "first_name"}, {Name: "Key", Value: "k"}, {Name: "Lead.State", From: "state"}}
	req, err = Render(d, testPost(testLead()))
	if err != nil {
		t.Fatal(err)
	}
	want := xml.Header + `<Request><Lead><Name>Ana</Name><State>CA</State></Lead><Key>k</Key></Request>`
	if b := body(t, req); string(b) != want {
		t.Fatalf("body\n%s\nwant\n%s", b, want)
	}
}

func TestPhoneFormats(t *testing.T) {
	cases := []struct {
		in, format, want string
	}{
		{"+15551234567", config.PhoneE164, "+15551234567"},
		{"(555) 123-4567", config.PhoneE164, "+15551234567"},
		{"555.123.4567", config.PhoneTenDigit, "5551234567"},
		{"1-555-123-4567", config.PhoneNational, "(555) 123-4567"},
		{"+1 555 123 4567", config.PhoneDashed, "555-123-4567"},
		{"+44 20 7946 0958", config.PhoneE164, "+442079460958"},
		{"+44 20 7946 0958", config.PhoneTenDigit, ""},
		{"12345", config.PhoneE164, ""},
		{"5551234567", "bogus", ""},
	}
	for _, c := range cases {
		got, err := formatPhone(c.in, c.format)
		if got != c.want || (err != nil) != (c.want == "") {
			t.Errorf("formatPhone(%q, %s) = %q, %v; want %q", c.in, c.format, got, err, c.want)
		}
	}
}

func TestDateFormats(t *testing.T) {
	cases := []struct {
		in     any
		format string
		want   any
	}{
		{"1985-04-12", config.DateUS, "04/12/1985"},
		{"04/12/1985", config.DateISO, "1985-04-12"},
		{"4/2/1985", config.DateISO, "1985-04-02"},
		{"2026-01-02T03:04:05Z", config.DateRFC3339, "2026-01-02T03:04:05Z"},
		{"2026-01-02 03:04:05", "Jan 2, 2006 15:04", "Jan 2, 2026 03:04"},
		{"1985-04-12", config.DateUnix, int64(482112000)},
		{int64(482112000), config.DateISO, "1985-04-12"},
		{float64(482112000), config.DateISO, "1985-04-12"},
		{"12 April 1985", config.DateISO, nil},
		{true, config.DateISO, nil},
	}
	for _, c := range cases {
		got, err := formatDate(c.in, c.format)
		if got != c.want || (err != nil) != (c.want == nil) {
			t.Errorf("formatDate(%v, %s) = %v, %v; want %v", c.in, c.format, got, err, c.want)
		}
	}
}

func TestRenderAuthAndHeaders(t *testing.T) {
	cases := []struct {
		name   string
		format string
		auth   *config.Auth
		check  func(*http.Request) bool
	}{
		{"bearer", config.FormatJSON, &config.Auth{Type: config.AuthBearer, Token: "tok"},
			func(r *http.Request) bool { return r.Header.Get("Authorization") == "Bearer tok" }},
		{"basic", config.FormatForm, &config.Auth{Type: config.AuthBasic, Username: "u", Password: "p:w"},
			func(r *http.Request) bool { u, p, ok := r.BasicAuth(); return ok && u == "u" && p == "p:w" }},
		{"api key header", config.FormatXML, &config.Auth{Type: config.AuthAPIKey, Key: "k1", Header: "X-Api-Key"},
			func(r *http.Request) bool { return r.Header.Get("X-Api-Key") == "k1" && r.URL.RawQuery == "src=lr" }},
		{"api key query post", config.FormatJSON, &config.Auth{Type: config.AuthAPIKey, Key: "k&2", Query: "api_key"},
			func(r *http.Request) bool {
				return r.URL.Query().Get("api_key") == "k&2" && r.URL.Query().Get("src") == "lr"
			}},
		{"api key query get", config.FormatGet, &config.Auth{Type: config.AuthAPIKey, Key: "k3", Query: "key"},
			func(r *http.Request) bool {
				return r.URL.Query().Get("key") == "k3" && r.URL.Query().Get("first_name") == "Ana"
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := delivery(c.format)
			d.URL += "?src=lr"
			d.Auth = c.auth
			d.Headers = map[string]string{"X-Campaign": "auto", "User-Agent": "custom"}
			req, err := Render(d, testPost(testLead()))
			if err != nil {
				t.Fatal(err)
			}
			if !c.check(req) {
				t.Fatalf("auth missing: %s %v", req.URL, req.Header)
			}
			if req.Header.Get("X-Campaign") != "auto" || req.Header.Get("User-Agent") != "custom" {
				t.Fatalf("static headers: %v", req.Header)
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	cases := []struct {
		name   string
		edit   func(*config.Delivery, *Post)
		unenc  bool
		substr string
	}{
		{"no message id", func(d *config.Delivery, p *Post) { p.MessageID = "" }, false, "message id"},
		{"no lead", func(d *config.Delivery, p *Post) { p.Lead = nil }, false, "no lead"},
		{"bad url", func(d *config.Delivery, p *Post) { d.URL = "ftp://x" }, false, "not an http"},
		{"unknown preset", func(d *config.Delivery, p *Post) { d.Preset = "nope" }, false, "unknown preset"},
		{"xml control char", func(d *config.Delivery, p *Post) { d.Format = "xml"; p.Lead.Fields["x"] = "a\x00b" }, true, "U+0000"},
		{"xml bad field name", func(d *config.Delivery, p *Post) { d.Format = "xml"; p.Lead.Fields["a\x01"] = "v" }, true, "field name"},
		{"json invalid utf-8", func(d *config.Delivery, p *Post) { p.Lead.Fields["x"] = "a\xffb" }, true, "field x"},
		{"json NaN", func(d *config.Delivery, p *Post) {
			d.Fields = []config.FieldMap{{Name: "n", Value: 0.0}}
			p.Lead.Fields["n"] = 0.0
			d.Fields[0] = config.FieldMap{Name: "n", From: "nan"}
			p.Lead.Fields["nan"] = nan()
		}, true, "json body"},
		{"phone", func(d *config.Delivery, p *Post) {
			d.Fields = []config.FieldMap{{Name: "p", From: "phone", Phone: config.PhoneNational}}
			p.Lead.Fields["phone"] = "+44 20 7946 0958"
		}, false, "field p: phone value"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, p := delivery("json"), testPost(testLead())
			c.edit(d, &p)
			_, err := Render(d, p)
			if err == nil || !strings.Contains(err.Error(), c.substr) || errors.Is(err, ErrUnencodable) != c.unenc {
				t.Fatalf("err = %v; want %q (unencodable %v)", err, c.substr, c.unenc)
			}
		})
	}
}

func nan() float64 {
	zero := 0.0
	return zero / zero
}

func TestPresets(t *testing.T) {
	l := testLead()
	l.Fields["email"] = "ana@example.com"
	l.Fields["last_name"] = "Diaz"
	cases := []struct {
		preset string
		url    string
		extra  []config.FieldMap
		check  func(t *testing.T, req *http.Request, b []byte)
	}{
		{"hubspot", "https://api.hsforms.com/submissions/v3/integration/submit/1/abc", nil, func(t *testing.T, req *http.Request, b []byte) {
			var got struct{ Fields []nameValue }
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			want := []nameValue{{"email", "ana@example.com"}, {"firstname", "Ana"}, {"lastname", "Diaz"}, {"phone", "+15551234567"}, {"state", "CA"}}
			if fmt.Sprint(got.Fields) != fmt.Sprint(want) || req.Header.Get("Content-Type") != contentJSON {
				t.Fatalf("hubspot body %s", b)
			}
		}},
		{"salesforce", "", []config.FieldMap{{Name: "oid", Value: "00D000000000001"}, {Name: "lead_source", Value: "Acme Agency"}}, func(t *testing.T, req *http.Request, b []byte) {
			q, _ := url.ParseQuery(string(b))
			want := url.Values{"oid": {"00D000000000001"}, "first_name": {"Ana"}, "last_name": {"Diaz"}, "email": {"ana@example.com"},
				"phone": {"(555) 123-4567"}, "state": {"CA"}, "lead_source": {"Acme Agency"}}
			if q.Encode() != want.Encode() || req.URL.String() != "https://webto.salesforce.com/servlet/servlet.WebToLead?encoding=UTF-8" || req.Header.Get("Content-Type") != contentForm {
				t.Fatalf("salesforce %s body %s", req.URL, b)
			}
		}},
		{"gohighlevel", "https://services.leadconnectorhq.com/hooks/x/webhook-trigger/y", nil, func(t *testing.T, req *http.Request, b []byte) {
			want := `{"campaign":"auto","email":"ana@example.com","first_name":"Ana","last_name":"Diaz","lead_id":"L1","phone":"+15551234567","price":25.5,"source":"LeadRelay","state":"CA"}`
			if string(b) != want {
				t.Fatalf("gohighlevel body\n%s\nwant\n%s", b, want)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.preset, func(t *testing.T) {
			d := &config.Delivery{Type: "webhook", Preset: c.preset, URL: c.url, Format: "json", Fields: c.extra, Secret: "s"}
			req, err := Render(d, testPost(l))
			if err != nil {
				t.Fatal(err)
			}
			b := body(t, req)
			c.check(t, req, b)
			if err := Verify([]string{"s"}, req.Header, b, testNow, 0); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A get post's lead fields never override the buyer URL's own query
// parameters, whatever a non-strict campaign lets a source pass through.
func TestGetNeverOverridesTheBuyersOwnParameters(t *testing.T) {
	d := delivery(config.FormatGet)
	d.URL = "https://buyer.example.com/in?aff_id=AGENCY&sub=1"
	l := testLead()
	l.Fields["aff_id"] = "ATTACKER"
	l.Fields["sub"] = "2"
	req, err := Render(d, testPost(l))
	if err != nil {
		t.Fatal(err)
	}
	q := req.URL.Query()
	if got := q["aff_id"]; len(got) != 1 || got[0] != "AGENCY" {
		t.Fatalf("aff_id = %v, want only the buyer's AGENCY", got)
	}
	if got := q["sub"]; len(got) != 1 || got[0] != "1" {
		t.Fatalf("sub = %v", got)
	}
	if q.Get("first_name") != "Ana" || q.Get("lead_id") != "L1" {
		t.Fatalf("the lead's own values are lost: %v", q)
	}
}
