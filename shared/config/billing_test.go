package config

import (
	"errors"
	"strings"
	"testing"
)

const billingDoc = `
billing:
  stripe: {secret_key: "ssm:/leadrelay/stripe/key", webhook_secret: "ssm:/leadrelay/stripe/whsec"}
campaigns:
  - id: auto
    fields: {phone: {type: phone, required: true}}
sources: []
buyers:
  - id: acme
    billing: {mode: prepaid, stripe_customer: cus_Acme1, low_balance: 100.00, auto_recharge: {below: 50.00, amount: 200.00}}
    delivery: {type: webhook, url: "https://acme.example/leads"}
    orders: [{campaign: auto, price: 20.00}]
  - id: big
    billing: {mode: invoice, stripe_customer: cus_Big2}
    delivery: {type: webhook, url: "https://big.example/leads"}
    orders: [{campaign: auto, price: 30.00}]
`

func TestBillingConfig(t *testing.T) {
	c, err := Parse([]byte(billingDoc))
	if err != nil {
		t.Fatal(err)
	}
	ix := NewIndex(c)
	if !ix.Buyer("acme").Prepaid() || ix.Buyer("acme").Invoiced() || !ix.Buyer("big").Invoiced() {
		t.Fatal("modes")
	}
	if s := c.Billing.Stripe; s.CurrencyCode() != "usd" || s.MeterEventName() != DefaultMeterEvent {
		t.Fatalf("defaults %q %q", s.CurrencyCode(), s.MeterEventName())
	}
	found := 0
	for _, s := range Secrets(c) {
		if strings.HasPrefix(s.Path, "billing.stripe.") && s.OnUse {
			found++
		}
	}
	if found != 2 || !secretPath("billing.stripe.secret_key") || !secretPath("billing.stripe.webhook_secret") {
		t.Fatalf("the Stripe keys are not secrets resolved on use (%d)", found)
	}
	for _, c := range []struct{ old, new, field string }{
		{`secret_key: "ssm:/leadrelay/stripe/key"`, `secret_key: "sk_live_LiteralKey"`, "billing.stripe.secret_key"},
		{`webhook_secret: "ssm:/leadrelay/stripe/whsec"`, `webhook_secret: ""`, "billing.stripe.webhook_secret"},
		{`webhook_secret: "ssm:/leadrelay/stripe/whsec"}`, `webhook_secret: "ssm:/leadrelay/stripe/whsec", currency: USD}`, "billing.stripe.currency"},
		{`mode: prepaid`, `mode: postpaid`, "buyers[0].billing.mode"},
		{`stripe_customer: cus_Acme1`, `stripe_customer: acme`, "buyers[0].billing.stripe_customer"},
		{`mode: invoice, stripe_customer: cus_Big2`, `mode: invoice`, "buyers[1].billing.stripe_customer"},
		{`below: 50.00`, `below: 0`, "buyers[0].billing.auto_recharge.below"},
		{`amount: 200.00}`, `amount: 0.10}`, "buyers[0].billing.auto_recharge.amount"},
		{`mode: invoice, stripe_customer: cus_Big2}`, `mode: invoice, stripe_customer: cus_Big2, low_balance: 5.00}`, "buyers[1].billing.mode"},
		{`{mode: invoice, stripe_customer: cus_Big2}`, `{stripe_customer: cus_Big2}`, "buyers[1].billing.mode"},
		{`  stripe: {secret_key: "ssm:/leadrelay/stripe/key", webhook_secret: "ssm:/leadrelay/stripe/whsec"}`, `  stripe:`, "buyers[0].billing.mode"},
	} {
		doc := strings.Replace(billingDoc, c.old, c.new, 1)
		_, err := Parse([]byte(doc))
		var ce *Error
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s → %s: %v, want a problem at %s", c.old, c.new, err, c.field)
		}
		if err != nil && strings.Contains(err.Error(), "LiteralKey") {
			t.Errorf("the problem echoes the key: %v", err)
		}
	}
}
