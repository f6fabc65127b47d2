package webhook

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
)

// buyer is an httptest buyer endpoint that records what it received.
type buyer struct {
	*httptest.Server
	mu    sync.Mutex
	reqs  []*http.Request
	body  [][]byte
	conns atomic.Int32
}

func newBuyer(t *testing.T, h http.HandlerFunc) *buyer {
	t.Helper()
	b := &buyer{}
	b.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.reqs, b.body = append(b.reqs, r), append(b.body, data)
		b.mu.Unlock()
		h(w, r)
	}))
	b.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			b.conns.Add(1)
		}
	}
	b.Start()
	t.Cleanup(b.Close)
	return b
}

func (b *buyer) last(t *testing.T) (*http.Request, []byte) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.reqs) == 0 {
		t.Fatal("the buyer received nothing")
	}
	return b.reqs[len(b.reqs)-1], b.body[len(b.body)-1]
}

func reply(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func localSender() *Sender { return &Sender{Client: NewClient(true)} }

func TestSendFormats(t *testing.T) {
	b := newBuyer(t, reply(200, `{"status":"ok"}`))
	l := testLead()
	l.Fields["note"] = "a & b <c> \"d\"\n]]> 🚀"
	for _, format := range []string{config.FormatJSON, config.FormatForm, config.FormatXML, config.FormatGet} {
		t.Run(format, func(t *testing.T) {
			d := delivery(format)
			d.URL = b.URL + "/leads"
			d.Secret = "whsec_c2VjcmV0"
			p := testPost(l)
			p.Now = time.Time{} // signs with the current time
			v := localSender().Send(context.Background(), d, p)
			if v.Outcome != Accepted || v.Status != 200 || v.Response != `{"status":"ok"}` || v.Latency <= 0 {
				t.Fatalf("verdict %+v", v)
			}
			req, data := b.last(t)
			signed := data
			if format == config.FormatGet {
				signed = []byte(req.URL.RawQuery)
			}
			if err := Verify([]string{d.Secret}, req.Header, signed, time.Now(), 0); err != nil {
				t.Fatalf("the buyer cannot verify: %v", err)
			}
			got := parseBack(t, format, req, data)
			note := "note"
			if format == config.FormatJSON || format == config.FormatXML {
				note = "fields.note"
			}
			if got[note] != l.Fields["note"] || got["lead_id"] != "L1" || got["price"] != "25.5" {
				t.Fatalf("the buyer read %q", got)
			}
		})
	}
}

func TestSendAuth(t *testing.T) {
	b := newBuyer(t, func(w http.ResponseWriter, r *http.Request) {
		u, p, basic := r.BasicAuth()
		switch {
		case r.Header.Get("Authorization") == "Bearer t0k",
			basic && u == "user" && p == "pa:ss",
			r.Header.Get("X-Api-Key") == "k1",
			r.URL.Query().Get("api_key") == "k2":
			w.WriteHeader(200)
		default:
			w.WriteHeader(401)
		}
	})
	cases := []struct {
		name string
		auth *config.Auth
		want Outcome
	}{
		{"none", nil, Rejected},
		{"bearer", &config.Auth{Type: config.AuthBearer, Token: "t0k"}, Accepted},
		{"bearer wrong", &config.Auth{Type: config.AuthBearer, Token: "nope"}, Rejected},
		{"basic", &config.Auth{Type: config.AuthBasic, Username: "user", Password: "pa:ss"}, Accepted},
		{"api key header", &config.Auth{Type: config.AuthAPIKey, Key: "k1", Header: "X-API-Key"}, Accepted},
		{"api key query", &config.Auth{Type: config.AuthAPIKey, Key: "k2", Query: "api_key"}, Accepted},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := delivery("json")
			d.URL, d.Auth = b.URL, c.auth
			d.Headers = map[string]string{"X-Static": "yes"}
			v := localSender().Send(context.Background(), d, testPost(testLead()))
			if v.Outcome != c.want {
				t.Fatalf("verdict %+v", v)
			}
			if req, _ := b.last(t); req.Header.Get("X-Static") != "yes" {
				t.Fatal("static header missing")
			}
		})
	}
}

