package webhook

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestSignStandardWebhooksVector(t *testing.T) {
	// The specification's published test vector.
	got := Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("Sign = %s; want %s", got, want)
	}
	// A plain secret is its own bytes; a whsec_ secret that is not base64 too.
	if Sign("plain", "m", time.Unix(1, 0), nil) == Sign("whsec_cGxhaW4=", "m", time.Unix(1, 0), nil) != true {
		t.Fatal("whsec_ base64 of \"plain\" must sign as the plain secret \"plain\"")
	}
	if Sign("whsec_!!", "m", time.Unix(1, 0), nil) != Sign("whsec_!!", "m", time.Unix(1, 0), nil) {
		t.Fatal("not deterministic")
	}
}

func TestVerifyRotation(t *testing.T) {
	const oldSecret, newSecret = "whsec_b2xkLXNlY3JldC1rZXktYnl0ZXM=", "new-plain-secret"
	d := delivery("json")
	d.Secret, d.PreviousSecret = newSecret, oldSecret
	req, err := Render(d, testPost(testLead()))
	if err != nil {
		t.Fatal(err)
	}
	b := body(t, req)
	if sigs := strings.Fields(req.Header.Get(HeaderSignature)); len(sigs) != 2 {
		t.Fatalf("want two signatures during rotation, got %q", sigs)
	}
	tamper := func(f func(http.Header)) http.Header {
		h := req.Header.Clone()
		f(h)
		return h
	}
	cases := []struct {
		name    string
		secrets []string
		h       http.Header
		body    []byte
		now     time.Time
		want    error
	}{
		{"new secret", []string{newSecret}, req.Header, b, testNow, nil},
		{"previous secret", []string{oldSecret}, req.Header, b, testNow, nil},
		{"either of several", []string{"x", oldSecret}, req.Header, b, testNow.Add(4 * time.Minute), nil},
		{"wrong secret", []string{"whsec_d3Jvbmc="}, req.Header, b, testNow, ErrBadSignature},
		{"tampered body", []string{newSecret}, req.Header, append([]byte(" "), b...), testNow, ErrBadSignature},
		{"stale timestamp", []string{newSecret}, req.Header, b, testNow.Add(6 * time.Minute), ErrStaleTimestamp},
		{"future timestamp", []string{newSecret}, req.Header, b, testNow.Add(-6 * time.Minute), ErrStaleTimestamp},
		{"timestamp moved", []string{newSecret}, tamper(func(h http.Header) { h.Set(HeaderTimestamp, "1767225601") }), b, testNow, ErrBadSignature},
		{"id changed", []string{newSecret}, tamper(func(h http.Header) { h.Set(HeaderID, "msg_2") }), b, testNow, ErrBadSignature},
		{"no signature", []string{newSecret}, tamper(func(h http.Header) { h.Del(HeaderSignature) }), b, testNow, ErrMissingHeader},
		{"v2 only", []string{newSecret}, tamper(func(h http.Header) {
			h.Set(HeaderSignature, "v2,"+strings.TrimPrefix(strings.Fields(req.Header.Get(HeaderSignature))[0], "v1,"))
		}), b, testNow, ErrBadSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := Verify(c.secrets, c.h, c.body, c.now, 5*time.Minute); !errors.Is(err, c.want) {
				t.Fatalf("Verify = %v; want %v", err, c.want)
			}
		})
	}
}

func TestNoSecretNoSignature(t *testing.T) {
	req, err := Render(delivery("json"), testPost(testLead()))
	if err != nil {
		t.Fatal(err)
	}
	if req.Header.Get(HeaderSignature) != "" || req.Header.Get(HeaderID) == "" {
		t.Fatalf("headers %v", req.Header)
	}
}

func TestGetSignsTheQuery(t *testing.T) {
	d := delivery("get")
	d.Secret = "s"
	req, err := Render(d, testPost(testLead()))
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify([]string{"s"}, req.Header, []byte(req.URL.RawQuery), testNow, 0); err != nil {
		t.Fatal(err)
	}
	if err := Verify([]string{"s"}, req.Header, []byte(req.URL.RawQuery+"&x=1"), testNow, 0); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("a changed query verified: %v", err)
	}
}
