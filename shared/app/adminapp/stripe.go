package adminapp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/conversions"
	"github.com/leadrelay/leadrelay/shared/settings"
	"github.com/leadrelay/leadrelay/shared/stripe"
)

// StripeTimeout bounds one request to Stripe's API.
const StripeTimeout = 20 * time.Second

// Stripe is the agency's Stripe account (admin.Billing): a stripe.Client
// at BaseURL whose secret key is billing.stripe.secret_key's ssm:
// reference, resolved by Refs on each use (Refs caches it), so that a
// rotated key is picked up without a deployment.
type Stripe struct {
	BaseURL string
	HTTP    *http.Client
	Refs    conversions.Refs
}

// NewStripe is the account at the settings' Stripe URL, its key read by
// refs.
func NewStripe(s settings.Settings, refs conversions.Refs) *Stripe {
	return &Stripe{BaseURL: s.StripeURL, HTTP: &http.Client{Timeout: StripeTimeout}, Refs: refs}
}

// client is a client with the account's key.
func (s *Stripe) client(ctx context.Context, acct *config.StripeBilling) (*stripe.Client, error) {
	if acct == nil {
		return nil, errors.New("billing.stripe is not configured")
	}
	if s.Refs == nil {
		return nil, errors.New("billing.stripe.secret_key: no parameter store to read it from")
	}
	key, err := s.Refs.Resolve(ctx, acct.SecretKey)
	if err != nil {
		return nil, fmt.Errorf("read billing.stripe.secret_key: %w", err)
	}
	return &stripe.Client{BaseURL: s.BaseURL, SecretKey: key, HTTP: s.HTTP}, nil
}

// MeterEvent reports a billing meter event (stripe.Client.MeterEvent).
func (s *Stripe) MeterEvent(ctx context.Context, acct *config.StripeBilling, ev stripe.MeterEvent) error {
	c, err := s.client(ctx, acct)
	if err != nil {
		return err
	}
	return c.MeterEvent(ctx, ev)
}

// CreateCheckoutSession opens a Checkout session
// (stripe.Client.CreateCheckoutSession).
func (s *Stripe) CreateCheckoutSession(ctx context.Context, acct *config.StripeBilling, in stripe.CheckoutInput) (*stripe.CheckoutSession, error) {
	c, err := s.client(ctx, acct)
	if err != nil {
		return nil, err
	}
	return c.CreateCheckoutSession(ctx, in)
}

// ChargeSaved charges a saved card off-session (stripe.Client.ChargeSaved).
func (s *Stripe) ChargeSaved(ctx context.Context, acct *config.StripeBilling, in stripe.ChargeInput) (*stripe.PaymentIntent, error) {
	c, err := s.client(ctx, acct)
	if err != nil {
		return nil, err
	}
	return c.ChargeSaved(ctx, in)
}

// CreditBalance credits a customer's invoice balance
// (stripe.Client.CreditBalance).
func (s *Stripe) CreditBalance(ctx context.Context, acct *config.StripeBilling, customer string, amount int64, currency, description, idempotencyKey string) error {
	c, err := s.client(ctx, acct)
	if err != nil {
		return err
	}
	return c.CreditBalance(ctx, customer, amount, currency, description, idempotencyKey)
}
