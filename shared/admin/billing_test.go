package admin

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/stripe"
)

func (f *billingFixture) call(t *testing.T, method, path, body string, headers map[string]string, query map[string]string) (int, map[string]any) {
	t.Helper()
	r, err := f.h.Handle(t.Context(), httpapi.Request{HTTPMethod: method, Path: path, Body: body, Headers: headers, QueryStringParameters: query})
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(r.Body), &out); err != nil {
		t.Fatalf("%s %s: %q is not JSON", method, path, r.Body)
	}
	return r.StatusCode, out
}

func errCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

// GET /v1/admin/buyers/{id}/balance: a prepaid buyer's balance and
// settings; 404 for no such buyer; 409 not_prepaid for the others.
func TestBalanceAPI(t *testing.T) {
	f := newBillingFixture(t)
	b := f.bal.item("acme")
	b.Amount, b.Funded, b.LastTopUp = 4500, 10000, time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	st, body := f.call(t, "GET", "/v1/admin/buyers/acme/balance", "", nil, nil)
	if st != http.StatusOK || body["buyer"] != "acme" || body["mode"] != "prepaid" || body["balance"] != 45.0 || body["funded"] != 100.0 ||
		body["currency"] != "usd" || body["last_topup_at"] != "2026-12-01T09:00:00Z" || body["low_balance"] != 50.0 || body["notice"] != "low" {
		t.Fatalf("%d %v", st, body)
	}
	if _, ok := body["auto_recharge"]; ok {
		t.Fatalf("auto_recharge shown while off: %v", body)
	}
	st, body = f.call(t, "GET", "/v1/admin/buyers/rich/balance", "", nil, nil)
	ar, _ := body["auto_recharge"].(map[string]any)
	if st != http.StatusOK || body["balance"] != 0.0 || ar["below"] != 100.0 || ar["amount"] != 250.0 || body["last_topup_at"] != nil {
		t.Fatalf("never funded: %d %v", st, body)
	}
	for id, want := range map[string]int{"nobody": 404, "big": 409, "free": 409} {
		if st, body := f.call(t, "GET", "/v1/admin/buyers/"+id+"/balance", "", nil, nil); st != want ||
			(want == 409 && errCode(body) != "not_prepaid") || (want == 404 && errCode(body) != "buyer_not_found") {
			t.Errorf("%s: %d %v, want %d", id, st, body, want)
		}
	}
}

// POST /v1/admin/buyers/{id}/topup: a Checkout session for the buyer's
// customer with the top-up's metadata, keyed by the request's
// Idempotency-Key; a bad amount is refused naming the field.
func TestTopUpAPI(t *testing.T) {
	f := newBillingFixture(t)
	st, body := f.call(t, "POST", "/v1/admin/buyers/acme/topup", `{"amount": 200.00}`, map[string]string{"Idempotency-Key": "k-1"}, nil)
	if st != http.StatusCreated || body["url"] != "https://checkout.stripe.example/c/pay/cs_test_1" || body["session_id"] != "cs_test_1" ||
		body["amount"] != 200.0 || body["buyer"] != "acme" || body["currency"] != "usd" {
		t.Fatalf("%d %v", st, body)
	}
	in := f.sc.checkouts[0]
	if in.Customer != "cus_acme" || in.Amount != 20000 || in.Currency != "usd" || in.SuccessURL != "https://agency.example/thanks" ||
		in.Metadata["leadrelay_buyer"] != "acme" || in.Metadata["leadrelay_kind"] != "topup" || in.IdempotencyKey != "topup:acme:k-1" {
		t.Fatalf("checkout %+v", in)
	}
	// Without a key, one is made up: two requests, two sessions.
	f.call(t, "POST", "/v1/admin/buyers/acme/topup", `{"amount": "75"}`, nil, nil)
	f.call(t, "POST", "/v1/admin/buyers/acme/topup", `{"amount": "75"}`, nil, nil)
	if len(f.sc.checkouts) != 3 || f.sc.checkouts[1].IdempotencyKey == f.sc.checkouts[2].IdempotencyKey || f.sc.checkouts[1].Amount != 7500 {
		t.Fatalf("checkouts %+v", f.sc.checkouts)
	}

	for _, bad := range []string{`{}`, `{"amount": 0}`, `{"amount": -5}`, `{"amount": 0.49}`, `{"amount": 12.345}`, `{"amount": "lots"}`, `{"amount": 1000000}`} {
		st, body := f.call(t, "POST", "/v1/admin/buyers/acme/topup", bad, nil, nil)
		e, _ := body["error"].(map[string]any)
		fields, _ := e["fields"].([]any)
		if st != 400 || errCode(body) != "validation_failed" || len(fields) != 1 || fields[0].(map[string]any)["field"] != "amount" {
			t.Errorf("%s: %d %v", bad, st, body)
		}
	}
	if st, body := f.call(t, "POST", "/v1/admin/buyers/big/topup", `{"amount": 200}`, nil, nil); st != 409 || errCode(body) != "not_prepaid" {
		t.Errorf("invoiced buyer: %d %v", st, body)
	}
	f.sc.fail["checkout"] = []error{&stripe.Error{Status: 400, Type: "idempotency_error", Message: "Keys for idempotent requests..."}}
	if st, body := f.call(t, "POST", "/v1/admin/buyers/acme/topup", `{"amount": 300}`, map[string]string{"Idempotency-Key": "k-1"}, nil); st != 409 || errCode(body) != "idempotency_conflict" {
		t.Errorf("a reused key: %d %v", st, body)
	}
	f.sc.fail["checkout"] = []error{&stripe.Error{Status: 503, Type: "api_error"}}
	if st, body := f.call(t, "POST", "/v1/admin/buyers/acme/topup", `{"amount": 300}`, nil, nil); st != 503 {
		t.Errorf("Stripe down: %d %v", st, body)
	}
	f.sc.fail["checkout"] = []error{&stripe.Error{Status: 400, Type: "invalid_request_error", Message: "No such customer: 'cus_acme'"}}
	if st, body := f.call(t, "POST", "/v1/admin/buyers/acme/topup", `{"amount": 300}`, nil, nil); st != 502 || errCode(body) != "stripe_refused" ||
		!strings.Contains(body["error"].(map[string]any)["message"].(string), "No such customer") {
		t.Errorf("Stripe refuses: %d %v", st, body)
	}
	f.cfg.cfg.Billing.Stripe.SuccessURL = ""
	if st, body := f.call(t, "POST", "/v1/admin/buyers/acme/topup", `{"amount": 300}`, nil, nil); st != 409 || errCode(body) != "billing_not_configured" {
		t.Errorf("no success_url: %d %v", st, body)
	}
}

