package config

import (
	"fmt"
	"regexp"

	"github.com/leadrelay/leadrelay/shared/money"
)

// Billing modes of a buyer.
const (
	// BillingPrepaid: the buyer prepays a balance that each lead it buys
	// draws down; a buyer whose balance cannot pay for a lead is not
	// offered it.
	BillingPrepaid = "prepaid"
	// BillingInvoice: each sale is reported to Stripe as a billing meter
	// event, and Stripe invoices the buyer for the period.
	BillingInvoice = "invoice"
)

// DefaultMeterEvent is the Stripe billing meter event name of invoiced
// sales unless billing.stripe.meter_event says otherwise.
const DefaultMeterEvent = "leadrelay_lead"

// Billing is how the agency bills its buyers through Stripe.
type Billing struct {
	Stripe *StripeBilling `yaml:"stripe,omitempty" json:"stripe,omitempty"`
}

// StripeBilling is the agency's Stripe account.
type StripeBilling struct {
	// SecretKey is the account's secret (or restricted) API key, always an
	// ssm: reference (a secret field resolved on use).
	SecretKey string `yaml:"secret_key" json:"secret_key"`
	// WebhookSecret is the signing secret (whsec_…) of the webhook
	// endpoint POST /v1/integrations/stripe/webhook, always an ssm:
	// reference.
	WebhookSecret string `yaml:"webhook_secret" json:"webhook_secret"`
	// Currency is the currency of balances and charges (ISO code, lower
	// case; default usd). Leads are priced in it.
	Currency string `yaml:"currency,omitempty" json:"currency,omitempty"`
	// MeterEvent is the event name of the billing meter invoiced sales
	// are reported to (default DefaultMeterEvent). The meter sums the
	// events' values, in cents.
	MeterEvent string `yaml:"meter_event,omitempty" json:"meter_event,omitempty"`
	// SuccessURL and CancelURL are where Stripe Checkout sends a buyer
	// after paying a top-up, or giving up.
	SuccessURL string `yaml:"success_url,omitempty" json:"success_url,omitempty"`
	CancelURL  string `yaml:"cancel_url,omitempty" json:"cancel_url,omitempty"`
}

// CurrencyCode is the billing currency, usd unless set.
func (s *StripeBilling) CurrencyCode() string {
	if s == nil || s.Currency == "" {
		return "usd"
	}
	return s.Currency
}

// MeterEventName is the meter's event name.
func (s *StripeBilling) MeterEventName() string {
	if s == nil || s.MeterEvent == "" {
		return DefaultMeterEvent
	}
	return s.MeterEvent
}

// BuyerBilling is how one buyer pays.
type BuyerBilling struct {
	// Mode is BillingPrepaid or BillingInvoice; empty: the buyer is not
	// billed through LeadRelay.
	Mode string `yaml:"mode,omitempty" json:"mode,omitempty"`
	// StripeCustomer is the buyer's customer in Stripe (cus_…).
	StripeCustomer string `yaml:"stripe_customer,omitempty" json:"stripe_customer,omitempty"`
	// LowBalance, for a prepaid buyer, is the balance under which the
	// buyer's notify.slack_url (and the agency's feedback.slack_url) is
	// told that it runs low; an empty balance is always told.
	LowBalance money.Amount `yaml:"low_balance,omitempty" json:"low_balance,omitempty"`
	// AutoRecharge, for a prepaid buyer, charges its saved card Amount
	// whenever the balance falls under Below.
	AutoRecharge *AutoRecharge `yaml:"auto_recharge,omitempty" json:"auto_recharge,omitempty"`
}

// AutoRecharge tops a prepaid balance up from the buyer's saved card.
type AutoRecharge struct {
	Below  money.Amount `yaml:"below" json:"below"`
	Amount money.Amount `yaml:"amount" json:"amount"`
}

// Prepaid reports whether the buyer prepays.
func (b *Buyer) Prepaid() bool { return b != nil && b.Billing.Mode == BillingPrepaid }

