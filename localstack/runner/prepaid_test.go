package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/money"
	"github.com/leadrelay/leadrelay/shared/stripe/stripefake"
)

const stripeWebhookSecret = "whsec_test_prepaid_0123456789"

// prepaidYAML has acme prepaying $20 leads (priority 1) and next, billed
// by nobody, paying $5 for what acme cannot.
func prepaidYAML(buyerURL, secretParam string) string {
	return fmt.Sprintf(`
billing:
  stripe: {secret_key: "ssm:%[5]s", webhook_secret: "ssm:%[5]s"}
campaigns:
  - id: auto
    fields:
      phone: {type: phone, required: true}
      state: {type: us_state, required: true}
sources:
  - id: src
    campaigns: [auto]
    api_key_sha256: %[1]q
    payout: {type: fixed, amount: 4.00}
buyers:
  - id: acme
    api_key_sha256: %[2]q
    billing: {mode: prepaid, stripe_customer: cus_acme}
    delivery: {type: webhook, url: %[3]q, secret: %[4]q}
    orders:
      - {campaign: auto, price: 20.00, priority: 1, return_window: 72h}
  - id: next
    delivery: {type: webhook, url: %[3]q, secret: %[4]q}
    orders:
      - {campaign: auto, price: 5.00, priority: 2}
`, sourceHash, config.HashKey("key-acme"), buyerURL, secret, secretParam)
}

// stripeEvent posts a Stripe event to the webhook, signed as Stripe signs
// (stripefake's own HMAC) with secret.
func (e *env) stripeEvent(secret, typ string, object any) response {
	e.t.Helper()
	payload, header := stripefake.SignedEvent(secret, time.Now(), typ, object)
	return e.do("POST", "/v1/integrations/stripe/webhook", "application/json", string(payload), map[string]string{"Stripe-Signature": header})
}

func (e *env) balance(buyer string) money.Amount {
	e.t.Helper()
	b, err := e.r.App.Store.Balance(context.Background(), buyer)
	if err != nil {
		e.t.Fatal(err)
	}
	return b.Amount
}

// soldTo waits for the lead to be sold and says to whom.
func (e *env) soldTo(id string) string {
	e.t.Helper()
	if st := e.waitStatus(id); st != "sold" {
		e.t.Fatalf("lead %s: %s", id, st)
	}
	rec, err := e.r.App.Store.GetLead(context.Background(), id, true)
	if err != nil {
		e.t.Fatal(err)
	}
	return rec.Sales[0].Buyer
}

