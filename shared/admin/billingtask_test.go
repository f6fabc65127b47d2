package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/money"
	"github.com/leadrelay/leadrelay/shared/store"
	"github.com/leadrelay/leadrelay/shared/stripe"
)

const billingYAML = `
timezone: America/New_York
billing:
  stripe: {secret_key: "ssm:/leadrelay/stripe/key", webhook_secret: "ssm:/leadrelay/stripe/whsec", success_url: "https://agency.example/thanks"}
feedback:
  slack_url: https://hooks.slack.example/agency
campaigns:
  - id: auto
    fields: {phone: {type: phone}}
buyers:
  - id: acme
    billing: {mode: prepaid, stripe_customer: cus_acme, low_balance: 50.00}
    notify: {slack_url: "ssm:/leadrelay/acme/slack"}
    delivery: {type: webhook, url: "https://acme.example/leads"}
    orders:
      - {campaign: auto, price: 20.00}
  - id: rich
    billing: {mode: prepaid, stripe_customer: cus_rich, auto_recharge: {below: 100.00, amount: 250.00}}
    delivery: {type: webhook, url: "https://rich.example/leads"}
    orders:
      - {campaign: auto, price: 30.00}
  - id: big
    billing: {mode: invoice, stripe_customer: cus_big}
    delivery: {type: webhook, url: "https://big.example/leads"}
    orders:
      - {campaign: auto, price: 25.00}
  - id: free
    delivery: {type: webhook, url: "https://free.example/leads"}
    orders:
      - {campaign: auto, price: 10.00}
`

// chargeQueue is an outbox of charges with claims, as the store keeps it.
type chargeQueue struct {
	mu      sync.Mutex
	charges []lead.Charge
	claims  map[string]string // charge id → run
}

func (q *chargeQueue) ClaimCharges(_ context.Context, run string, limit int, _ time.Duration) ([]lead.Charge, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.claims == nil {
		q.claims = map[string]string{}
	}
	var out []lead.Charge
	for _, c := range q.charges {
		if len(out) == limit {
			break
		}
		if c.SentAt.IsZero() && c.Failed == "" && q.claims[c.ID] == "" {
			q.claims[c.ID] = run
			out = append(out, c)
		}
	}
	return out, nil
}

func (q *chargeQueue) settle(run string, c lead.Charge, f func(*lead.Charge)) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.claims[c.ID] != run {
		return store.ErrNotClaimed
	}
	delete(q.claims, c.ID)
	i := slices.IndexFunc(q.charges, func(x lead.Charge) bool { return x.ID == c.ID })
	f(&q.charges[i])
	return nil
}

func (q *chargeQueue) ChargeSent(_ context.Context, run string, c lead.Charge, at time.Time) error {
	return q.settle(run, c, func(x *lead.Charge) { x.SentAt = at })
}

func (q *chargeQueue) ChargeFailed(_ context.Context, run string, c lead.Charge, why string) error {
	return q.settle(run, c, func(x *lead.Charge) { x.Failed = why })
}

func (q *chargeQueue) Charges(_ context.Context, buyer, period string) ([]lead.Charge, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []lead.Charge
	for _, c := range q.charges {
		if c.Buyer == buyer && c.Period == period {
			out = append(out, c)
		}
	}
	return out, nil
}

// balances keeps store.Balance items as the store does.
type balances struct {
	items  map[string]*store.Balance
	topups map[string]bool
}

func (b *balances) item(buyer string) *store.Balance {
	if b.items == nil {
		b.items = map[string]*store.Balance{}
	}
	if b.items[buyer] == nil {
		b.items[buyer] = &store.Balance{Buyer: buyer}
	}
	return b.items[buyer]
}

func (b *balances) Balance(_ context.Context, buyer string) (store.Balance, error) {
	return *b.item(buyer), nil
}

