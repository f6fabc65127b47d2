package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/leadrelay/leadrelay/shared/billing"
	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/money"
	"github.com/leadrelay/leadrelay/shared/store"
	"github.com/leadrelay/leadrelay/shared/stripe"
)

// Balances are the prepaid buyers' balances (store.Balance and the rest).
type Balances interface {
	Balance(ctx context.Context, buyer string) (store.Balance, error)
	TopUp(ctx context.Context, buyer, payment string, amount money.Amount, at time.Time) (bool, error)
	MarkBalanceNotice(ctx context.Context, buyer, level string) (bool, error)
	StartRecharge(ctx context.Context, buyer string, now time.Time, stale time.Duration) (int64, bool, error)
}

// ChargeQueue is the invoiced buyers' charges: queued with their sales
// and returns, claimed and reported to Stripe by the billing task, and
// read back by period for the statement (store.ClaimCharges and the rest).
type ChargeQueue interface {
	ClaimCharges(ctx context.Context, run string, limit int, lease time.Duration) ([]lead.Charge, error)
	ChargeSent(ctx context.Context, run string, c lead.Charge, at time.Time) error
	ChargeFailed(ctx context.Context, run string, c lead.Charge, why string) error
	Charges(ctx context.Context, buyer, period string) ([]lead.Charge, error)
}

// Billing is the agency's Stripe account (billing.stripe), its secret
// key's ssm: reference resolved on use (adminapp.Stripe).
type Billing interface {
	MeterEvent(ctx context.Context, acct *config.StripeBilling, ev stripe.MeterEvent) error
	CreateCheckoutSession(ctx context.Context, acct *config.StripeBilling, in stripe.CheckoutInput) (*stripe.CheckoutSession, error)
	ChargeSaved(ctx context.Context, acct *config.StripeBilling, in stripe.ChargeInput) (*stripe.PaymentIntent, error)
	CreditBalance(ctx context.Context, acct *config.StripeBilling, customer string, amount int64, currency, description, idempotencyKey string) error
}

// Refs resolves ssm: references to their values (the wiring's
// secret.Refs): a buyer's notify.slack_url may be one.
type Refs interface {
	Resolve(ctx context.Context, reference string) (string, error)
}

// Top-up bounds: Stripe's smallest charge (in dollars, euros, pounds) and
// its largest amount of a payment.
const (
	minTopUp money.Amount = 50
	maxTopUp money.Amount = 99_999_999
)

func (h *Handler) billingRoutes(m *httpapi.Mux) {
	m.Handle("GET /v1/admin/buyers/{id}/balance", func(ctx context.Context, _ httpapi.Request, p map[string]string) httpapi.Response {
		return h.getBalance(ctx, p["id"])
	})
	m.Handle("POST /v1/admin/buyers/{id}/topup", func(ctx context.Context, req httpapi.Request, p map[string]string) httpapi.Response {
		return h.topUp(ctx, req, p["id"])
	})
	m.Handle("GET /v1/admin/buyers/{id}/billing", func(ctx context.Context, req httpapi.Request, p map[string]string) httpapi.Response {
		return h.statement(ctx, req, p["id"])
	})
}

// billedBuyer reads the configuration and finds the buyer, or the answer
// that refuses the request.
func (h *Handler) billedBuyer(ctx context.Context, id string) (*config.Index, *config.Buyer, *httpapi.Response) {
	c, err := h.Store.LoadConfig(ctx)
	if err != nil {
		h.Log.ErrorContext(ctx, "load config", "error", err)
		r := httpapi.Error(http.StatusServiceUnavailable, "unavailable", "retry")
		return nil, nil, &r
	}
	ix := config.NewIndex(c)
	b := ix.Buyer(id)
	if b == nil {
		r := httpapi.Error(http.StatusNotFound, "buyer_not_found", "no buyer %q", id)
		return nil, nil, &r
	}
	return ix, b, nil
}

// notPrepaid refuses a balance request for a buyer without a balance.
func notPrepaid(b *config.Buyer) httpapi.Response {
	mode := b.Billing.Mode
	if mode == "" {
		mode = "not billed through LeadRelay"
	}
	return httpapi.Error(http.StatusConflict, "not_prepaid", "buyer %s is not prepaid (billing.mode: %s): only prepaid buyers have a balance", b.ID, mode)
}

