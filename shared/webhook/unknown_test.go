package webhook

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
)

// An unknown outcome is a failure after the request was written in full:
// the buyer may hold the lead. A failure before it is not.

func TestUnknownWhenTheBuyerReadsAndNeverAnswers(t *testing.T) {
	b := newBuyer(t, func(w http.ResponseWriter, r *http.Request) {
		// newBuyer has read the whole body: the buyer has the lead.
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	d := delivery("json")
	d.URL, d.Timeout = b.URL, config.Duration(150*time.Millisecond)
	v := localSender().Send(context.Background(), d, testPost(testLead()))
	if v.Outcome != Transient || v.Reason != ReasonTimeout || !v.Unknown || v.Status != 0 {
		t.Fatalf("verdict %+v", v)
	}
	if _, body := b.last(t); !strings.Contains(string(body), `"lead_id":"L1"`) {
		t.Fatalf("the buyer read %q", body)
	}
}

func TestUnknownWhenTheBuyerClosesAfterReading(t *testing.T) {
	for _, reset := range []bool{false, true} {
		name := map[bool]string{false: "close", true: "reset"}[reset]
		t.Run(name, func(t *testing.T) {
			b := newBuyer(t, func(w http.ResponseWriter, r *http.Request) {
				conn, _, err := w.(http.Hijacker).Hijack()
				if err != nil {
					t.Error(err)
					return
				}
				if tc, ok := conn.(*net.TCPConn); ok && reset {
					tc.SetLinger(0) // close with RST
				}
				conn.Close()
			})
			d := delivery("json")
			d.URL = b.URL
			v := localSender().Send(context.Background(), d, testPost(testLead()))
			if v.Outcome != Transient || v.Reason != ReasonConnection || !v.Unknown {
				t.Fatalf("verdict %+v", v)
			}
			b.mu.Lock()
			n := len(b.reqs)
			b.mu.Unlock()
			if n != 1 {
				t.Fatalf("the buyer got %d requests; want 1 (a POST is not replayed)", n)
			}
		})
	}
}

func TestUnknownWhenTheBodyOfTheAnswerIsCut(t *testing.T) {
	b := newBuyer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.Write([]byte(`{"status":`))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	d := delivery("json")
	d.URL, d.Timeout = b.URL, config.Duration(150*time.Millisecond)
	v := localSender().Send(context.Background(), d, testPost(testLead()))
	if v.Outcome != Transient || v.Reason != ReasonTimeout || v.Status != 200 || !v.Unknown {
		t.Fatalf("verdict %+v", v)
	}
}

func TestNotSentIsNotUnknown(t *testing.T) {
	// A closed port: the dial is refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()

	// A listener that accepts and never speaks: a TLS handshake to it
	// times out before the request is written.
	mute, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := mute.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mute.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})

	// A TLS server whose certificate the client does not trust.
	untrusted := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the untrusted server got a request")
	}))
	untrusted.Config.ErrorLog = log.New(io.Discard, "", 0)
	untrusted.StartTLS()
	t.Cleanup(untrusted.Close)

	cases := []struct {
		name, url string
		client    *http.Client
		outcome   Outcome
		reason    string
	}{
		{"refused dial", closed, NewClient(true), Transient, ReasonConnection},
		{"handshake timeout", "https://" + mute.Addr().String(), NewClient(true), Transient, ReasonTimeout},
		{"tls", untrusted.URL, NewClient(true), Transient, ReasonTLS},
		// "" : connection, or timeout where the resolver does not answer.
		{"dns", "http://no-such-host.invalid/", NewClient(true), Transient, ""},
		{"refused target", closed, NewClient(false), Rejected, ReasonRefusedTarget},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := delivery("json")
			d.URL, d.Timeout = c.url, config.Duration(300*time.Millisecond)
			v := (&Sender{Client: c.client}).Send(context.Background(), d, testPost(testLead()))
			reasonOK := v.Reason == c.reason || c.reason == "" && (v.Reason == ReasonConnection || v.Reason == ReasonTimeout)
			if v.Outcome != c.outcome || !reasonOK || v.Unknown {
				t.Fatalf("verdict %+v; want %s %s, not unknown", v, c.outcome, c.reason)
			}
		})
	}
	// A lead that cannot be rendered is never sent.
	d := delivery("json")
	d.URL = closed
	p := testPost(testLead())
	p.MessageID = ""
	if v := localSender().Send(context.Background(), d, p); v.Outcome != Rejected || v.Reason != ReasonRender || v.Unknown {
		t.Fatalf("verdict %+v", v)
	}
}

func TestAnswersAreNotUnknown(t *testing.T) {
	for _, status := range []int{200, 409, 429, 503} {
		b := newBuyer(t, reply(status, "{}"))
		d := delivery("json")
		d.URL = b.URL
		if v := localSender().Send(context.Background(), d, testPost(testLead())); v.Unknown || v.Status != status {
			t.Errorf("status %d: verdict %+v", status, v)
		}
	}
}