func (b *balances) TopUp(_ context.Context, buyer, payment string, amt money.Amount, at time.Time) (bool, error) {
	if b.topups == nil {
		b.topups = map[string]bool{}
	}
	if b.topups[payment] {
		return false, nil
	}
	b.topups[payment] = true
	it := b.item(buyer)
	it.Amount += amt
	it.Funded += amt
	it.LastTopUp, it.Notified, it.Recharge = at, "", 0
	return true, nil
}

func (b *balances) MarkBalanceNotice(_ context.Context, buyer, level string) (bool, error) {
	it := b.item(buyer)
	if it.Notified == level {
		return false, nil
	}
	it.Notified = level
	return true, nil
}

func (b *balances) StartRecharge(_ context.Context, buyer string, now time.Time, stale time.Duration) (int64, bool, error) {
	it := b.item(buyer)
	if it.Recharge != 0 && it.Recharge >= now.Add(-stale).UnixNano() {
		return 0, false, nil
	}
	it.Recharge = now.UnixNano()
	return it.Recharge, true, nil
}

// fakeStripe records what the billing asks of Stripe; fail answers an
// error for a call ("meter", "credit", "charge", "checkout") until
// emptied.
type fakeStripe struct {
	mu        sync.Mutex
	meter     []stripe.MeterEvent
	credits   []string
	charges   []stripe.ChargeInput
	checkouts []stripe.CheckoutInput
	fail      map[string][]error
}

func (f *fakeStripe) failure(call string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if errs := f.fail[call]; len(errs) > 0 {
		f.fail[call] = errs[1:]
		return errs[0]
	}
	return nil
}