// BalanceView is a prepaid buyer's balance as the API shows it.
type BalanceView struct {
	Buyer    string       `json:"buyer"`
	Mode     string       `json:"mode"`
	Balance  money.Amount `json:"balance"`
	Funded   money.Amount `json:"funded"`
	Currency string       `json:"currency"`
	// LastTopUpAt is absent before the first top-up.
	LastTopUpAt  *time.Time           `json:"last_topup_at,omitempty"`
	LowBalance   money.Amount         `json:"low_balance"`
	AutoRecharge *config.AutoRecharge `json:"auto_recharge,omitempty"`
	// Notice is the notice the balance calls for: "low", "empty", or
	// absent (billing.Notice).
	Notice string `json:"notice,omitempty"`
}

// getBalance answers GET /v1/admin/buyers/{id}/balance: a prepaid buyer's
// balance, read strongly consistent.
func (h *Handler) getBalance(ctx context.Context, id string) httpapi.Response {
	ix, b, refused := h.billedBuyer(ctx, id)
	if refused != nil {
		return *refused
	}
	if !b.Prepaid() {
		return notPrepaid(b)
	}
	if h.Balances == nil {
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "balances are not configured in this deployment")
	}
	bal, err := h.Balances.Balance(ctx, b.ID)
	if err != nil {
		h.Log.ErrorContext(ctx, "read balance", "buyer", b.ID, "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "retry")
	}
	v := BalanceView{
		Buyer: b.ID, Mode: b.Billing.Mode, Balance: bal.Amount, Funded: bal.Funded,
		Currency: ix.Config.Billing.Stripe.CurrencyCode(), LowBalance: b.Billing.LowBalance,
		AutoRecharge: b.Billing.AutoRecharge, Notice: billing.Notice(b, bal.Amount),
	}
	if !bal.LastTopUp.IsZero() {
		t := bal.LastTopUp.UTC()
		v.LastTopUpAt = &t
	}
	return httpapi.JSON(http.StatusOK, v)
}

// TopUpLink is the answer to a top-up: the Checkout page to send the
// buyer to.
type TopUpLink struct {
	Buyer     string       `json:"buyer"`
	URL       string       `json:"url"`
	SessionID string       `json:"session_id"`
	Amount    money.Amount `json:"amount"`
	Currency  string       `json:"currency"`
}

