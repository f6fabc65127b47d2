package stripe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

const testKey = "sk_test_51SecretKeyNeverShown0123456789"

// recorded is one request a test server received.
type recorded struct {
	method, path, body string
	header             http.Header
	form               url.Values
}

// server is a scripted Stripe: answer decides each reply from the try
// number (from 1) and the request.
type server struct {
	mu   sync.Mutex
	reqs []recorded
}

func (s *server) requests() []recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recorded(nil), s.reqs...)
}

func newServer(t *testing.T, answer func(try int, w http.ResponseWriter, r recorded)) (*server, *Client, *[]time.Duration) {
	t.Helper()
	s := &server{}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(b))
		rec := recorded{method: r.Method, path: r.URL.RequestURI(), body: string(b), header: r.Header.Clone(), form: form}
		s.mu.Lock()
		s.reqs = append(s.reqs, rec)
		try := len(s.reqs)
		s.mu.Unlock()
		answer(try, w, rec)
	}))
	t.Cleanup(ts.Close)
	var waits []time.Duration
	c := &Client{
		BaseURL:   ts.URL + "/",
		SecretKey: testKey,
		HTTP:      ts.Client(),
		Backoff:   func(int) time.Duration { return 0 },
		sleep: func(_ context.Context, d time.Duration) error {
			waits = append(waits, d)
			return nil
		},
	}
	return s, c, &waits
}