func (f *fakeStripe) MeterEvent(_ context.Context, acct *config.StripeBilling, ev stripe.MeterEvent) error {
	if acct == nil {
		return errors.New("no account")
	}
	if err := f.failure("meter"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.meter = append(f.meter, ev)
	return nil
}

func (f *fakeStripe) CreateCheckoutSession(_ context.Context, _ *config.StripeBilling, in stripe.CheckoutInput) (*stripe.CheckoutSession, error) {
	if err := f.failure("checkout"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checkouts = append(f.checkouts, in)
	id := fmt.Sprintf("cs_test_%d", len(f.checkouts))
	return &stripe.CheckoutSession{ID: id, URL: "https://checkout.stripe.example/c/pay/" + id}, nil
}

func (f *fakeStripe) ChargeSaved(_ context.Context, _ *config.StripeBilling, in stripe.ChargeInput) (*stripe.PaymentIntent, error) {
	if err := f.failure("charge"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.charges = append(f.charges, in)
	return &stripe.PaymentIntent{ID: fmt.Sprintf("pi_test_%d", len(f.charges)), Amount: in.Amount, AmountReceived: in.Amount, Status: stripe.PaymentIntentSucceeded}, nil
}

func (f *fakeStripe) CreditBalance(_ context.Context, _ *config.StripeBilling, customer string, amount int64, currency, description, key string) error {
	if err := f.failure("credit"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.credits = append(f.credits, fmt.Sprintf("%s %d %s %q %s", customer, amount, currency, description, key))
	return nil
}

// refs resolves references from a map.
type refs map[string]string

func (r refs) Resolve(_ context.Context, ref string) (string, error) {
	if v, ok := r[ref]; ok {
		return v, nil
	}
	return "", fmt.Errorf("no parameter %s", ref)
}

type billingFixture struct {
	h     *Handler
	cfg   *configStore
	queue *chargeQueue
	bal   *balances
	sc    *fakeStripe
	slack *slackSpy
	now   time.Time
}

func newBillingFixture(t *testing.T) *billingFixture {
	t.Helper()
	c, err := config.Parse([]byte(billingYAML))
	if err != nil {
		t.Fatal(err)
	}
	c.Version = 1
	f := &billingFixture{cfg: &configStore{cfg: c}, queue: &chargeQueue{}, bal: &balances{}, sc: &fakeStripe{fail: map[string][]error{}},
		slack: &slackSpy{}, now: time.Date(2026, 12, 3, 15, 0, 0, 0, time.UTC)}
	f.h = &Handler{Store: f.cfg, Charges: f.queue, Balances: f.bal, Billing: f.sc, Slack: f.slack, Secrets: plainKeeper{},
		Refs: refs{"ssm:/leadrelay/acme/slack": "https://hooks.slack.example/acme"},
		Now:  func() time.Time { return f.now }, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	return f
}

func sale(id string, amount money.Amount, at time.Time) lead.Charge {
	return lead.Charge{Kind: lead.ChargeSale, Buyer: "big", Customer: "cus_big", LeadID: id, Amount: amount, At: at, ID: id + ":R1", Period: "2026-12"}
}

func credit(id string, amount money.Amount, at time.Time) lead.Charge {
	return lead.Charge{Kind: lead.ChargeCredit, Buyer: "big", Customer: "cus_big", LeadID: id, Amount: amount, At: at, ID: id + ":S0:credit", Period: "2026-12"}
}

// The fixture's prepaid buyers are funded well, so that only the charges
// are at stake.
func (f *billingFixture) fund() {
	f.bal.item("acme").Amount = 100000
	f.bal.item("rich").Amount = 100000
}

// A sale is a meter event keyed by the sale's id, valued in cents at the
// sale's time; a return's credit is a balance credit under the charge's id;
// both are marked sent, and a second run sends nothing.
func TestReportChargesSendsEachOnce(t *testing.T) {
	f := newBillingFixture(t)
	f.fund()
	at := time.Date(2026, 12, 2, 18, 30, 0, 0, time.UTC)
	f.queue.charges = []lead.Charge{sale("l-1", 2500, at), sale("l-2", 2550, at.Add(time.Minute)), credit("l-1", 2500, at.Add(time.Hour))}
	st, err := f.h.RunBilling(t.Context())
	if err != nil || st.Sent != 3 || st.Failed != 0 || st.Left != 0 {
		t.Fatalf("run: %+v, %v", st, err)
	}
	slices.SortFunc(f.sc.meter, func(a, b stripe.MeterEvent) int { return strings.Compare(a.Identifier, b.Identifier) })
	want := []stripe.MeterEvent{
		{EventName: "leadrelay_lead", Identifier: "l-1:R1", Customer: "cus_big", Value: 2500, Timestamp: at},
		{EventName: "leadrelay_lead", Identifier: "l-2:R1", Customer: "cus_big", Value: 2550, Timestamp: at.Add(time.Minute)},
	}
	if !slices.Equal(f.sc.meter, want) {
		t.Fatalf("meter events %+v\nwant %+v", f.sc.meter, want)
	}
	if want := []string{`cus_big 2500 usd "LeadRelay: return of lead l-1" l-1:S0:credit`}; !slices.Equal(f.sc.credits, want) {
		t.Fatalf("credits %q, want %q", f.sc.credits, want)
	}
	for _, c := range f.queue.charges {
		if !c.SentAt.Equal(f.now) {
			t.Fatalf("charge %s not marked sent: %+v", c.ID, c)
		}
	}
	if st, err := f.h.RunBilling(t.Context()); err != nil || st.Sent != 0 || len(f.sc.meter) != 2 || len(f.sc.credits) != 1 {
		t.Fatalf("second run: %+v, %v; %d meter events, %d credits", st, err, len(f.sc.meter), len(f.sc.credits))
	}
}

// Concurrent runs send each charge once: the claims.
func TestReportChargesConcurrentRuns(t *testing.T) {
	f := newBillingFixture(t)
	f.fund()
	at := time.Date(2026, 12, 2, 18, 30, 0, 0, time.UTC)
	for i := range 50 {
		f.queue.charges = append(f.queue.charges, sale(fmt.Sprintf("l-%02d", i), 2500, at))
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := f.h.ReportCharges(t.Context()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	seen := map[string]int{}
	for _, ev := range f.sc.meter {
		seen[ev.Identifier]++
	}
	if len(f.sc.meter) != 50 || len(seen) != 50 {
		t.Fatalf("%d meter events for %d sales", len(f.sc.meter), len(seen))
	}
}

// Stripe's refusal of a charge marks it failed with Stripe's reason and
// the run goes on; Stripe unreachable, overloaded or refusing the key
// stops the run and leaves the charges queued (for a run after the
// lease: here, once the claims are gone).
func TestReportChargesRefusedAndTransient(t *testing.T) {
	f := newBillingFixture(t)
	f.fund()
	at := time.Date(2026, 12, 2, 18, 30, 0, 0, time.UTC)
	f.queue.charges = []lead.Charge{sale("l-1", 2500, at)}
	f.sc.fail["meter"] = []error{&stripe.Error{Status: 400, Type: "invalid_request_error", Code: "resource_missing", Message: "No such customer: 'cus_big'"}}
	st, err := f.h.ReportCharges(t.Context())
	if err != nil || st.Failed != 1 || !strings.Contains(f.queue.charges[0].Failed, "No such customer") {
		t.Fatalf("refused: %+v, %v, %+v", st, err, f.queue.charges[0])
	}

	for _, transient := range []error{
		&stripe.Error{Status: 500, Type: "api_error", Message: "boom"},
		&stripe.Error{Status: 429, Message: "slow down"},
		&stripe.Error{Status: 401, Message: "Invalid API Key provided"},
		errors.New("dial tcp: connection refused"),
	} {
		f.queue.charges, f.queue.claims = []lead.Charge{sale("l-2", 2500, at), sale("l-3", 2500, at)}, nil
		f.sc.meter = nil
		f.sc.fail["meter"] = []error{transient, transient}
		st, err := f.h.ReportCharges(t.Context())
		if err == nil || st.Left != 2 || st.Sent+st.Failed != 0 {
			t.Fatalf("%v: %+v, %v", transient, st, err)
		}
		for _, c := range f.queue.charges {
			if !c.SentAt.IsZero() || c.Failed != "" {
				t.Fatalf("%v: charge settled: %+v", transient, c)
			}
		}
		f.queue.claims, f.sc.fail["meter"] = nil, nil // the lease ran out; Stripe is back
		if st, err := f.h.ReportCharges(t.Context()); err != nil || st.Sent != 2 || len(f.sc.meter) != 2 {
			t.Fatalf("%v, then a run after the lease: %+v, %v", transient, st, err)
		}
	}
}

// Without billing.stripe the charges wait, unclaimed.
func TestReportChargesWaitForTheAccount(t *testing.T) {
	f := newBillingFixture(t)
	f.cfg.cfg.Billing.Stripe = nil
	f.queue.charges = []lead.Charge{sale("l-1", 2500, time.Now())}
	if st, err := f.h.ReportCharges(t.Context()); err != nil || st != (BillingStats{}) || len(f.queue.claims) != 0 {
		t.Fatalf("%+v, %v, claims %v", st, err, f.queue.claims)
	}
}

// A prepaid balance under low_balance is told once to the buyer's Slack
// (an ssm: reference) and the agency's; empty is told once more; a
// top-up starts over.
func TestBalanceNoticesOncePerCrossing(t *testing.T) {
	f := newBillingFixture(t)
	f.fund()
	f.bal.item("acme").Amount = 4500
	st, err := f.h.RunBilling(t.Context())
	if err != nil || st.Notices != 1 || len(f.slack.said) != 2 {
		t.Fatalf("low: %+v, %v, %q", st, err, f.slack.said)
	}
	if !strings.HasPrefix(f.slack.said[0], "https://hooks.slack.example/acme LeadRelay: your prepaid balance is low: 45.00 USD left") ||
		!strings.HasPrefix(f.slack.said[1], "https://hooks.slack.example/agency LeadRelay: buyer acme's prepaid balance is low: 45.00 USD left") ||
		!strings.Contains(f.slack.said[1], "leadctl buyers topup acme --amount 200") {
		t.Fatalf("said %q", f.slack.said)
	}
	if st, _ := f.h.RunBilling(t.Context()); st.Notices != 0 || len(f.slack.said) != 2 {
		t.Fatalf("low again: %+v, %q", st, f.slack.said)
	}
	f.bal.item("acme").Amount = 1500 // under one $20 lead
	if st, _ := f.h.RunBilling(t.Context()); st.Notices != 1 || len(f.slack.said) != 4 || !strings.Contains(f.slack.said[3], "prepaid balance is empty (15.00 USD left") {
		t.Fatalf("empty: %+v, %q", st, f.slack.said)
	}
	if _, err := f.bal.TopUp(t.Context(), "acme", "pi_1", 1000, f.now); err != nil { // 25.00: low again
		t.Fatal(err)
	}
	if st, _ := f.h.RunBilling(t.Context()); st.Notices != 1 || len(f.slack.said) != 6 {
		t.Fatalf("after a top-up: %+v, %q", st, f.slack.said)
	}
}

// A balance under auto_recharge.below charges the saved card once, with
// the buyer and kind in the metadata and an idempotency key of the
// recharge, and is credited at once under the PaymentIntent (so that the
// webhook's credit of the same intent is none); no low notice follows.
func TestAutoRecharge(t *testing.T) {
	f := newBillingFixture(t)
	f.fund()
	f.bal.item("rich").Amount = 9000
	st, err := f.h.RunBilling(t.Context())
	if err != nil || st.Recharged != 1 || len(f.sc.charges) != 1 {
		t.Fatalf("%+v, %v, %+v", st, err, f.sc.charges)
	}
	ch := f.sc.charges[0]
	if ch.Customer != "cus_rich" || ch.Amount != 25000 || ch.Currency != "usd" || ch.Metadata["leadrelay_buyer"] != "rich" ||
		ch.Metadata["leadrelay_kind"] != "auto_recharge" || ch.IdempotencyKey != fmt.Sprintf("recharge:rich:%d", f.now.UnixNano()) {
		t.Fatalf("charge %+v", ch)
	}
	if b := f.bal.item("rich"); b.Amount != 34000 || !f.bal.topups["pi_test_1"] {
		t.Fatalf("balance %+v", b)
	}
	if applied, _ := f.bal.TopUp(t.Context(), "rich", "pi_test_1", 25000, f.now); applied {
		t.Fatal("the webhook's payment_intent.succeeded credited the recharge again")
	}
	if st.Notices != 0 {
		t.Fatalf("a recharged balance was told low: %q", f.slack.said)
	}
}

// A declined card is told to Slack and not tried again until the
// recharge goes stale.
func TestAutoRechargeDeclined(t *testing.T) {
	f := newBillingFixture(t)
	f.fund()
	f.bal.item("rich").Amount = 9000
	f.sc.fail["charge"] = []error{&stripe.Error{Status: 402, Type: "card_error", Code: "card_declined", DeclineCode: "insufficient_funds", Message: "Your card has insufficient funds."}}
	st, err := f.h.RunBilling(t.Context())
	if err != nil || st.Declined != 1 || st.Recharged != 0 || f.bal.item("rich").Amount != 9000 {
		t.Fatalf("%+v, %v, %+v", st, err, f.bal.item("rich"))
	}
	if len(f.slack.said) != 1 || !strings.Contains(f.slack.said[0], "automatic recharge of buyer rich (250.00 USD) was declined") {
		t.Fatalf("said %q", f.slack.said)
	}
	f.now = f.now.Add(30 * time.Minute)
	if st, _ := f.h.RunBilling(t.Context()); st.Declined != 0 || len(f.sc.charges) != 0 {
		t.Fatalf("retried within the hour: %+v", st)
	}
	f.now = f.now.Add(31 * time.Minute)
	if st, _ := f.h.RunBilling(t.Context()); st.Recharged != 1 || f.bal.item("rich").Amount != 34000 {
		t.Fatalf("an hour later: %+v, %+v", st, f.bal.item("rich"))
	}
}
