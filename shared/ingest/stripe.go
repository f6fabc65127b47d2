package ingest

import (
	"cmp"
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/leadrelay/leadrelay/shared/billing"
	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/money"
	"github.com/leadrelay/leadrelay/shared/stripe"
)

// StripeMaxBody bounds a Stripe event (a checkout session or payment
// intent with its metadata is a few KB).
const StripeMaxBody = 256 << 10

// Balances credits prepaid buyers' top-ups (store.TopUp): once per
// payment.
type Balances interface {
	TopUp(ctx context.Context, buyer, payment string, amount money.Amount, at time.Time) (bool, error)
}

func (h *Handler) stripeRoutes(m *httpapi.Mux) {
	m.Handle("POST /v1/integrations/stripe/webhook", func(ctx context.Context, req httpapi.Request, _ map[string]string) httpapi.Response {
		return h.stripeEvent(ctx, req)
	})
}

// stripeAnswer is what Stripe is answered (it keeps it in the event's
// delivery log, where an operator reads it).
type stripeAnswer struct {
	Status  string       `json:"status"` // credited, already_credited, ignored
	Buyer   string       `json:"buyer,omitempty"`
	Amount  money.Amount `json:"amount,omitempty"`
	Payment string       `json:"payment,omitempty"`
	Reason  string       `json:"reason,omitempty"`
}

// stripeEvent takes Stripe's webhook: the signature (Stripe-Signature,
// under billing.stripe.webhook_secret) and its timestamp's age are checked
// before the event is read; a paid top-up — checkout.session.completed (or
// its async_payment_succeeded) of a Checkout session, or
// payment_intent.succeeded of an automatic recharge — is credited to the
// buyer its metadata names, once per PaymentIntent however many events
// and deliveries tell of it. Events LeadRelay has no use for, and top-ups
// it cannot credit (an unknown buyer, another currency), are answered 200
// with the reason (and the latter logged as errors): Stripe would only
// deliver them again. A failure to record answers 503, and Stripe tries
// again.
func (h *Handler) stripeEvent(ctx context.Context, req httpapi.Request) httpapi.Response {
	body, refused := httpapi.BodyWithin(req, StripeMaxBody, "a Stripe event")
	if refused != nil {
		return *refused
	}
	ix, refused := h.index(ctx)
	if refused != nil {
		return *refused
	}
	sb := ix.Config.Billing.Stripe
	if sb == nil || h.PageTokens == nil || h.Balances == nil {
		return httpapi.Error(http.StatusServiceUnavailable, "not_configured", "Stripe billing is not configured (billing.stripe)")
	}
	secret, err := h.PageTokens.Resolve(ctx, sb.WebhookSecret)
	if err != nil {
		h.Log.ErrorContext(ctx, "read the Stripe webhook secret", "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "the event cannot be verified now; retry")
	}
	if err := stripe.VerifySignature(body, httpapi.Header(req, stripe.SignatureHeader), secret, h.Now(), 0); err != nil {
		return httpapi.Fields(http.StatusBadRequest, "invalid_signature", "the event's signature does not verify; nothing was changed",
			[]httpapi.FieldProblem{{Field: stripe.SignatureHeader, Code: stripe.SignatureErrorCode(err), Message: err.Error()}})
	}
	ev, err := stripe.ParseEvent(body)
	if err != nil {
		return httpapi.Error(http.StatusBadRequest, "invalid_json", "the body is not a Stripe event: %v", err)
	}
	log := h.Log.With("stripe_event", ev.ID, "type", ev.Type)
	top, why := topUpOf(ev)
	if why != "" {
		return httpapi.JSON(http.StatusOK, stripeAnswer{Status: "ignored", Reason: why})
	}
	if reason := checkTopUp(ix, sb, top); reason != "" {
		log.ErrorContext(ctx, "a Stripe payment that cannot be credited", "buyer", top.buyer, "payment", top.payment, "reason", reason)
		return httpapi.JSON(http.StatusOK, stripeAnswer{Status: "ignored", Buyer: top.buyer, Payment: top.payment, Reason: reason})
	}
	applied, err := h.Balances.TopUp(ctx, top.buyer, top.payment, top.amount, time.Unix(ev.Created, 0).UTC())
	if err != nil {
		log.ErrorContext(ctx, "credit a top-up", "buyer", top.buyer, "payment", top.payment, "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "the top-up could not be recorded; retry")
	}
	status := "credited"
	if !applied {
		status = "already_credited"
	}
	log.InfoContext(ctx, "prepaid balance topped up", "buyer", top.buyer, "payment", top.payment, "amount", top.amount.Decimal(), "status", status)
	return httpapi.JSON(http.StatusOK, stripeAnswer{Status: status, Buyer: top.buyer, Amount: top.amount, Payment: top.payment})
}

// topUp is a payment an event tells of.
type topUp struct {
	buyer, customer, payment, currency string
	amount                             money.Amount
}

// topUpOf reads the paid top-up an event tells of, or why it is none.
func topUpOf(ev *stripe.Event) (topUp, string) {
	switch ev.Type {
	case "checkout.session.completed", "checkout.session.async_payment_succeeded":
		cs, err := ev.CheckoutSession()
		switch {
		case err != nil:
			return topUp{}, "not a checkout session: " + err.Error()
		case cs.Metadata[billing.MetaBuyer] == "":
			return topUp{}, "not a LeadRelay top-up (no " + billing.MetaBuyer + " metadata)"
		case cs.PaymentStatus != "paid":
			return topUp{}, "not paid yet (payment_status " + cs.PaymentStatus + "): credited when it is"
		}
		// Keyed by its PaymentIntent, as the intent's own event is.
		return topUp{buyer: cs.Metadata[billing.MetaBuyer], customer: cs.Customer, payment: cmp.Or(cs.PaymentIntent, cs.ID),
			currency: cs.Currency, amount: money.Amount(cs.AmountTotal)}, ""
	case "payment_intent.succeeded":
		pi, err := ev.PaymentIntent()
		switch {
		case err != nil:
			return topUp{}, "not a payment intent: " + err.Error()
		case pi.Metadata[billing.MetaBuyer] == "":
			return topUp{}, "not a LeadRelay top-up (no " + billing.MetaBuyer + " metadata)"
		}
		return topUp{buyer: pi.Metadata[billing.MetaBuyer], customer: pi.Customer, payment: pi.ID, currency: pi.Currency, amount: money.Amount(pi.AmountReceived)}, ""
	}
	return topUp{}, "event type " + ev.Type + " is not used"
}

// checkTopUp says why a top-up cannot be credited, or "".
func checkTopUp(ix *config.Index, sb *config.StripeBilling, t topUp) string {
	b := ix.Buyer(t.buyer)
	switch {
	case b == nil:
		return "no buyer " + t.buyer
	case !b.Prepaid():
		return "buyer " + t.buyer + " is not prepaid"
	case t.customer != "" && t.customer != b.Billing.StripeCustomer:
		return "the payment's customer " + t.customer + " is not buyer " + t.buyer + "'s"
	case !strings.EqualFold(t.currency, sb.CurrencyCode()):
		return "paid in " + t.currency + ", balances are in " + sb.CurrencyCode()
	case t.amount <= 0:
		return "nothing was paid"
	}
	return ""
}