// Invoiced reports whether the buyer is invoiced through Stripe.
func (b *Buyer) Invoiced() bool { return b != nil && b.Billing.Mode == BillingInvoice }

var (
	stripeCustomerID = regexp.MustCompile(`^cus_[A-Za-z0-9]+$`)
	meterEventName   = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}$`)
	currencyCode     = regexp.MustCompile(`^[a-z]{3}$`)
)

// billing checks the Stripe account and each buyer's billing: a billed
// buyer needs the account and its customer; thresholds are positive.
func (k *checker) billing(c *Config) {
	s := c.Billing.Stripe
	if s != nil {
		for _, f := range []struct{ name, v, what string }{
			{"secret_key", s.SecretKey, "the Stripe secret key"},
			{"webhook_secret", s.WebhookSecret, "the webhook endpoint's signing secret (whsec_…)"},
		} {
			p := "billing.stripe." + f.name
			switch {
			case f.v == "":
				k.add(p, CodeRequired, "%s is required: an ssm:/leadrelay/... reference to the SSM SecureString parameter holding %s", f.name, f.what)
			case !IsSecretRef(f.v):
				k.add(p, CodeInvalid, "%s must be an ssm:/leadrelay/... reference to an SSM SecureString parameter holding %s, never the value itself", f.name, f.what)
			}
		}
		if s.Currency != "" && !currencyCode.MatchString(s.Currency) {
			k.add("billing.stripe.currency", CodeInvalid, "currency %q: want a lower-case ISO 4217 code such as usd", s.Currency)
		}
		if s.MeterEvent != "" && !meterEventName.MatchString(s.MeterEvent) {
			k.add("billing.stripe.meter_event", CodeInvalid, "meter_event must be the billing meter's event name: letters, digits, _ . -")
		}
		k.url("billing.stripe.success_url", s.SuccessURL, false)
		k.url("billing.stripe.cancel_url", s.CancelURL, false)
	}
	for i := range c.Buyers {
		b := &c.Buyers[i]
		bb := b.Billing
		p := fmt.Sprintf("buyers[%d].billing", i)
		switch bb.Mode {
		case "":
			if bb.StripeCustomer != "" || bb.LowBalance != 0 || bb.AutoRecharge != nil {
				k.add(p+".mode", CodeRequired, "billing settings without a mode: set mode to prepaid or invoice")
			}
			continue
		case BillingPrepaid, BillingInvoice:
		default:
			k.add(p+".mode", CodeInvalid, "billing mode %q: want prepaid or invoice", bb.Mode)
			continue
		}
		if s == nil {
			k.add(p+".mode", CodeReference, "a billed buyer needs the agency's Stripe account: set billing.stripe")
		}
		switch {
		case bb.StripeCustomer == "":
			k.add(p+".stripe_customer", CodeRequired, "stripe_customer is required: the buyer's customer id in Stripe (cus_…)")
		case !stripeCustomerID.MatchString(bb.StripeCustomer):
			k.add(p+".stripe_customer", CodeInvalid, "stripe_customer %q: want a Stripe customer id (cus_…)", bb.StripeCustomer)
		}
		if bb.Mode == BillingInvoice {
			if bb.LowBalance != 0 || bb.AutoRecharge != nil {
				k.add(p+".mode", CodeInvalid, "low_balance and auto_recharge are for prepaid buyers; an invoiced buyer has no balance")
			}
			continue
		}
		if bb.LowBalance < 0 {
			k.add(p+".low_balance", CodeInvalid, "low_balance must not be negative")
		}
		if ar := bb.AutoRecharge; ar != nil {
			if ar.Below <= 0 {
				k.add(p+".auto_recharge.below", CodeInvalid, "below must be a positive amount: the balance that triggers a recharge")
			}
			if ar.Amount < 50 {
				k.add(p+".auto_recharge.amount", CodeInvalid, "amount must be at least 0.50 (Stripe's smallest charge)")
			}
		}
	}
}