func TestSendResponseRules(t *testing.T) {
	cases := []struct {
		name    string
		body    string
		rules   config.Response
		outcome Outcome
		leadID  string
	}{
		{"json accepted", `{"result":{"code":"OK","id":"b-1"}}`, config.Response{
			Accept: []config.Rule{{JSON: "result.code", Equals: "OK"}}, BuyerLeadID: &config.Rule{JSON: "result.id"}}, Accepted, "b-1"},
		{"json refused", `{"result":{"code":"DUP"}}`, config.Response{Accept: []config.Rule{{JSON: "result.code", Equals: "OK"}}}, Rejected, ""},
		{"regex accepted", "status=accepted id=77", config.Response{
			Accept: []config.Rule{{Regex: `status=accepted`}}, BuyerLeadID: &config.Rule{Regex: `id=(\d+)`}}, Accepted, "77"},
		{"regex refused", "status=rejected", config.Response{Accept: []config.Rule{{Regex: `status=accepted`}}}, Rejected, ""},
		{"xml accepted", "<r><status>1</status><lead>x</lead></r>", config.Response{
			Accept: []config.Rule{{XML: "status", Equals: 1}}, BuyerLeadID: &config.Rule{XML: "r.lead"}}, Accepted, "x"},
		{"xml refused", "<r><status>0</status></r>", config.Response{Accept: []config.Rule{{XML: "status", Equals: 1}}}, Rejected, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newBuyer(t, reply(200, c.body))
			d := delivery("json")
			d.URL, d.Response = b.URL, &c.rules
			v := localSender().Send(context.Background(), d, testPost(testLead()))
			if v.Outcome != c.outcome || v.BuyerLeadID != c.leadID {
				t.Fatalf("verdict %+v", v)
			}
			if c.outcome == Rejected && v.Reason != ReasonRuleRejected {
				t.Fatalf("reason %s", v.Reason)
			}
		})
	}
}

func TestSendTimeout(t *testing.T) {
	release := make(chan struct{})
	b := newBuyer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-time.After(5 * time.Second):
		}
		w.WriteHeader(200)
	})
	defer close(release)
	d := delivery("json")
	d.URL, d.Timeout = b.URL, config.Duration(150*time.Millisecond)
	v := localSender().Send(context.Background(), d, testPost(testLead()))
	if v.Outcome != Transient || v.Reason != ReasonTimeout {
		t.Fatalf("verdict %+v", v)
	}
	if v.Latency < 150*time.Millisecond || v.Latency > 2*time.Second {
		t.Fatalf("latency %s", v.Latency)
	}
}

func TestSendTimeoutCoversTheBody(t *testing.T) {
	b := newBuyer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		io.WriteString(w, `{"status":`)
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	d := delivery("json")
	d.URL, d.Timeout = b.URL, config.Duration(150*time.Millisecond)
	v := localSender().Send(context.Background(), d, testPost(testLead()))
	if v.Outcome != Transient || v.Reason != ReasonTimeout || v.Status != 200 {
		t.Fatalf("verdict %+v", v)
	}
}

func TestSendDoesNotFollowRedirects(t *testing.T) {
	var followed atomic.Bool
	target := newBuyer(t, func(w http.ResponseWriter, r *http.Request) { followed.Store(true) })
	b := newBuyer(t, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, target.URL, http.StatusFound) })
	d := delivery("json")
	d.URL = b.URL
	v := localSender().Send(context.Background(), d, testPost(testLead()))
	if v.Outcome != Rejected || v.Reason != ReasonRedirect || v.Status != 302 || followed.Load() {
		t.Fatalf("verdict %+v, followed %v", v, followed.Load())
	}
}

func TestSendStatuses(t *testing.T) {
	for status, want := range map[int]Outcome{200: Accepted, 400: Rejected, 429: Transient, 500: Transient} {
		b := newBuyer(t, reply(status, ""))
		d := delivery("json")
		d.URL = b.URL
		if v := localSender().Send(context.Background(), d, testPost(testLead())); v.Outcome != want || v.Status != status {
			t.Errorf("status %d: verdict %+v", status, v)
		}
	}
}

func TestSendConnectionErrorAndRender(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	d := delivery("json")
	d.URL = "http://" + addr
	if v := localSender().Send(context.Background(), d, testPost(testLead())); v.Outcome != Transient || v.Reason != ReasonConnection {
		t.Fatalf("verdict %+v", v)
	}
	p := testPost(testLead())
	p.MessageID = ""
	if v := localSender().Send(context.Background(), d, p); v.Outcome != Rejected || v.Reason != ReasonRender {
		t.Fatalf("verdict %+v", v)
	}
}

func TestSendReusesConnections(t *testing.T) {
	b := newBuyer(t, reply(200, "ok"))
	d := delivery("json")
	d.URL = b.URL
	s := localSender()
	for range 3 {
		if v := s.Send(context.Background(), d, testPost(testLead())); v.Outcome != Accepted {
			t.Fatalf("verdict %+v", v)
		}
	}
	if n := b.conns.Load(); n != 1 {
		t.Fatalf("%d connections for 3 posts; want 1", n)
	}
}

