package stripe_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/stripe"
	"github.com/leadrelay/leadrelay/shared/stripe/stripefake"
)

// These tests run the client against the fake, as the packages that
// integrate billing will.

func TestTopUpThroughCheckoutAndWebhook(t *testing.T) {
	fake := stripefake.New(t)
	c := fake.Client()
	ctx := context.Background()
	in := stripe.CheckoutInput{
		Customer: "cus_b1", Amount: 5000, Currency: "USD", SuccessURL: "https://agency.example/ok",
		Description: "Lead balance top-up", Metadata: map[string]string{"buyer_id": "b1", "topup_id": "t1"},
		IdempotencyKey: "topup-t1",
	}
	sess, err := c.CreateCheckoutSession(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if sess.URL == "" || sess.Status != "open" || sess.AmountTotal != 5000 || sess.Currency != "usd" {
		t.Errorf("session %+v", sess)
	}
	// The same key: the same session, not a second one.
	again, err := c.CreateCheckoutSession(ctx, in)
	if err != nil || again.ID != sess.ID {
		t.Errorf("repeat: %v, %+v", err, again)
	}
	got := fake.CheckoutSessions()
	if len(got) != 1 || got[0].SetupFutureUsage != "off_session" || got[0].PaymentIntentMetadata["topup_id"] != "t1" || got[0].Metadata["buyer_id"] != "b1" {
		t.Fatalf("sessions %+v", got)
	}

	paid, _ := fake.CompleteCheckout(sess.ID)
	now := time.Now()
	payload, header := stripefake.SignedEvent("whsec_fake", now, stripe.EventCheckoutSessionCompleted, paid)
	if err := stripe.VerifySignature(payload, header, "whsec_fake", now, 0); err != nil {
		t.Fatal(err)
	}
	if err := stripe.VerifySignature(payload, header, "whsec_other", now, 0); !errors.Is(err, stripe.ErrBadSignature) {
		t.Errorf("other secret: %v", err)
	}
	ev, err := stripe.ParseEvent(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ev.CheckoutSession()
	if err != nil {
		t.Fatal(err)
	}
	if s.ID != sess.ID || s.PaymentStatus != "paid" || s.AmountTotal != 5000 || s.Customer != "cus_b1" || s.Metadata["topup_id"] != "t1" || s.PaymentIntent == "" {
		t.Errorf("completed session %+v", s)
	}
}

func TestAutoRecharge(t *testing.T) {
	fake := stripefake.New(t)
	c := fake.Client()
	ctx := context.Background()
	charge := stripe.ChargeInput{Customer: "cus_b1", Amount: 2000, Currency: "usd", Metadata: map[string]string{"buyer_id": "b1"}, IdempotencyKey: "recharge-1"}

	// No payment method given: the customer's newest saved card.
	pi, err := c.ChargeSaved(ctx, charge)
	if err != nil {
		t.Fatal(err)
	}
	if pi.Status != stripe.PaymentIntentSucceeded || pi.PaymentMethod != stripefake.DefaultCard || pi.AmountReceived != 2000 {
		t.Errorf("intent %+v", pi)
	}
	// The invoice default wins over the list.
	fake.SetCard("cus_b2", "pm_default", true)
	pi, err = c.ChargeSaved(ctx, stripe.ChargeInput{Customer: "cus_b2", Amount: 100, Currency: "usd", IdempotencyKey: "recharge-2"})
	if err != nil || pi.PaymentMethod != "pm_default" {
		t.Errorf("invoice default: %v %+v", err, pi)
	}
	// No card at all.
	fake.SetCard("cus_b3", "", false)
	if _, err := c.ChargeSaved(ctx, stripe.ChargeInput{Customer: "cus_b3", Amount: 100, Currency: "usd", IdempotencyKey: "recharge-3"}); !errors.Is(err, stripe.ErrNoPaymentMethod) {
		t.Errorf("no card: %v", err)
	}

	// A 429 and a lost answer on the way: still one charge.
	fake.Fail("/v1/payment_intents", 429, stripefake.LoseAnswer)
	pi, err = c.ChargeSaved(ctx, stripe.ChargeInput{Customer: "cus_b1", Amount: 3000, Currency: "usd", IdempotencyKey: "recharge-4"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range fake.PaymentIntents() {
		if p.IdempotencyKey == "recharge-4" {
			n++
			if p.ID != pi.ID || !p.OffSession || !p.Confirm {
				t.Errorf("recorded %+v, returned %+v", p, pi)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d intents for one recharge", n)
	}
	var statuses []int
	replayed := false
	for _, r := range fake.Requests() {
		if r.IdempotencyKey == "recharge-4" {
			statuses = append(statuses, r.Status)
			replayed = replayed || r.Replayed
		}
	}
	if len(statuses) != 3 || statuses[0] != 429 || statuses[1] != stripefake.LoseAnswer || statuses[2] != 200 || !replayed {
		t.Errorf("tries answered %v (replayed %v), want 429, lost, replayed 200", statuses, replayed)
	}

	// A declined card.
	fake.DeclineCard("cus_b1")
	_, err = c.ChargeSaved(ctx, stripe.ChargeInput{Customer: "cus_b1", Amount: 2000, Currency: "usd", IdempotencyKey: "recharge-5"})
	var se *stripe.Error
	if !errors.As(err, &se) || se.Status != 402 || se.Code != "card_declined" || !se.CardDeclined() || se.PaymentIntent == "" {
		t.Errorf("decline: %v", err)
	}
}

func TestMeterEventsNeverDuplicated(t *testing.T) {
	fake := stripefake.New(t)
	c := fake.Client()
	ctx := context.Background()
	ev := stripe.MeterEvent{EventName: "lead_sold", Identifier: "sale_1", Customer: "cus_b1", Value: 2500, Timestamp: time.Unix(1700000000, 0)}
	fake.Fail("/v1/billing/meter_events", 500)
	for i := range 3 {
		if err := c.MeterEvent(ctx, ev); err != nil {
			t.Fatalf("report %d: %v", i+1, err)
		}
	}
	// A redelivery that reports the same sale at another time.
	ev.Timestamp = ev.Timestamp.Add(time.Hour)
	if err := c.MeterEvent(ctx, ev); err != nil {
		t.Fatalf("report with a new timestamp: %v", err)
	}
	got := fake.MeterEvents()
	if len(got) != 1 || got[0] != (stripefake.MeterEvent{EventName: "lead_sold", Identifier: "sale_1", Customer: "cus_b1", Value: 2500, Timestamp: 1700000000}) {
		t.Errorf("meter events %+v", got)
	}
}

func TestCreditAndCustomer(t *testing.T) {
	fake := stripefake.New(t)
	c := fake.Client()
	ctx := context.Background()
	for range 2 {
		if err := c.CreditBalance(ctx, "cus_b1", 2500, "USD", "return of lead L1", "return-L1"); err != nil {
			t.Fatal(err)
		}
	}
	if b := fake.Balance("cus_b1"); b != -2500 {
		t.Errorf("balance %d, want -2500 (one credit)", b)
	}
	cu, err := c.Customer(ctx, "cus_b1")
	if err != nil || cu.Balance != -2500 || cu.ID != "cus_b1" {
		t.Errorf("customer %+v, %v", cu, err)
	}
	_, err = c.Customer(ctx, "nobody")
	var se *stripe.Error
	if !errors.As(err, &se) || !se.NotFound() {
		t.Errorf("unknown customer: %v", err)
	}

	wrong := fake.Client()
	wrong.SecretKey = "sk_test_wrong_key_123456"
	_, err = wrong.Customer(ctx, "cus_b1")
	if !errors.As(err, &se) || se.Status != 401 || strings.Contains(err.Error(), wrong.SecretKey) || strings.Contains(err.Error(), fake.SecretKey) {
		t.Errorf("wrong key: %v", err)
	}
}