// Prepaid buyers: a top-up through Stripe's signed webhook is credited
// once however often (and by however many events) Stripe tells of it; a
// bad signature changes nothing; a $50 balance buys two $20 leads and the
// third goes to the next buyer, the routing explanation saying why; a
// return credits the balance; and leads posted at once never take a
// balance below zero.
func TestPrepaidBalanceAndTopUps(t *testing.T) {
	b := newBuyer(t)
	param := secureParam(t, "stripe", stripeWebhookSecret)
	e := start(t, prepaidYAML(b.srv.URL, param), nil)

	session := map[string]any{
		"id": "cs_test_1", "object": "checkout.session", "customer": "cus_acme", "amount_total": 5000, "currency": "usd",
		"payment_status": "paid", "status": "complete", "mode": "payment", "payment_intent": "pi_test_1",
		"metadata": map[string]string{"leadrelay_buyer": "acme", "leadrelay_kind": "topup"},
	}
	// A bad signature: refused, nothing credited.
	payload, header := stripefake.SignedEvent("whsec_wrong", time.Now(), "checkout.session.completed", session)
	r := e.do("POST", "/v1/integrations/stripe/webhook", "application/json", string(payload), map[string]string{"Stripe-Signature": header})
	if r.Status != http.StatusBadRequest || !strings.Contains(fmt.Sprint(r.Body), "invalid_signature") || e.balance("acme") != 0 {
		t.Fatalf("bad signature: %d %v, balance %s", r.Status, r.Body, e.balance("acme"))
	}
	// The top-up, delivered twice, and its PaymentIntent's own event.
	for i, want := range []string{"credited", "already_credited"} {
		if r := e.stripeEvent(stripeWebhookSecret, "checkout.session.completed", session); r.Status != http.StatusOK || r.Body["status"] != want {
			t.Fatalf("delivery %d: %d %v", i, r.Status, r.Body)
		}
	}
	intent := map[string]any{"id": "pi_test_1", "object": "payment_intent", "customer": "cus_acme", "amount": 5000, "amount_received": 5000,
		"currency": "usd", "status": "succeeded", "metadata": map[string]string{"leadrelay_buyer": "acme", "leadrelay_kind": "topup"}}
	if r := e.stripeEvent(stripeWebhookSecret, "payment_intent.succeeded", intent); r.Status != http.StatusOK || r.Body["status"] != "already_credited" {
		t.Fatalf("the intent's event: %d %v", r.Status, r.Body)
	}
	// Events of no use, and a payment for someone else's customer: 200, ignored.
	if r := e.stripeEvent(stripeWebhookSecret, "invoice.paid", map[string]any{"id": "in_1", "object": "invoice"}); r.Status != http.StatusOK || r.Body["status"] != "ignored" {
		t.Fatalf("an unused event: %d %v", r.Status, r.Body)
	}
	other := map[string]any{"id": "pi_test_2", "object": "payment_intent", "customer": "cus_other", "amount_received": 9900, "currency": "usd",
		"status": "succeeded", "metadata": map[string]string{"leadrelay_buyer": "acme"}}
	if r := e.stripeEvent(stripeWebhookSecret, "payment_intent.succeeded", other); r.Status != http.StatusOK || r.Body["status"] != "ignored" {
		t.Fatalf("another customer's payment: %d %v", r.Status, r.Body)
	}
	if got := e.balance("acme"); got != 5000 {
		t.Fatalf("balance %s after one $50 top-up", got)
	}
	// The answers are docs/openapi.yaml's.
	api := openAPI(t, e.r.URL)
	for _, c := range []struct {
		secret string
		want   int
	}{{stripeWebhookSecret, 200}, {"whsec_wrong", 400}} {
		payload, header := stripefake.SignedEvent(c.secret, time.Now(), "checkout.session.completed", session)
		if got := checked(t, api, "POST", e.r.URL+"/v1/integrations/stripe/webhook", string(payload),
			map[string]string{"Content-Type": "application/json", "Stripe-Signature": header}); got != c.want {
			t.Errorf("documented answer: %d, want %d", got, c.want)
		}
	}

	// $50 buys two $20 leads; the third goes to next.
	var ids []string
	for i := range 3 {
		r := e.post(map[string]any{"phone": phone(1200 + i), "state": "CA"}, nil)
		if r.Status != http.StatusAccepted {
			t.Fatalf("post: %d %v", r.Status, r.Body)
		}
		id := r.Body["lead_id"].(string)
		ids = append(ids, id)
		want := "acme"
		if i == 2 {
			want = "next"
		}
		if got := e.soldTo(id); got != want {
			t.Fatalf("lead %d sold to %s, want %s", i, got, want)
		}
	}
	if got := e.balance("acme"); got != 1000 {
		t.Fatalf("balance %s after two $20 leads, want 10.00", got)
	}
	rec, err := e.r.App.Store.GetLead(context.Background(), ids[2], true)
	if err != nil {
		t.Fatal(err)
	}
	explained := false
	for _, ev := range rec.Events {
		raw, _ := json.Marshal(ev.Data)
		if ev.Type == "routed" && strings.Contains(string(raw), "insufficient_balance") && strings.Contains(string(raw), "cannot pay") {
			explained = true
		}
	}
	if !explained {
		t.Fatalf("the third lead's routing does not say acme's balance could not pay: %+v", rec.Events)
	}

	// A return gives the price back.
	if r := e.do("POST", "/v1/returns", "application/json", fmt.Sprintf(`{"lead_id":%q,"reason":"disconnected_phone"}`, ids[0]),
		map[string]string{"X-API-Key": "key-acme"}); r.Status != http.StatusOK {
		t.Fatalf("return: %d %v", r.Status, r.Body)
	}
	if got := e.balance("acme"); got != 3000 {
		t.Fatalf("balance %s after a return, want 30.00", got)
	}

	// Eight leads at once against $30: one more to acme, none below zero.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var batch []string
	for i := range 8 {
		wg.Go(func() {
			r := e.post(map[string]any{"phone": phone(1300 + i), "state": "TX"}, nil)
			if r.Status != http.StatusAccepted {
				t.Errorf("post: %d %v", r.Status, r.Body)
				return
			}
			mu.Lock()
			batch = append(batch, r.Body["lead_id"].(string))
			mu.Unlock()
		})
	}
	wg.Wait()
	toAcme := 0
	for _, id := range batch {
		if e.soldTo(id) == "acme" {
			toAcme++
		}
	}
	if got := e.balance("acme"); toAcme != 1 || got != 1000 {
		t.Fatalf("%d of 8 leads at once to acme, balance %s; want 1 and 10.00", toAcme, got)
	}
}
