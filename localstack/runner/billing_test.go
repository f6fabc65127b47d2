package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/admin"
	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/money"
	"github.com/leadrelay/leadrelay/shared/stripe/stripefake"
)

const billingWebhookSecret = "whsec_test_billing_0123456789"

// billingYAML has big invoiced for campaign auto's leads at $25.50, pre
// prepaid with an automatic recharge of $200 under $50, and thin prepaid
// with a low-balance notice under $100 (their orders on a campaign no
// source posts to).
func billingYAML(buyerURL, keyParam, whsecParam, slackURL string) string {
	return fmt.Sprintf(`
billing:
  stripe: {secret_key: "ssm:%[3]s", webhook_secret: "ssm:%[4]s", success_url: "https://agency.example/thanks"}
feedback:
  slack_url: %[5]q
campaigns:
  - id: auto
    fields:
      phone: {type: phone, required: true}
      state: {type: us_state, required: true}
  - id: other
    fields:
      phone: {type: phone, required: true}
sources:
  - id: src
    campaigns: [auto]
    api_key_sha256: %[1]q
    payout: {type: fixed, amount: 4.00}
buyers:
  - id: big
    api_key_sha256: %[6]q
    billing: {mode: invoice, stripe_customer: cus_big}
    delivery: {type: webhook, url: %[2]q, secret: %[7]q}
    orders:
      - {campaign: auto, price: 25.50, return_window: 72h}
  - id: pre
    billing: {mode: prepaid, stripe_customer: cus_pre, auto_recharge: {below: 50.00, amount: 200.00}}
    delivery: {type: webhook, url: %[2]q, secret: %[7]q}
    orders:
      - {campaign: other, price: 20.00}
  - id: thin
    billing: {mode: prepaid, stripe_customer: cus_thin, low_balance: 100.00}
    notify: {slack_url: %[8]q}
    delivery: {type: webhook, url: %[2]q, secret: %[7]q}
    orders:
      - {campaign: other, price: 20.00}
`, sourceHash, buyerURL, keyParam, whsecParam, slackURL+"/agency", config.HashKey("key-big"), secret, slackURL+"/thin")
}

// slackHook is a fake Slack incoming webhook: what was said, by path.
type slackHook struct {
	srv  *httptest.Server
	mu   sync.Mutex
	said []string
}

func newSlackHook(t *testing.T) *slackHook {
	s := &slackHook{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]string
		_ = json.NewDecoder(r.Body).Decode(&m)
		s.mu.Lock()
		s.said = append(s.said, r.URL.Path+" "+m["text"])
		s.mu.Unlock()
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *slackHook) messages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.said)
}

// billingBalance is a buyer's prepaid balance as the store has it.
func (e *env) billingBalance(buyer string) money.Amount {
	e.t.Helper()
	b, err := e.r.App.Store.Balance(context.Background(), buyer)
	if err != nil {
		e.t.Fatal(err)
	}
	return b.Amount
}

// billingWebhook delivers a Stripe event, signed for the test's endpoint.
func (e *env) billingWebhook(typ string, object any) response {
	e.t.Helper()
	payload, header := stripefake.SignedEvent(billingWebhookSecret, time.Now(), typ, object)
	return e.do("POST", "/v1/integrations/stripe/webhook", "application/json", string(payload), map[string]string{"Stripe-Signature": header})
}

func amountOf(t *testing.T, v any) money.Amount {
	t.Helper()
	a, err := money.Parse(fmt.Sprint(v))
	if err != nil {
		t.Fatalf("amount %v: %v", v, err)
	}
	return a
}