func TestDuplicateRules(t *testing.T) {
	eq := func(path string, v any) config.Rule { return config.Rule{JSON: path, Equals: v} }
	dup := []config.Rule{eq("status", "duplicate")}
	cases := []struct {
		name         string
		rules        *config.Response
		status       int
		body         string
		afterUnknown bool
		outcome      Outcome
		reason       string
	}{
		{"409 duplicate after unknown", &config.Response{Duplicate: dup}, 409, `{"status":"duplicate"}`, true, Accepted, ReasonDuplicate},
		{"409 duplicate on a first post", &config.Response{Duplicate: dup}, 409, `{"status":"duplicate"}`, false, Rejected, ReasonStatus4xx},
		{"no duplicate rules", &config.Response{}, 409, `{"status":"duplicate"}`, true, Rejected, ReasonStatus4xx},
		{"no response block", nil, 409, `{"status":"duplicate"}`, true, Rejected, ReasonStatus4xx},
		{"another 409", &config.Response{Duplicate: dup}, 409, `{"status":"invalid zip"}`, true, Rejected, ReasonStatus4xx},
		{"200 failing accept, matching duplicate", &config.Response{Accept: []config.Rule{eq("status", "success")}, Duplicate: dup}, 200, `{"status":"duplicate"}`, true, Accepted, ReasonDuplicate},
		{"200 failing accept, first post", &config.Response{Accept: []config.Rule{eq("status", "success")}, Duplicate: dup}, 200, `{"status":"duplicate"}`, false, Rejected, ReasonRuleRejected},
		{"every rule must hold", &config.Response{Duplicate: []config.Rule{eq("status", "duplicate"), eq("code", 7)}}, 409, `{"status":"duplicate","code":8}`, true, Rejected, ReasonStatus4xx},
		{"regex rule", &config.Response{Duplicate: []config.Rule{{Regex: `(?i)already (received|exists)`}}}, 500, `Lead already exists`, true, Accepted, ReasonDuplicate},
		{"xml rule", &config.Response{Duplicate: []config.Rule{{XML: "Result", Equals: "Duplicate"}}}, 200, `<Response><Result>Duplicate</Result></Response>`, true, Accepted, ReasonDuplicate},
		{"503 without a match", &config.Response{Duplicate: dup}, 503, `busy`, true, Transient, ReasonStatus5xx},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := delivery("json")
			d.Response = c.rules
			judgeFn := Judge
			if c.afterUnknown {
				judgeFn = JudgeAfterUnknown
			}
			v := judgeFn(d, c.status, []byte(c.body), nil)
			if v.Outcome != c.outcome || v.Reason != c.reason {
				t.Fatalf("got %+v; want %s %s", v, c.outcome, c.reason)
			}
			if c.reason == ReasonDuplicate && !strings.Contains(v.Detail, "duplicate rules") {
				t.Fatalf("detail %q", v.Detail)
			}
		})
	}
	// A request error is never a duplicate.
	d := delivery("json")
	d.Response = &config.Response{Duplicate: []config.Rule{{Regex: ".*"}}}
	if v := JudgeAfterUnknown(d, 0, nil, context.DeadlineExceeded); v.Outcome != Transient {
		t.Fatalf("verdict %+v", v)
	}
	// The extraction rules apply to a duplicate answer.
	d.Response = &config.Response{Duplicate: dup, BuyerLeadID: &config.Rule{JSON: "id"}}
	if v := JudgeAfterUnknown(d, 409, []byte(`{"status":"duplicate","id":"B-1"}`), nil); v.Outcome != Accepted || v.BuyerLeadID != "B-1" {
		t.Fatalf("verdict %+v", v)
	}
}

func TestSendAfterUnknownAppliesDuplicateRules(t *testing.T) {
	b := newBuyer(t, reply(409, `{"status":"duplicate"}`))
	d := delivery("json")
	d.URL = b.URL
	d.Response = &config.Response{Duplicate: []config.Rule{{JSON: "status", Equals: "duplicate"}}}
	p := testPost(testLead())
	if v := localSender().Send(context.Background(), d, p); v.Outcome != Rejected || v.Reason != ReasonStatus4xx {
		t.Fatalf("first post: verdict %+v", v)
	}
	p.AfterUnknown = true
	if v := localSender().Send(context.Background(), d, p); v.Outcome != Accepted || v.Reason != ReasonDuplicate || v.Status != 409 || v.Unknown {
		t.Fatalf("retry after unknown: verdict %+v", v)
	}
	// The retry carries the same webhook-id.
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.reqs) != 2 || b.reqs[0].Header.Get("webhook-id") != b.reqs[1].Header.Get("webhook-id") || b.reqs[0].Header.Get("webhook-id") == "" {
		t.Fatalf("webhook-ids %q", []string{b.reqs[0].Header.Get("webhook-id"), b.reqs[1].Header.Get("webhook-id")})
	}
}
