package stripefake

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/stripe"
)

func TestSignedEventVerifiesAndDelivers(t *testing.T) {
	now := time.Unix(1700000000, 0)
	payload, header := SignedEvent("whsec_x", now, stripe.EventPaymentIntentSucceeded,
		stripe.PaymentIntent{ID: "pi_1", Customer: "cus_1", Amount: 100, AmountReceived: 100, Currency: "usd", Status: "succeeded"})
	if !strings.HasPrefix(header, "t=1700000000,v1=") {
		t.Errorf("header %q", header)
	}
	// The signature, recomputed here, is Stripe's scheme.
	m := hmac.New(sha256.New, []byte("whsec_x"))
	m.Write([]byte("1700000000." + string(payload)))
	if header != "t=1700000000,v1="+hex.EncodeToString(m.Sum(nil)) {
		t.Errorf("header %q is not Stripe's signature", header)
	}
	if err := stripe.VerifySignature(payload, header, "whsec_x", now, 0); err != nil {
		t.Fatal(err)
	}
	ev, err := stripe.ParseEvent(payload)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ev.ID, "evt_") || ev.Created != 1700000000 || ev.ObjectType() != "payment_intent" {
		t.Errorf("event %+v, object %q", ev, ev.ObjectType())
	}
	if pi, err := ev.PaymentIntent(); err != nil || pi.ID != "pi_1" || pi.AmountReceived != 100 {
		t.Errorf("intent %+v, %v", pi, err)
	}
	if p2, _ := SignedEvent("whsec_x", now, "invoice.paid", json.RawMessage(`{"id":"in_1","object":"invoice"}`)); strings.Contains(string(p2), ev.ID) {
		t.Error("two events share an ID")
	}

	var gotSig, gotBody string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotSig, gotBody = r.Header.Get(stripe.SignatureHeader), string(b)
		w.Write([]byte(`{"received":true}`))
	}))
	defer hook.Close()
	status, body, err := Deliver(context.Background(), hook.URL, payload, header)
	if err != nil || status != 200 || string(body) != `{"received":true}` {
		t.Errorf("deliver: %d %s %v", status, body, err)
	}
	if gotSig != header || gotBody != string(payload) {
		t.Error("the endpoint did not get the payload and header as signed")
	}
}

func TestServerChecksKeyAndIdempotency(t *testing.T) {
	s := New(t)
	post := func(auth, key string, form url.Values) (int, string) {
		req, _ := http.NewRequest("POST", s.URL+"/v1/customers/cus_1/balance_transactions", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		req.Header.Set("Idempotency-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	credit := url.Values{"amount": {"-100"}, "currency": {"usd"}}
	if st, _ := post("", "k1", credit); st != 401 {
		t.Errorf("no key: %d", st)
	}
	if st, body := post("Bearer sk_test_wrong", "k1", credit); st != 401 || strings.Contains(body, "sk_test_wrong") {
		t.Errorf("wrong key: %d %s", st, body)
	}
	if st, _ := post("Bearer "+s.SecretKey, "k1", credit); st != 200 {
		t.Errorf("right key: %d", st)
	}
	// Basic auth with the key as user, as Stripe allows.
	req, _ := http.NewRequest("GET", s.URL+"/v1/customers/cus_1", nil)
	req.SetBasicAuth(s.SecretKey, "")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("basic auth: %v %v", resp, err)
	}
	// The same key with other parameters.
	if st, body := post("Bearer "+s.SecretKey, "k1", url.Values{"amount": {"-200"}, "currency": {"usd"}}); st != 400 || !strings.Contains(body, "idempotency_error") {
		t.Errorf("reused key: %d %s", st, body)
	}
	if got := s.Balance("cus_1"); got != -100 {
		t.Errorf("balance %d", got)
	}
	if st, body := post("Bearer "+s.SecretKey, "k2", url.Values{"currency": {"usd"}}); st != 400 || !strings.Contains(body, "parameter_missing") {
		t.Errorf("missing amount: %d %s", st, body)
	}
}

func TestMeterEventRepeatAndFailures(t *testing.T) {
	s := New(t)
	c := s.Client()
	c.MaxTries = 1
	ctx := context.Background()
	ev := stripe.MeterEvent{EventName: "lead_sold", Identifier: "sale_1", Customer: "cus_1", Value: 5}
	s.Fail("/v1/billing/meter_events", 503, Drop)
	if err := c.MeterEvent(ctx, ev); err == nil {
		t.Error("injected 503 not seen")
	}
	if len(s.MeterEvents()) != 0 {
		t.Error("a failed request was recorded")
	}
	c.MaxTries = 0
	for range 2 {
		if err := c.MeterEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(s.MeterEvents()); n != 1 {
		t.Errorf("%d meter events", n)
	}
	// A repeat under another Idempotency-Key gets Stripe's 400.
	form := url.Values{"event_name": {"lead_sold"}, "identifier": {"sale_1"}, "payload[stripe_customer_id]": {"cus_1"}, "payload[value]": {"5"}}
	req, _ := http.NewRequest("POST", s.URL+"/v1/billing/meter_events", strings.NewReader(form.Encode()))
	req.Header.Set("Authorization", "Bearer "+s.SecretKey)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), "already exists with identifier sale_1") {
		t.Errorf("repeat: %d %s", resp.StatusCode, b)
	}
	// An unknown URL.
	req, _ = http.NewRequest("GET", s.URL+"/v1/nothing", nil)
	req.Header.Set("Authorization", "Bearer "+s.SecretKey)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 404 {
		t.Errorf("unknown URL: %v %v", resp, err)
	}
}