// Buyer billing end to end, against a fake Stripe: an invoiced buyer buys
// two leads and returns one; the billing task reports two meter events
// (the sales' ids, a Stripe 500 retried) and one credit (its answer lost
// and replayed), once however often and however concurrently it runs;
// the statement's net is the P&L's revenue of the buyer to the cent. A
// prepaid balance under its threshold charges the saved card once and is
// credited once, the webhook of the same payment changing nothing; a low
// balance is told to Slack once; a top-up link paid through Checkout is
// credited by the webhook.
func TestBillingTask(t *testing.T) {
	b := newBuyer(t)
	fake := stripefake.New(t)
	slack := newSlackHook(t)
	keyParam := secureParam(t, "stripe-key", fake.SecretKey)
	whsecParam := secureParam(t, "stripe-whsec", billingWebhookSecret)
	e := start(t, billingYAML(b.srv.URL, keyParam, whsecParam, slack.srv.URL), func(o *Options) { o.StripeURL = fake.URL })
	router := openAPI(t, e.r.URL)
	adm := map[string]string{"Authorization": "Bearer " + adminToken}
	ctx := context.Background()
	store := e.r.App.Store

	// pre has $40 (under its $50 threshold), thin $30 (under $100).
	for buyer, amt := range map[string]money.Amount{"pre": 4000, "thin": 3000} {
		if _, err := store.TopUp(ctx, buyer, "pi_seed_"+buyer, amt, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	// big buys two leads and returns the first.
	var ids []string
	for i := range 2 {
		r := e.post(map[string]any{"phone": phone(4100 + i), "state": "CA"}, nil)
		if r.Status != http.StatusAccepted {
			t.Fatalf("post: %d %v", r.Status, r.Body)
		}
		id := r.Body["lead_id"].(string)
		if st := e.waitStatus(id); st != "sold" {
			t.Fatalf("lead %s: %s", id, st)
		}
		ids = append(ids, id)
	}
	if r := e.do("POST", "/v1/returns", "application/json", fmt.Sprintf(`{"lead_id":%q,"reason":"disconnected_phone"}`, ids[0]),
		map[string]string{"X-API-Key": "key-big"}); r.Status != http.StatusOK {
		t.Fatalf("return: %d %v", r.Status, r.Body)
	}

	// Stripe answers the first meter event 500, and loses its answer to
	// the credit: the client's retries (same idempotency key) settle both.
	fake.Fail("/v1/billing/meter_events", 500)
	fake.Fail("/v1/customers/cus_big/balance_transactions", stripefake.LoseAnswer)
	st, err := e.r.Admin.RunBilling(ctx)
	if err != nil || st.Sent != 3 || st.Failed != 0 || st.Left != 0 || st.Recharged != 1 || st.Notices != 1 {
		t.Fatalf("billing run: %+v, %v", st, err)
	}
	// Again, and four at once: nothing more.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := e.r.Admin.RunBilling(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := e.r.Admin.RunTask(ctx, admin.Task{Task: admin.TaskBilling}); err != nil {
		t.Fatal(err)
	}

	// The statement: two sales and a credit, all sent.
	stmtURL := e.r.URL + "/v1/admin/buyers/big/billing"
	if code := checked(t, router, "GET", stmtURL, "", adm); code != http.StatusOK {
		t.Fatalf("statement: %d", code)
	}
	r := e.do("GET", "/v1/admin/buyers/big/billing", "", "", adm)
	charges, _ := r.Body["charges"].([]any)
	totals, _ := r.Body["totals"].(map[string]any)
	var saleIDs []string
	for _, c := range charges {
		c := c.(map[string]any)
		if c["status"] != "sent" {
			t.Fatalf("charge not sent: %v", c)
		}
		if c["kind"] == "sale" {
			saleIDs = append(saleIDs, c["id"].(string))
		}
	}
	if len(charges) != 3 || len(saleIDs) != 2 || totals["sales"] != 2.0 || totals["credits"] != 1.0 || amountOf(t, totals["net"]) != 2550 {
		t.Fatalf("statement %v", r.Body)
	}

	// Stripe has each sale once (identifier = the sale's id) and one
	// credit of the returned sale, on the invoiced customer.
	var identifiers []string
	for _, ev := range fake.MeterEvents() {
		if ev.EventName != "leadrelay_lead" || ev.Customer != "cus_big" || ev.Value != 2550 {
			t.Fatalf("meter event %+v", ev)
		}
		identifiers = append(identifiers, ev.Identifier)
	}
	slices.Sort(identifiers)
	slices.Sort(saleIDs)
	if !slices.Equal(identifiers, saleIDs) || !strings.HasPrefix(identifiers[0], ids[0]+":") && !strings.HasPrefix(identifiers[1], ids[0]+":") {
		t.Fatalf("meter events %v, want the sales %v", identifiers, saleIDs)
	}
	posts := 0
	for _, rq := range fake.Requests() {
		if rq.Path == "/v1/billing/meter_events" {
			posts++
		}
	}
	if posts < 3 {
		t.Fatalf("%d meter event requests: the 500 was not retried", posts)
	}
	txs := fake.BalanceTransactions()
	if len(txs) != 1 || txs[0].Customer != "cus_big" || txs[0].Amount != -2550 || txs[0].Description != "LeadRelay: return of lead "+ids[0] ||
		fake.Balance("cus_big") != -2550 {
		t.Fatalf("balance transactions %+v (customer balance %d)", txs, fake.Balance("cus_big"))
	}

	// The statement's net is the P&L's revenue of big over the period.
	e.settle()
	q := url.Values{"from": {r.Body["from"].(string)}, "to": {r.Body["to"].(string)}, "group_by": {"buyer"}}
	pnl := e.do("GET", "/v1/admin/reports/pnl?"+q.Encode(), "", "", adm)
	var revenue any
	for _, row := range pnl.Body["rows"].([]any) {
		if row := row.(map[string]any); row["key"] == "big" {
			revenue = row["revenue"]
		}
	}
	if revenue == nil || amountOf(t, revenue) != amountOf(t, totals["net"]) {
		t.Fatalf("P&L revenue of big %v, statement net %v (%v)", revenue, totals["net"], pnl.Body)
	}

	// pre's card was charged once, $200, and credited once.
	pis := fake.PaymentIntents()
	if len(pis) != 1 || pis[0].Customer != "cus_pre" || pis[0].Amount != 20000 || !pis[0].OffSession ||
		pis[0].Metadata["leadrelay_buyer"] != "pre" || pis[0].Metadata["leadrelay_kind"] != "auto_recharge" {
		t.Fatalf("payment intents %+v", pis)
	}
	if got := e.billingBalance("pre"); got != 24000 {
		t.Fatalf("pre's balance %s, want 240.00", got)
	}
	intent := map[string]any{"id": pis[0].ID, "object": "payment_intent", "customer": "cus_pre", "amount": 20000, "amount_received": 20000,
		"currency": "usd", "status": "succeeded", "metadata": pis[0].Metadata}
	if r := e.billingWebhook("payment_intent.succeeded", intent); r.Status != http.StatusOK || r.Body["status"] != "already_credited" {
		t.Fatalf("the recharge's webhook: %d %v", r.Status, r.Body)
	}
	if got := e.billingBalance("pre"); got != 24000 {
		t.Fatalf("pre's balance %s after the webhook, want 240.00", got)
	}
	if code := checked(t, router, "GET", e.r.URL+"/v1/admin/buyers/pre/balance", "", adm); code != http.StatusOK {
		t.Fatalf("balance: %d", code)
	}
	if r := e.do("GET", "/v1/admin/buyers/pre/balance", "", "", adm); amountOf(t, r.Body["balance"]) != 24000 || amountOf(t, r.Body["funded"]) != 24000 {
		t.Fatalf("balance %v", r.Body)
	}
	if code := checked(t, router, "GET", e.r.URL+"/v1/admin/buyers/big/balance", "", adm); code != http.StatusConflict {
		t.Fatalf("an invoiced buyer's balance: %d", code)
	}

	// thin's low balance was told once, to thin and to the agency.
	said := slack.messages()
	if len(said) != 2 || !strings.HasPrefix(said[0], "/thin LeadRelay: your prepaid balance is low: 30.00 USD left") ||
		!strings.HasPrefix(said[1], "/agency LeadRelay: buyer thin's prepaid balance is low: 30.00 USD left") {
		t.Fatalf("Slack heard %q", said)
	}

	// A top-up link for thin, asked twice with one key: one session; paid,
	// the webhook credits it and the next run tells nothing.
	topup := `{"amount": 200.00}`
	hdr := map[string]string{"Authorization": "Bearer " + adminToken, "Content-Type": "application/json", "Idempotency-Key": "topup-1"}
	if code := checked(t, router, "POST", e.r.URL+"/v1/admin/buyers/thin/topup", topup, hdr); code != http.StatusCreated {
		t.Fatalf("top-up: %d", code)
	}
	link := e.do("POST", "/v1/admin/buyers/thin/topup", "application/json", topup, hdr)
	sessions := fake.CheckoutSessions()
	if link.Status != http.StatusCreated || len(sessions) != 1 || link.Body["session_id"] != sessions[0].ID ||
		!strings.HasPrefix(link.Body["url"].(string), fake.URL) || sessions[0].Metadata["leadrelay_buyer"] != "thin" || sessions[0].Amount != 20000 {
		t.Fatalf("top-up %d %v; sessions %+v", link.Status, link.Body, sessions)
	}
	if code := checked(t, router, "POST", e.r.URL+"/v1/admin/buyers/thin/topup", `{"amount": 0.10}`, hdr); code != http.StatusBadRequest {
		t.Fatalf("a top-up of 0.10: %d", code)
	}
	cs, _ := fake.CompleteCheckout(sessions[0].ID)
	if r := e.billingWebhook("checkout.session.completed", cs); r.Status != http.StatusOK || r.Body["status"] != "credited" {
		t.Fatalf("the top-up's webhook: %d %v", r.Status, r.Body)
	}
	if got := e.billingBalance("thin"); got != 23000 {
		t.Fatalf("thin's balance %s, want 230.00", got)
	}
	if st, err := e.r.Admin.RunBilling(ctx); err != nil || st.Notices != 0 || len(slack.messages()) != 2 {
		t.Fatalf("after the top-up: %+v, %v, %q", st, err, slack.messages())
	}
}