func reply(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func TestCheckoutSessionRequest(t *testing.T) {
	s, c, _ := newServer(t, func(_ int, w http.ResponseWriter, _ recorded) {
		reply(w, 200, `{"id":"cs_test_1","object":"checkout.session","url":"https://checkout.stripe.com/c/pay/cs_test_1",
			"customer":"cus_1","amount_total":5000,"currency":"usd","payment_status":"unpaid","status":"open","mode":"payment",
			"metadata":{"buyer_id":"b1"},"payment_intent":null}`)
	})
	sess, err := c.CreateCheckoutSession(context.Background(), CheckoutInput{
		Customer: "cus_1", Amount: 5000, Currency: "USD",
		SuccessURL: "https://agency.example/ok?x=1&y=2", CancelURL: "https://agency.example/cancel",
		Description:    "Lead balance top-up",
		Metadata:       map[string]string{"buyer_id": "b1", "note": "a & b = c"},
		IdempotencyKey: "topup-42",
	})
	if err != nil {
		t.Fatal(err)
	}
	if sess.ID != "cs_test_1" || sess.URL != "https://checkout.stripe.com/c/pay/cs_test_1" || sess.Customer != "cus_1" || sess.PaymentIntent != "" {
		t.Errorf("session %+v", sess)
	}
	reqs := s.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.method != "POST" || r.path != "/v1/checkout/sessions" {
		t.Errorf("%s %s", r.method, r.path)
	}
	for h, want := range map[string]string{
		"Authorization":   "Bearer " + testKey,
		"Content-Type":    "application/x-www-form-urlencoded",
		"Idempotency-Key": "topup-42",
	} {
		if got := r.header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	want := map[string]string{
		"mode":                                   "payment",
		"customer":                               "cus_1",
		"success_url":                            "https://agency.example/ok?x=1&y=2",
		"cancel_url":                             "https://agency.example/cancel",
		"line_items[0][quantity]":                "1",
		"line_items[0][price_data][currency]":    "usd",
		"line_items[0][price_data][unit_amount]": "5000",
		"line_items[0][price_data][product_data][name]": "Lead balance top-up",
		"payment_intent_data[setup_future_usage]":       "off_session",
		"metadata[buyer_id]":                            "b1",
		"metadata[note]":                                "a & b = c",
		"payment_intent_data[metadata][buyer_id]":       "b1",
		"payment_intent_data[metadata][note]":           "a & b = c",
		"payment_intent_data[description]":              "Lead balance top-up",
	}
	for k, v := range want {
		if got := r.form.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if len(r.form) != len(want) {
		t.Errorf("form has %d parameters, want %d: %v", len(r.form), len(want), r.form)
	}
	// The wire form, as Stripe parses it: brackets percent-encoded, the
	// value's & and = escaped.
	for _, frag := range []string{
		"payment_intent_data%5Bmetadata%5D%5Bbuyer_id%5D=b1",
		"metadata%5Bnote%5D=a+%26+b+%3D+c",
		"line_items%5B0%5D%5Bprice_data%5D%5Bproduct_data%5D%5Bname%5D=Lead+balance+top-up",
	} {
		if !strings.Contains(r.body, frag) {
			t.Errorf("body lacks %s: %s", frag, r.body)
		}
	}
}

func TestInputRefusedBeforeAnyRequest(t *testing.T) {
	s, c, _ := newServer(t, func(_ int, w http.ResponseWriter, _ recorded) { reply(w, 200, `{}`) })
	ctx := context.Background()
	ok := CheckoutInput{Customer: "cus_1", Amount: 100, Currency: "usd", SuccessURL: "https://x", Description: "d", IdempotencyKey: "k"}
	bad := map[string]func() error{
		"bracket key": func() error {
			in := ok
			in.Metadata = map[string]string{"a[b]": "c"}
			_, err := c.CreateCheckoutSession(ctx, in)
			return err
		},
		"no checkout key": func() error {
			in := ok
			in.IdempotencyKey = ""
			_, err := c.CreateCheckoutSession(ctx, in)
			return err
		},
		"long key": func() error {
			in := ok
			in.IdempotencyKey = strings.Repeat("k", 256)
			_, err := c.CreateCheckoutSession(ctx, in)
			return err
		},
		"zero amount": func() error {
			in := ok
			in.Amount = 0
			_, err := c.CreateCheckoutSession(ctx, in)
			return err
		},
		"no charge key": func() error {
			_, err := c.ChargeSaved(ctx, ChargeInput{Customer: "cus_1", PaymentMethod: "pm_1", Amount: 100, Currency: "usd"})
			return err
		},
		"no credit key": func() error {
			return c.CreditBalance(ctx, "cus_1", 100, "usd", "return", "")
		},
		"negative credit": func() error {
			return c.CreditBalance(ctx, "cus_1", -100, "usd", "return", "k")
		},
		"meter without identifier": func() error {
			return c.MeterEvent(ctx, MeterEvent{EventName: "lead_sold", Customer: "cus_1", Value: 1})
		},
	}
	for name, f := range bad {
		if err := f(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if n := len(s.requests()); n != 0 {
		t.Errorf("%d requests sent for refused input", n)
	}
	noKey := *c
	noKey.SecretKey = ""
	if _, err := noKey.Customer(ctx, "cus_1"); !errors.Is(err, ErrNoSecretKey) {
		t.Errorf("no secret key: %v", err)
	}
}

func TestRetry429ThenSuccessWithSameIdempotencyKey(t *testing.T) {
	s, c, waits := newServer(t, func(try int, w http.ResponseWriter, _ recorded) {
		if try == 1 {
			reply(w, 429, `{"error":{"type":"invalid_request_error","code":"rate_limit","message":"Too many requests"}}`)
			return
		}
		reply(w, 200, `{"id":"pi_1","object":"payment_intent","amount":2000,"amount_received":2000,"currency":"usd",
			"customer":"cus_1","payment_method":"pm_1","status":"succeeded","metadata":{"buyer_id":"b1"}}`)
	})
	pi, err := c.ChargeSaved(context.Background(), ChargeInput{
		Customer: "cus_1", PaymentMethod: "pm_1", Amount: 2000, Currency: "usd",
		Metadata: map[string]string{"buyer_id": "b1"}, IdempotencyKey: "recharge-b1-7",
	})
	if err != nil {
		t.Fatal(err)
	}
	if pi.ID != "pi_1" || pi.Status != PaymentIntentSucceeded || pi.AmountReceived != 2000 || pi.PaymentMethod != "pm_1" || pi.Metadata["buyer_id"] != "b1" {
		t.Errorf("intent %+v", pi)
	}
	reqs := s.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	for i, r := range reqs {
		if k := r.header.Get("Idempotency-Key"); k != "recharge-b1-7" {
			t.Errorf("try %d: Idempotency-Key %q", i+1, k)
		}
		if r.body != reqs[0].body {
			t.Errorf("try %d: body changed", i+1)
		}
	}
	f := reqs[0].form
	for k, v := range map[string]string{"amount": "2000", "currency": "usd", "customer": "cus_1", "payment_method": "pm_1",
		"confirm": "true", "off_session": "true", "metadata[buyer_id]": "b1"} {
		if f.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, f.Get(k), v)
		}
	}
	if len(*waits) != 1 {
		t.Errorf("waited %d times, want 1", len(*waits))
	}
}

func TestRetryGivesUpAfterMaxTries(t *testing.T) {
	s, c, waits := newServer(t, func(_ int, w http.ResponseWriter, _ recorded) {
		w.Header().Set("Request-Id", "req_9")
		reply(w, 503, `{"error":{"type":"api_error","message":"Stripe is down"}}`)
	})
	err := c.CreditBalance(context.Background(), "cus_1", 500, "usd", "return of lead L1", "return-L1")
	var se *Error
	if !errors.As(err, &se) || se.Status != 503 || se.Type != "api_error" || se.RequestID != "req_9" {
		t.Fatalf("error %v", err)
	}
	if n := len(s.requests()); n != DefaultMaxTries {
		t.Errorf("%d tries, want %d", n, DefaultMaxTries)
	}
	if len(*waits) != DefaultMaxTries-1 {
		t.Errorf("%d waits", len(*waits))
	}
	if !strings.Contains(err.Error(), "after 3 tries") {
		t.Errorf("error does not say it retried: %v", err)
	}
	r := s.requests()[0]
	if r.path != "/v1/customers/cus_1/balance_transactions" || r.form.Get("amount") != "-500" || r.form.Get("currency") != "usd" ||
		r.form.Get("description") != "return of lead L1" || r.header.Get("Idempotency-Key") != "return-L1" {
		t.Errorf("request %s %v %v", r.path, r.form, r.header)
	}
}

func TestRetryDecisions(t *testing.T) {
	cases := []struct {
		name     string
		status   int
		header   map[string]string
		body     string
		maxTries int
		tries    int
		wait     time.Duration // the first wait, if any
	}{
		{"400 is final", 400, nil, `{"error":{"type":"invalid_request_error","message":"bad"}}`, 0, 1, 0},
		{"402 is final", 402, nil, `{"error":{"type":"card_error","code":"card_declined"}}`, 0, 1, 0},
		{"409 lock retried", 409, nil, `{"error":{"type":"invalid_request_error","code":"lock_timeout"}}`, 0, 3, 0},
		{"409 idempotency final", 409, nil, `{"error":{"type":"idempotency_error","message":"in use"}}`, 0, 1, 0},
		{"should-retry false wins over 500", 500, map[string]string{"Stripe-Should-Retry": "false"}, `{}`, 0, 1, 0},
		{"should-retry true wins over 400", 400, map[string]string{"Stripe-Should-Retry": "true"}, `{}`, 0, 3, 0},
		{"retry-after honoured", 429, map[string]string{"Retry-After": "2"}, `{}`, 0, 3, 2 * time.Second},
		{"retry-after too long", 429, map[string]string{"Retry-After": "60"}, `{}`, 0, 1, 0},
		{"max tries 1", 500, nil, `{}`, 1, 1, 0},
		{"max tries 5", 500, nil, `{}`, 5, 5, 0},
	}
	for _, tc := range cases {
		s, c, waits := newServer(t, func(_ int, w http.ResponseWriter, _ recorded) {
			for k, v := range tc.header {
				w.Header().Set(k, v)
			}
			reply(w, tc.status, tc.body)
		})
		c.MaxTries = tc.maxTries
		_, err := c.Customer(context.Background(), "cus_1")
		if err == nil {
			t.Errorf("%s: no error", tc.name)
		}
		if n := len(s.requests()); n != tc.tries {
			t.Errorf("%s: %d tries, want %d", tc.name, n, tc.tries)
		}
		if tc.wait > 0 && (len(*waits) == 0 || (*waits)[0] != tc.wait) {
			t.Errorf("%s: waits %v, want first %s", tc.name, *waits, tc.wait)
		}
	}
}

func TestRetryNetworkError(t *testing.T) {
	s, c, _ := newServer(t, func(try int, w http.ResponseWriter, _ recorded) {
		if try == 1 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		reply(w, 200, `{"id":"cus_1","object":"customer","balance":-300,"invoice_settings":{"default_payment_method":{"id":"pm_9","object":"payment_method"}}}`)
	})
	// A fresh connection each try, so the transport itself cannot retry
	// the dropped request out of sight.
	c.HTTP = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	cu, err := c.Customer(context.Background(), "cus_1")
	if err != nil {
		t.Fatal(err)
	}
	if cu.Balance != -300 || cu.DefaultPaymentMethod != "pm_9" {
		t.Errorf("customer %+v", cu)
	}
	if n := len(s.requests()); n != 2 {
		t.Errorf("%d tries, want 2", n)
	}
}

func TestRetryWaitStopsOnCancel(t *testing.T) {
	s, c, _ := newServer(t, func(_ int, w http.ResponseWriter, _ recorded) { reply(w, 500, `{}`) })
	c.sleep = nil
	c.Backoff = func(int) time.Duration { return time.Hour }
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Customer(ctx, "cus_1")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want one wrapping context.Canceled", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Error("the wait did not stop on cancel")
	}
	var se *Error
	if !errors.As(err, &se) || se.Status != 500 {
		t.Errorf("the last answer is lost: %v", err)
	}
	if n := len(s.requests()); n != 1 {
		t.Errorf("%d tries", n)
	}
	// With a deadline shorter than the wait, no wait at all.
	ctx, cancel2 := context.WithTimeout(context.Background(), time.Minute)
	defer cancel2()
	if _, err := c.Customer(ctx, "cus_1"); err == nil || !strings.Contains(err.Error(), "no time left") {
		t.Errorf("deadline: %v", err)
	}
}

func TestDefaultBackoff(t *testing.T) {
	var c Client
	for attempt, ceil := range map[int]time.Duration{1: 500 * time.Millisecond, 2: time.Second, 3: 2 * time.Second, 4: 4 * time.Second, 9: 4 * time.Second} {
		for range 50 {
			if d := c.backoff(attempt); d < ceil/2 || d > ceil {
				t.Fatalf("attempt %d: wait %s outside [%s, %s]", attempt, d, ceil/2, ceil)
			}
		}
	}
}

func TestCardError(t *testing.T) {
	_, c, _ := newServer(t, func(_ int, w http.ResponseWriter, _ recorded) {
		w.Header().Set("Request-Id", "req_dec")
		reply(w, 402, `{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds",
			"message":"Your card has insufficient funds.","payment_intent":{"id":"pi_dec","object":"payment_intent","status":"requires_payment_method"}}}`)
	})
	_, err := c.ChargeSaved(context.Background(), ChargeInput{Customer: "cus_1", PaymentMethod: "pm_1", Amount: 100, Currency: "usd", IdempotencyKey: "k"})
	var se *Error
	if !errors.As(err, &se) {
		t.Fatalf("error %v is not an *Error", err)
	}
	want := Error{Status: 402, Type: "card_error", Code: "card_declined", DeclineCode: "insufficient_funds",
		Message: "Your card has insufficient funds.", PaymentIntent: "pi_dec", RequestID: "req_dec"}
	if *se != want {
		t.Errorf("error %+v, want %+v", *se, want)
	}
	if !se.CardDeclined() || se.NotFound() {
		t.Error("CardDeclined/NotFound")
	}
	if got := err.Error(); !strings.Contains(got, "402 card_error (card_declined, insufficient_funds): Your card has insufficient funds. [req_dec]") ||
		!strings.HasPrefix(got, "stripe: charge saved card of cus_1: ") {
		t.Errorf("message %q", got)
	}
}

func TestMeterEventRequestAndDuplicates(t *testing.T) {
	answers := []struct {
		status int
		body   string
		ok     bool
	}{
		{200, `{"object":"billing.meter_event","identifier":"sale_1"}`, true},
		// The documented code.
		{400, `{"error":{"type":"invalid_request_error","code":"duplicate_meter_event","message":"A meter event with a duplicate identifier has already been submitted."}}`, true},
		// No code, as observed on /v1.
		{400, `{"error":{"type":"invalid_request_error","message":"An event already exists with identifier sale_1."}}`, true},
		// Other 400s are errors.
		{400, `{"error":{"type":"invalid_request_error","code":"parameter_missing","param":"event_name","message":"Missing required param: event_name."}}`, false},
		{400, `{"error":{"type":"invalid_request_error","message":"No active meter found for event name lead_sold. The meter already exists but is inactive."}}`, false},
		{404, `{"error":{"type":"invalid_request_error","message":"An event already exists with identifier sale_1."}}`, false},
	}
	for i, a := range answers {
		s, c, _ := newServer(t, func(_ int, w http.ResponseWriter, _ recorded) { reply(w, a.status, a.body) })
		c.MaxTries = 1
		err := c.MeterEvent(context.Background(), MeterEvent{EventName: "lead_sold", Identifier: "sale_1", Customer: "cus_1", Value: 2500, Timestamp: testNow})
		if (err == nil) != a.ok {
			t.Errorf("answer %d: error %v, want ok=%v", i, err, a.ok)
		}
		if i > 0 {
			continue
		}
		r := s.requests()[0]
		if r.path != "/v1/billing/meter_events" {
			t.Errorf("path %s", r.path)
		}
		want := url.Values{"event_name": {"lead_sold"}, "identifier": {"sale_1"}, "timestamp": {"1700000000"},
			"payload[stripe_customer_id]": {"cus_1"}, "payload[value]": {"2500"}}
		if fmt.Sprint(r.form) != fmt.Sprint(want) {
			t.Errorf("form %v, want %v", r.form, want)
		}
		if k := r.header.Get("Idempotency-Key"); !strings.HasPrefix(k, "meter_event:sale_1:") {
			t.Errorf("Idempotency-Key %q", k)
		}
	}
}

func TestMeterEventIdempotencyKey(t *testing.T) {
	s, c, _ := newServer(t, func(_ int, w http.ResponseWriter, _ recorded) { reply(w, 200, `{}`) })
	ev := MeterEvent{EventName: "lead_sold", Identifier: "sale_1", Customer: "cus_1", Value: 2500, Timestamp: testNow}
	later := ev
	later.Timestamp = testNow.Add(time.Minute)
	for _, e := range []MeterEvent{ev, ev, later} {
		if err := c.MeterEvent(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	r := s.requests()
	k0, k1, k2 := r[0].header.Get("Idempotency-Key"), r[1].header.Get("Idempotency-Key"), r[2].header.Get("Idempotency-Key")
	if k0 != k1 {
		t.Errorf("same event, keys %q and %q", k0, k1)
	}
	if k0 == k2 {
		t.Errorf("other parameters, same key %q (Stripe would answer an idempotency error)", k0)
	}
}

func TestErrorsNeverCarryTheSecretKey(t *testing.T) {
	// A hostile or buggy server echoing the key everywhere it can.
	answers := []func(w http.ResponseWriter, r recorded){
		func(w http.ResponseWriter, r recorded) {
			reply(w, 401, `{"error":{"type":"invalid_request_error","message":"Invalid API Key provided: `+strings.TrimPrefix(r.header.Get("Authorization"), "Bearer ")+`"}}`)
		},
		func(w http.ResponseWriter, r recorded) {
			w.Header().Set("Request-Id", testKey)
			reply(w, 400, `{"error":{"type":"`+testKey+`","code":"`+testKey+`","param":"`+testKey+`","decline_code":"`+testKey+`","payment_intent":"`+testKey+`","message":"x"}}`)
		},
		func(w http.ResponseWriter, r recorded) {
			reply(w, 400, "<html>"+r.header.Get("Authorization")+"</html>")
		},
		func(w http.ResponseWriter, r recorded) {
			reply(w, 500, `{"error":{"type":"api_error","message":"key `+testKey+` broke us"}}`)
		},
		func(w http.ResponseWriter, r recorded) {
			reply(w, 200, `{"id": "`+testKey) // undecodable 2xx
		},
	}
	for i, answer := range answers {
		_, c, _ := newServer(t, func(_ int, w http.ResponseWriter, r recorded) { answer(w, r) })
		calls := map[string]error{}
		_, calls["customer"] = c.Customer(context.Background(), "cus_1")
		_, calls["charge"] = c.ChargeSaved(context.Background(), ChargeInput{Customer: "cus_1", PaymentMethod: "pm_1", Amount: 1, Currency: "usd", IdempotencyKey: "k"})
		calls["meter"] = c.MeterEvent(context.Background(), MeterEvent{EventName: "e", Identifier: "i", Customer: "cus_1", Value: 1})
		for name, err := range calls {
			if err == nil {
				if i != 4 || name != "meter" { // MeterEvent does not read a 2xx body
					t.Errorf("answer %d, %s: no error", i, name)
				}
				continue
			}
			if strings.Contains(err.Error(), testKey) || strings.Contains(fmt.Sprintf("%+v %#v", err, err), testKey) {
				t.Errorf("answer %d, %s: the key leaks: %v", i, name, err)
			}
			var se *Error
			if errors.As(err, &se) && strings.Contains(fmt.Sprintf("%#v", *se), testKey) {
				t.Errorf("answer %d, %s: the key is in a field: %#v", i, name, *se)
			}
		}
	}
	// A transport error whose text would hold the key.
	c := &Client{BaseURL: "http://127.0.0.1:1", SecretKey: testKey, HTTP: &http.Client{Transport: leakyTransport{}}, MaxTries: 1}
	_, err := c.Customer(context.Background(), "cus_1")
	if err == nil || strings.Contains(err.Error(), testKey) {
		t.Errorf("transport error: %v", err)
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if strings.Contains(e.Error(), testKey) {
			t.Errorf("an unwrapped error holds the key: %v", e)
		}
	}
}

type leakyTransport struct{}

func (leakyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return nil, errors.New("proxy refused " + r.Header.Get("Authorization"))
}