// topUp answers POST /v1/admin/buyers/{id}/topup {"amount": 200.00}: a
// Stripe Checkout session of the amount for the buyer's customer, which
// saves the card for automatic recharges. The balance is credited when
// Stripe's webhook tells that the buyer paid, never here. The request's
// Idempotency-Key (or a new one) makes a retried request answer the same
// session.
func (h *Handler) topUp(ctx context.Context, req httpapi.Request, id string) httpapi.Response {
	ix, b, refused := h.billedBuyer(ctx, id)
	if refused != nil {
		return *refused
	}
	if !b.Prepaid() {
		return notPrepaid(b)
	}
	body, refused := httpapi.BodyWithin(req, 4<<10, "a top-up")
	if refused != nil {
		return *refused
	}
	amount, probs := decodeTopUp(body)
	key := strings.TrimSpace(httpapi.Header(req, "Idempotency-Key"))
	if len(key) > 200 {
		probs = append(probs, httpapi.FieldProblem{Field: "Idempotency-Key", Code: "invalid", Message: "an Idempotency-Key is at most 200 characters"})
	}
	if len(probs) > 0 {
		return httpapi.Fields(http.StatusBadRequest, "validation_failed", "the top-up is not valid; nothing was charged", probs)
	}
	acct := ix.Config.Billing.Stripe
	switch {
	case acct == nil || h.Billing == nil:
		return httpapi.Error(http.StatusConflict, "billing_not_configured", "Stripe billing is not configured: set billing.stripe")
	case acct.SuccessURL == "":
		return httpapi.Error(http.StatusConflict, "billing_not_configured", "set billing.stripe.success_url: where Stripe Checkout sends the buyer after paying")
	}
	if key == "" {
		key = newRunID()
	}
	cs, err := h.Billing.CreateCheckoutSession(ctx, acct, stripe.CheckoutInput{
		Customer: b.Billing.StripeCustomer, Amount: int64(amount), Currency: acct.CurrencyCode(),
		SuccessURL: acct.SuccessURL, CancelURL: acct.CancelURL,
		Description:    "LeadRelay balance top-up of " + b.ID,
		Metadata:       map[string]string{billing.MetaBuyer: b.ID, billing.MetaKind: billing.KindTopUp},
		IdempotencyKey: "topup:" + b.ID + ":" + key,
	})
	var se *stripe.Error
	switch {
	case errors.As(err, &se) && se.Type == "idempotency_error":
		return httpapi.Error(http.StatusConflict, "idempotency_conflict", "this Idempotency-Key was used for another top-up: use a new key")
	case err != nil && stripeTransient(err):
		h.Log.ErrorContext(ctx, "create a top-up checkout session", "buyer", b.ID, "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "Stripe could not be reached; retry with the same Idempotency-Key")
	case err != nil:
		h.Log.ErrorContext(ctx, "Stripe refused a top-up checkout session", "buyer", b.ID, "error", err)
		return httpapi.Error(http.StatusBadGateway, "stripe_refused", "Stripe refused the checkout session: %s", stripeMessage(err))
	}
	h.Log.InfoContext(ctx, "top-up checkout session created", "buyer", b.ID, "session", cs.ID, "amount", amount.Decimal())
	return httpapi.JSON(http.StatusCreated, TopUpLink{Buyer: b.ID, URL: cs.URL, SessionID: cs.ID, Amount: amount, Currency: acct.CurrencyCode()})
}

// decodeTopUp reads {"amount": 200.00}.
func decodeTopUp(body []byte) (money.Amount, []httpapi.FieldProblem) {
	var in struct {
		Amount json.RawMessage `json:"amount"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return 0, []httpapi.FieldProblem{{Field: "body", Code: "invalid", Message: `want JSON {"amount": 200.00}`}}
	}
	if len(in.Amount) == 0 || string(in.Amount) == "null" {
		return 0, []httpapi.FieldProblem{{Field: "amount", Code: "required", Message: "amount is required: what the buyer pays, such as 200.00"}}
	}
	var a money.Amount
	if err := json.Unmarshal(in.Amount, &a); err != nil {
		return 0, []httpapi.FieldProblem{{Field: "amount", Code: "invalid", Message: "amount must be a number with at most two decimals, such as 200.00"}}
	}
	switch {
	case a < minTopUp:
		return 0, []httpapi.FieldProblem{{Field: "amount", Code: "invalid", Message: fmt.Sprintf("amount must be at least %s (Stripe's smallest charge)", minTopUp)}}
	case a > maxTopUp:
		return 0, []httpapi.FieldProblem{{Field: "amount", Code: "invalid", Message: fmt.Sprintf("amount must be at most %s (Stripe's largest payment)", maxTopUp)}}
	}
	return a, nil
}

// Statuses of a charge on a statement.
const (
	chargeSent    = "sent"
	chargeFailed  = "failed"
	chargePending = "pending"
)

// Statement is an invoiced buyer's charges of a billing period.
type Statement struct {
	Buyer  string `json:"buyer"`
	Period string `json:"period"`
	// From and To are the period's first and last days, in the agency's
	// timezone: the P&L of those days (grouped by buyer) has the
	// statement's net as the buyer's revenue.
	From     string            `json:"from"`
	To       string            `json:"to"`
	Mode     string            `json:"mode"`
	Customer string            `json:"stripe_customer,omitempty"`
	Currency string            `json:"currency"`
	Charges  []StatementCharge `json:"charges"`
	Totals   StatementTotals   `json:"totals"`
}

// StatementCharge is one charge: sent to Stripe, refused by it (Failed
// says why), or pending (not reported yet).
type StatementCharge struct {
	ID     string       `json:"id"`
	Kind   string       `json:"kind"`
	LeadID string       `json:"lead_id"`
	Amount money.Amount `json:"amount"`
	At     time.Time    `json:"at"`
	Status string       `json:"status"`
	SentAt *time.Time   `json:"sent_at,omitempty"`
	Failed string       `json:"failed,omitempty"`
}

// StatementTotals add a statement up: net = sales_amount −
// credits_amount, whatever was sent; pending and failed count charges.
type StatementTotals struct {
	Sales         int          `json:"sales"`
	SalesAmount   money.Amount `json:"sales_amount"`
	Credits       int          `json:"credits"`
	CreditsAmount money.Amount `json:"credits_amount"`
	Net           money.Amount `json:"net"`
	Sent          int          `json:"sent"`
	Pending       int          `json:"pending"`
	Failed        int          `json:"failed"`
}

// statement answers GET /v1/admin/buyers/{id}/billing?period=YYYY-MM
// (default: the current period): what the buyer was billed and credited
// in the period, charge by charge, and whether Stripe has it.
func (h *Handler) statement(ctx context.Context, req httpapi.Request, id string) httpapi.Response {
	ix, b, refused := h.billedBuyer(ctx, id)
	if refused != nil {
		return *refused
	}
	period := strings.TrimSpace(req.QueryStringParameters["period"])
	if period == "" {
		period = billing.Period(ix, h.Now())
	}
	first, err := time.Parse("2006-01", period)
	if err != nil {
		return httpapi.Fields(http.StatusBadRequest, "validation_failed", "the statement query is not valid",
			[]httpapi.FieldProblem{{Field: "period", Code: "invalid", Message: fmt.Sprintf("period %q is not a month YYYY-MM", period)}})
	}
	if h.Charges == nil {
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "charges are not configured in this deployment")
	}
	charges, err := h.Charges.Charges(ctx, b.ID, period)
	if err != nil {
		h.Log.ErrorContext(ctx, "read charges", "buyer", b.ID, "period", period, "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "retry")
	}
	return httpapi.JSON(http.StatusOK, BuildStatement(ix, b, period, first, charges))
}

// BuildStatement lists a period's charges and adds them up.
func BuildStatement(ix *config.Index, b *config.Buyer, period string, first time.Time, charges []lead.Charge) Statement {
	st := Statement{
		Buyer: b.ID, Period: period, From: first.Format(time.DateOnly), To: first.AddDate(0, 1, -1).Format(time.DateOnly),
		Mode: b.Billing.Mode, Customer: b.Billing.StripeCustomer, Currency: ix.Config.Billing.Stripe.CurrencyCode(),
		Charges: make([]StatementCharge, 0, len(charges)),
	}
	t := &st.Totals
	for _, c := range charges {
		sc := StatementCharge{ID: c.ID, Kind: c.Kind, LeadID: c.LeadID, Amount: c.Amount, At: c.At.UTC(), Status: chargePending, Failed: c.Failed}
		switch {
		case !c.SentAt.IsZero():
			at := c.SentAt.UTC()
			sc.Status, sc.SentAt = chargeSent, &at
			t.Sent++
		case c.Failed != "":
			sc.Status = chargeFailed
			t.Failed++
		default:
			t.Pending++
		}
		switch c.Kind {
		case lead.ChargeSale:
			t.Sales++
			t.SalesAmount += c.Amount
		case lead.ChargeCredit:
			t.Credits++
			t.CreditsAmount += c.Amount
		}
		st.Charges = append(st.Charges, sc)
	}
	t.Net = t.SalesAmount - t.CreditsAmount
	return st
}

// stripeTransient reports whether a Stripe call may succeed later, the
// same call again: no answer, a lock (409), a rate limit, Stripe's own
// fault, or the key not readable now. A refused key (401, 403) is
// transient too: it is the account's fault, not the charge's, and the
// charge must wait until an operator fixes the key.
func stripeTransient(err error) bool {
	var se *stripe.Error
	if !errors.As(err, &se) {
		return !errors.Is(err, stripe.ErrNoPaymentMethod)
	}
	switch {
	case se.Status == http.StatusConflict:
		return se.Type != "idempotency_error"
	case se.Status == http.StatusUnauthorized, se.Status == http.StatusForbidden:
		return true
	}
	return se.Status == http.StatusTooManyRequests || se.Status >= 500
}

// stripeMessage is Stripe's reason for a refusal.
func stripeMessage(err error) string {
	var se *stripe.Error
	if errors.As(err, &se) {
		return se.Error()
	}
	return err.Error()
}