func TestGuardRefusesRealDials(t *testing.T) {
	b := newBuyer(t, reply(200, "ok"))
	port := b.URL[strings.LastIndex(b.URL, ":"):]
	s := &Sender{Client: NewClient(false)}
	for _, u := range []string{
		b.URL,                     // 127.0.0.1
		"http://localhost" + port, // a name that resolves to loopback
		"http://[::1]" + port,     // IPv6 loopback
		"http://169.254.169.254/latest/meta-data/", // instance metadata
		"http://10.1.2.3/",
	} {
		d := delivery("json")
		d.URL = u
		v := s.Send(context.Background(), d, testPost(testLead()))
		if v.Outcome != Rejected || v.Reason != ReasonRefusedTarget {
			t.Errorf("%s: verdict %+v", u, v)
		}
	}
	if n := len(b.reqs); n != 0 {
		t.Fatalf("the guarded client reached the buyer %d times", n)
	}
	// The same buyer is reachable when private targets are allowed.
	d := delivery("json")
	d.URL = b.URL
	if v := localSender().Send(context.Background(), d, testPost(testLead())); v.Outcome != Accepted {
		t.Fatalf("verdict %+v", v)
	}
}

func TestGuardControl(t *testing.T) {
	// The dialer calls control with the resolved address, so a public name
	// whose DNS answer is 10.0.0.5 reaches control as "10.0.0.5:443".
	refused := []string{
		"127.0.0.1:80", "127.9.9.9:80", "10.0.0.5:443", "172.16.0.1:443", "172.31.255.255:443", "192.168.1.1:80",
		"169.254.169.254:80", "100.64.0.1:80", "100.127.255.255:80", "0.0.0.0:80", "224.0.0.1:80", "255.255.255.255:80",
		"[::1]:80", "[::]:80", "[fd00:ec2::254]:80", "[fc00::1]:80", "[fe80::1]:80", "[ff02::1]:80",
		"[::ffff:127.0.0.1]:80", "[::ffff:10.0.0.1]:80", "[64:ff9b::a9fe:a9fe]:80", "[fe80::1%eth0]:80", "not-an-address",
		// IPv6 forms that carry an IPv4 address.
		"[::127.0.0.1]:80", "[::a9fe:a9fe]:80", "[2002:7f00:1::1]:80", "[2002:a9fe:a9fe::1]:443", "[64:ff9b:1::a9fe:a9fe]:80",
		"[2001:0:4136:e378:8000:63bf:3fff:fdd2]:443", "[100::1]:80",
	}
	allowed := []string{"8.8.8.8:443", "1.1.1.1:80", "172.32.0.1:443", "100.128.0.1:80", "[2606:4700::1111]:443", "[64:ff9b::808:808]:443"}
	for _, a := range refused {
		if err := control("tcp", a, nil); !errors.Is(err, ErrRefusedTarget) {
			t.Errorf("control(%s) = %v; want refused", a, err)
		}
	}
	for _, a := range allowed {
		if err := control("tcp", a, nil); err != nil {
			t.Errorf("control(%s) = %v; want allowed", a, err)
		}
	}
	if why := refusedReason(netip.MustParseAddr("10.0.0.1")); why != "private" {
		t.Fatalf("reason %q", why)
	}
}

func TestNewClientSettings(t *testing.T) {
	c := NewClient(false)
	tr := c.Transport.(httpsOnly).next.(*http.Transport)
	if tr.Proxy != nil || tr.DisableKeepAlives || c.CheckRedirect == nil {
		t.Fatalf("transport %+v", tr)
	}
}

// Without private targets, only https goes out: a lead's PII never
// crosses the internet in clear.
func TestGuardedClientSendsOnlyHTTPS(t *testing.T) {
	for _, u := range []string{"http://buyer.example/leads", "ftp://buyer.example/"} {
		req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader("{}"))
		if _, err := NewClient(false).Do(req); !errors.Is(err, ErrRefusedTarget) {
			t.Errorf("%s: %v; want refused", u, err)
		}
	}
	d := delivery("json")
	d.URL = "http://buyer.example/leads?key=secret"
	v := (&Sender{Client: NewClient(false)}).Send(context.Background(), d, testPost(testLead()))
	if v.Outcome != Rejected || v.Reason != ReasonRefusedTarget || strings.Contains(v.Detail, "secret") {
		t.Fatalf("verdict %+v", v)
	}
}

func TestShownURLsKeepNoSecret(t *testing.T) {
	raw := "https://user:pw@buyer.example/leads/in?api_key=s3cret&aff=1#frag"
	if got := ShownURL(raw); got != "https://buyer.example/leads/in" {
		t.Fatalf("ShownURL = %q", got)
	}
	if got := ShownHost("https://hooks.slack.com/services/T0/B0/XXXX"); got != "https://hooks.slack.com" {
		t.Fatalf("ShownHost = %q", got)
	}
	_, err := http.Get("http://127.0.0.1:1/x?token=s3cret")
	if msg := Redacted(err, false).Error(); strings.Contains(msg, "s3cret") || !strings.Contains(msg, "127.0.0.1:1/x") {
		t.Fatalf("redacted error %q", msg)
	}
	if msg := Redacted(err, true).Error(); strings.Contains(msg, "/x") {
		t.Fatalf("host-only error %q", msg)
	}
}