// GET /v1/admin/buyers/{id}/billing?period: the period's charges, each
// sent, failed or pending, and their totals.
func TestStatementAPI(t *testing.T) {
	f := newBillingFixture(t)
	at := time.Date(2026, 12, 2, 18, 30, 0, 0, time.UTC)
	sent := sale("l-1", 2500, at)
	sent.SentAt = at.Add(time.Minute)
	failed := sale("l-2", 3000, at.Add(time.Hour))
	failed.Failed = "400 invalid_request_error: No such customer"
	other := sale("l-4", 999, at)
	other.Period = "2026-11"
	f.queue.charges = []lead.Charge{sent, failed, credit("l-1", 2500, at.Add(2*time.Hour)), sale("l-3", 1999, at.Add(3*time.Hour)), other}
	st, body := f.call(t, "GET", "/v1/admin/buyers/big/billing", "", nil, map[string]string{"period": "2026-12"})
	if st != 200 || body["period"] != "2026-12" || body["from"] != "2026-12-01" || body["to"] != "2026-12-31" || body["mode"] != "invoice" || body["stripe_customer"] != "cus_big" {
		t.Fatalf("%d %v", st, body)
	}
	charges, _ := body["charges"].([]any)
	if len(charges) != 4 {
		t.Fatalf("charges %v", charges)
	}
	first, second := charges[0].(map[string]any), charges[1].(map[string]any)
	if first["status"] != "sent" || first["sent_at"] != "2026-12-02T18:31:00Z" || first["id"] != "l-1:R1" || first["lead_id"] != "l-1" || first["kind"] != "sale" ||
		second["status"] != "failed" || second["failed"] != failed.Failed || charges[2].(map[string]any)["status"] != "pending" {
		t.Fatalf("charges %v", charges)
	}
	totals := body["totals"].(map[string]any)
	want := map[string]any{"sales": 3.0, "sales_amount": 74.99, "credits": 1.0, "credits_amount": 25.0, "net": 49.99, "sent": 1.0, "pending": 2.0, "failed": 1.0}
	for k, v := range want {
		if totals[k] != v {
			t.Errorf("totals[%s] = %v, want %v (%v)", k, totals[k], v, totals)
		}
	}
	// The current period by default, in the agency's timezone: 2026-12.
	if st, body := f.call(t, "GET", "/v1/admin/buyers/big/billing", "", nil, nil); st != 200 || body["period"] != "2026-12" {
		t.Fatalf("default period: %d %v", st, body)
	}
	if st, body := f.call(t, "GET", "/v1/admin/buyers/big/billing", "", nil, map[string]string{"period": "december"}); st != 400 || errCode(body) != "validation_failed" {
		t.Fatalf("bad period: %d %v", st, body)
	}
	if st, _ := f.call(t, "GET", "/v1/admin/buyers/nobody/billing", "", nil, nil); st != 404 {
		t.Fatalf("no buyer: %d", st)
	}
}
