// Package stripe is the small part of Stripe's API that buyer billing
// needs, over plain HTTP with the standard library (stripe-go would weigh
// on every function's cold start): webhook signature verification and
// event decoding, billing meter events for invoiced buyers, Checkout
// Sessions and off-session charges of a saved card for prepaid buyers,
// and customer balance credits for returns of invoiced buyers.
//
// Requests are form-encoded with Stripe's bracket notation for nested
// parameters (metadata[key]=value), authenticated with the secret key as
// a bearer token, and every POST carries an Idempotency-Key derived from
// the caller's input, so a retried call (by this package, by a queue
// redelivery, or by a Lambda retry) never charges, credits or bills
// twice. The secret key never appears in an error.
//
// The package holds no global state. Tests point Client.BaseURL at the
// fake in the stripefake subpackage.
package stripe

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultBaseURL is Stripe's production API.
const DefaultBaseURL = "https://api.stripe.com"

// DefaultMaxTries is how many times a request is tried when Client.MaxTries
// is 0: the first try and two retries, as Stripe's own libraries do.
const DefaultMaxTries = 3

// MaxRetryWait is the longest wait between tries this package accepts. A
// Retry-After beyond it ends the retries and returns the error: the
// caller (a queue redelivery, with the same idempotency key) is the better
// place to wait that long inside a Lambda's time limit.
const MaxRetryWait = 5 * time.Second

// defaultTimeout bounds one call when Client.HTTP is nil.
const defaultTimeout = 30 * time.Second

// maxResponse bounds a response body read into memory.
const maxResponse = 1 << 20

// Client calls Stripe's API. The zero value is not usable: set SecretKey.
// A Client is safe for concurrent use once its fields are set.
type Client struct {
	// BaseURL is the API's origin without a trailing path: DefaultBaseURL
	// when empty; tests use the URL of a fake on loopback.
	BaseURL string
	// SecretKey is the account's secret (or restricted) key, sk_… or
	// rk_…. It is sent only in the Authorization header and never appears
	// in an error.
	SecretKey string
	// HTTP sends the requests: an http.Client with a 30 s timeout when
	// nil. Per-call deadlines come from the context.
	HTTP *http.Client
	// APIVersion, when set, is sent as the Stripe-Version header; empty
	// uses the account's default version.
	APIVersion string
	// MaxTries is how many times a request may be tried in all:
	// DefaultMaxTries when 0, and 1 turns retries off.
	MaxTries int
	// Backoff is the wait before try attempt+1 after try attempt failed
	// (attempt counts from 1). Nil means exponential from 500 ms, capped at
	// 4 s, with jitter. A Retry-After from Stripe lengthens the wait.
	Backoff func(attempt int) time.Duration

	// sleep waits d or until ctx is done; nil means sleepContext. Tests set
	// it to record waits.
	sleep func(ctx context.Context, d time.Duration) error
}

// ErrNoSecretKey: the Client has no SecretKey.
var ErrNoSecretKey = errors.New("stripe: no secret key configured")

// Error is an answer from Stripe other than 2xx. Its fields come from
// Stripe's error object; none of them carries the secret key.
type Error struct {
	// Status is the HTTP status: 400 invalid request, 401 bad key, 402 a
	// card declined, 404 no such object, 409 conflict, 429 rate limited,
	// 5xx Stripe's fault.
	Status int
	// Type is Stripe's error.type: "api_error", "card_error",
	// "idempotency_error" or "invalid_request_error".
	Type string
	// Code is Stripe's error.code, such as "card_declined",
	// "resource_missing" or "parameter_missing"; it may be empty.
	Code string
	// DeclineCode is error.decline_code for a card decline, such as
	// "insufficient_funds".
	DeclineCode string
	// Param is the request parameter the error is about, if any.
	Param string
	// Message is Stripe's human-readable error.message.
	Message string
	// PaymentIntent is the ID of the PaymentIntent a card error is about
	// (Stripe creates it even when the charge is declined).
	PaymentIntent string
	// RequestID is Stripe's Request-Id, for Stripe's support.
	RequestID string
}

// Error renders the status, type, code and message.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d", e.Status)
	if e.Type != "" {
		b.WriteString(" " + e.Type)
	}
	if e.Code != "" {
		b.WriteString(" (" + e.Code)
		if e.DeclineCode != "" {
			b.WriteString(", " + e.DeclineCode)
		}
		b.WriteString(")")
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.RequestID != "" {
		b.WriteString(" [" + e.RequestID + "]")
	}
	return b.String()
}

// CardDeclined reports whether the error is a card error, such as a
// decline or an off-session charge that needs the cardholder.
func (e *Error) CardDeclined() bool {
	return e.Type == "card_error" || e.Status == http.StatusPaymentRequired
}

// NotFound reports whether the error says the object does not exist.
func (e *Error) NotFound() bool {
	return e.Status == http.StatusNotFound || e.Code == "resource_missing"
}

// MeterEvent is one usage event for a billing meter: for LeadRelay, one
// sale to an invoiced buyer.
type MeterEvent struct {
	// EventName is the meter's event_name.
	EventName string
	// Identifier makes the event unique (Stripe refuses a repeat for at
	// least 24 hours): the sale's ID. Required.
	Identifier string
	// Customer is the Stripe customer ID (payload[stripe_customer_id]).
	Customer string
	// Value is payload[value], e.g. the sale's price in cents for a meter
	// that sums.
	Value int64
	// Timestamp is when the sale happened (within Stripe's 35 days past and
	// 5 minutes future); zero lets Stripe use the time it receives the
	// event.
	Timestamp time.Time
}

// MeterEvent reports a meter event: POST /v1/billing/meter_events.
//
// A repeated Identifier is success: Stripe answers 400 for an identifier
// it has seen (code duplicate_meter_event, or, as observed on /v1, no code
// and a message saying an event already exists with that identifier), and
// that means the sale was billed already, so MeterEvent returns nil. Its
// Idempotency-Key is derived from the identifier and the request's
// parameters, so a retry with the same event replays Stripe's first answer
// and one whose parameters changed (say a new Timestamp) gets the
// duplicate answer above rather than an idempotency error.
func (c *Client) MeterEvent(ctx context.Context, ev MeterEvent) error {
	switch {
	case ev.EventName == "":
		return errors.New("stripe: meter event: no event name")
	case ev.Identifier == "":
		return errors.New("stripe: meter event: no identifier")
	case ev.Customer == "":
		return errors.New("stripe: meter event: no customer")
	}
	form := url.Values{}
	form.Set("event_name", ev.EventName)
	form.Set("identifier", ev.Identifier)
	form.Set("payload[stripe_customer_id]", ev.Customer)
	form.Set("payload[value]", strconv.FormatInt(ev.Value, 10))
	if !ev.Timestamp.IsZero() {
		form.Set("timestamp", strconv.FormatInt(ev.Timestamp.Unix(), 10))
	}
	sum := sha256.Sum256([]byte(form.Encode()))
	key := "meter_event:" + ev.Identifier + ":" + hex.EncodeToString(sum[:8])
	err := c.post(ctx, "/v1/billing/meter_events", form, key, nil)
	if err != nil {
		var se *Error
		if errors.As(err, &se) && duplicateMeterEvent(se) {
			return nil
		}
		return fmt.Errorf("stripe: meter event %s: %w", ev.Identifier, err)
	}
	return nil
}

// duplicateMeterEvent reports whether Stripe refused a meter event because
// its identifier was used already.
func duplicateMeterEvent(e *Error) bool {
	if e.Status != http.StatusBadRequest {
		return false
	}
	if e.Code == "duplicate_meter_event" {
		return true
	}
	m := strings.ToLower(e.Message)
	return strings.Contains(m, "identifier") &&
		(strings.Contains(m, "already exists") || strings.Contains(m, "already been submitted"))
}

// CheckoutInput is a one-off payment through a Stripe-hosted Checkout
// page, such as a prepaid buyer's top-up.
type CheckoutInput struct {
	// Customer is the buyer's Stripe customer ID; the card is saved to it.
	Customer string
	// Amount is in the currency's minor unit (cents); positive.
	Amount int64
	// Currency is an ISO code, any case.
	Currency string
	// SuccessURL and CancelURL are where Checkout sends the buyer back.
	SuccessURL string
	CancelURL  string
	// Description names the line item on the page and the receipt;
	// required.
	Description string
	// Metadata is copied to the session and to its PaymentIntent, so the
	// webhook of either can be tied back (e.g. buyer_id, topup_id).
	Metadata map[string]string
	// IdempotencyKey is required: the same key returns the same session
	// (for 24 hours, Stripe's idempotency window).
	IdempotencyKey string
}

// CreateCheckoutSession creates a payment-mode Checkout Session for one
// line item of in.Amount that saves the card for off-session charges
// (auto-recharge): POST /v1/checkout/sessions. Send the buyer to the
// returned session's URL; the payment is confirmed by the
// checkout.session.completed webhook, never by the redirect.
func (c *Client) CreateCheckoutSession(ctx context.Context, in CheckoutInput) (*CheckoutSession, error) {
	switch {
	case in.Customer == "":
		return nil, errors.New("stripe: create checkout session: no customer")
	case in.Amount <= 0:
		return nil, fmt.Errorf("stripe: create checkout session: amount %d is not positive", in.Amount)
	case in.Currency == "":
		return nil, errors.New("stripe: create checkout session: no currency")
	case in.SuccessURL == "":
		return nil, errors.New("stripe: create checkout session: no success URL")
	case in.Description == "":
		return nil, errors.New("stripe: create checkout session: no description")
	}
	form := url.Values{}
	form.Set("mode", "payment")
	form.Set("customer", in.Customer)
	form.Set("success_url", in.SuccessURL)
	if in.CancelURL != "" {
		form.Set("cancel_url", in.CancelURL)
	}
	form.Set("line_items[0][quantity]", "1")
	form.Set("line_items[0][price_data][currency]", strings.ToLower(in.Currency))
	form.Set("line_items[0][price_data][unit_amount]", strconv.FormatInt(in.Amount, 10))
	form.Set("line_items[0][price_data][product_data][name]", in.Description)
	form.Set("payment_intent_data[setup_future_usage]", "off_session")
	form.Set("payment_intent_data[description]", in.Description)
	if err := setMetadata(form, "metadata", in.Metadata); err != nil {
		return nil, fmt.Errorf("stripe: create checkout session: %w", err)
	}
	if err := setMetadata(form, "payment_intent_data[metadata]", in.Metadata); err != nil {
		return nil, fmt.Errorf("stripe: create checkout session: %w", err)
	}
	var s CheckoutSession
	if err := c.post(ctx, "/v1/checkout/sessions", form, in.IdempotencyKey, &s); err != nil {
		return nil, fmt.Errorf("stripe: create checkout session: %w", err)
	}
	return &s, nil
}

// ChargeInput is an off-session charge of a customer's saved card, such as
// a prepaid buyer's auto-recharge.
type ChargeInput struct {
	Customer string
	// PaymentMethod is the card to charge; empty means the customer's
	// default: invoice_settings.default_payment_method, else the newest
	// card saved to the customer, else the legacy default source.
	PaymentMethod string
	// Amount is in the currency's minor unit (cents); positive.
	Amount   int64
	Currency string
	Metadata map[string]string
	// IdempotencyKey is required: the same key never charges twice.
	IdempotencyKey string
}

// ErrNoPaymentMethod: ChargeSaved found no saved card for the customer.
var ErrNoPaymentMethod = errors.New("stripe: customer has no saved payment method")

// ChargeSaved charges a saved card off-session, confirming at once:
// POST /v1/payment_intents with confirm=true and off_session=true. A
// decline, or a card that needs the cardholder present, is an *Error with
// Status 402 (CardDeclined) whose PaymentIntent names the failed intent.
// A returned PaymentIntent may still be PaymentIntentProcessing; money has
// arrived only when its Status is PaymentIntentSucceeded (confirmed again
// by the payment_intent.succeeded webhook).
func (c *Client) ChargeSaved(ctx context.Context, in ChargeInput) (*PaymentIntent, error) {
	switch {
	case in.Customer == "":
		return nil, errors.New("stripe: charge saved card: no customer")
	case in.Amount <= 0:
		return nil, fmt.Errorf("stripe: charge saved card: amount %d is not positive", in.Amount)
	case in.Currency == "":
		return nil, errors.New("stripe: charge saved card: no currency")
	case in.IdempotencyKey == "":
		return nil, errors.New("stripe: charge saved card: no idempotency key")
	}
	pm := in.PaymentMethod
	if pm == "" {
		var err error
		if pm, err = c.defaultPaymentMethod(ctx, in.Customer); err != nil {
			return nil, fmt.Errorf("stripe: charge saved card of %s: %w", in.Customer, err)
		}
	}
	form := url.Values{}
	form.Set("amount", strconv.FormatInt(in.Amount, 10))
	form.Set("currency", strings.ToLower(in.Currency))
	form.Set("customer", in.Customer)
	if pm != "" {
		form.Set("payment_method", pm)
	}
	form.Set("confirm", "true")
	form.Set("off_session", "true")
	if err := setMetadata(form, "metadata", in.Metadata); err != nil {
		return nil, fmt.Errorf("stripe: charge saved card: %w", err)
	}
	var p PaymentIntent
	if err := c.post(ctx, "/v1/payment_intents", form, in.IdempotencyKey, &p); err != nil {
		return nil, fmt.Errorf("stripe: charge saved card of %s: %w", in.Customer, err)
	}
	return &p, nil
}

// defaultPaymentMethod is the card ChargeSaved uses when given none; ""
// with a nil error means the customer's legacy default source, which
// Stripe uses when a PaymentIntent names no payment method.
func (c *Client) defaultPaymentMethod(ctx context.Context, customer string) (string, error) {
	cu, err := c.Customer(ctx, customer)
	if err != nil {
		return "", err
	}
	if cu.Deleted {
		return "", fmt.Errorf("customer %s is deleted", customer)
	}
	if cu.DefaultPaymentMethod != "" {
		return cu.DefaultPaymentMethod, nil
	}
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	q := url.Values{"type": {"card"}, "limit": {"1"}}
	if err := c.get(ctx, "/v1/customers/"+url.PathEscape(customer)+"/payment_methods?"+q.Encode(), &list); err != nil {
		return "", fmt.Errorf("list payment methods: %w", err)
	}
	if len(list.Data) > 0 && list.Data[0].ID != "" {
		return list.Data[0].ID, nil
	}
	if cu.DefaultSource != "" {
		return "", nil
	}
	return "", ErrNoPaymentMethod
}

// CreditBalance credits amount (positive, in the minor unit) to a
// customer's invoice balance, which Stripe deducts from the customer's
// next invoice: POST /v1/customers/{id}/balance_transactions with the
// amount negated (a negative balance transaction is a credit). It is how a
// return of an invoiced buyer's lead is refunded. idempotencyKey is
// required: the same key never credits twice.
func (c *Client) CreditBalance(ctx context.Context, customer string, amount int64, currency, description, idempotencyKey string) error {
	switch {
	case customer == "":
		return errors.New("stripe: credit balance: no customer")
	case amount <= 0:
		return fmt.Errorf("stripe: credit balance: amount %d is not positive", amount)
	case currency == "":
		return errors.New("stripe: credit balance: no currency")
	}
	form := url.Values{}
	form.Set("amount", strconv.FormatInt(-amount, 10))
	form.Set("currency", strings.ToLower(currency))
	if description != "" {
		form.Set("description", description)
	}
	path := "/v1/customers/" + url.PathEscape(customer) + "/balance_transactions"
	if err := c.post(ctx, path, form, idempotencyKey, nil); err != nil {
		return fmt.Errorf("stripe: credit balance of %s: %w", customer, err)
	}
	return nil
}

// Customer fetches a customer: GET /v1/customers/{id}. An unknown ID is
// an *Error whose NotFound is true; a deleted customer is returned with
// Deleted set.
func (c *Client) Customer(ctx context.Context, id string) (*Customer, error) {
	if id == "" {
		return nil, errors.New("stripe: get customer: no ID")
	}
	var cu Customer
	if err := c.get(ctx, "/v1/customers/"+url.PathEscape(id), &cu); err != nil {
		return nil, fmt.Errorf("stripe: get customer %s: %w", id, err)
	}
	return &cu, nil
}

// setMetadata sets prefix[key]=value for each pair of m. Stripe refuses
// metadata keys with square brackets, and so does setMetadata, before any
// request.
func setMetadata(form url.Values, prefix string, m map[string]string) error {
	for k, v := range m {
		if k == "" || strings.ContainsAny(k, "[]") {
			return fmt.Errorf("metadata key %q: empty or has square brackets", k)
		}
		form.Set(prefix+"["+k+"]", v)
	}
	return nil
}

func (c *Client) post(ctx context.Context, path string, form url.Values, idempotencyKey string, out any) error {
	switch {
	case idempotencyKey == "":
		return errors.New("no idempotency key")
	case len(idempotencyKey) > 255:
		return fmt.Errorf("idempotency key of %d bytes, over Stripe's 255", len(idempotencyKey))
	}
	return c.do(ctx, http.MethodPost, path, form.Encode(), idempotencyKey, out)
}

func (c *Client) get(ctx context.Context, path string, out any) error {
	return c.do(ctx, http.MethodGet, path, "", "", out)
}

// do sends a request, retrying it with the same body and Idempotency-Key
// on a network error, a 409, a 429 or a 5xx, unless Stripe-Should-Retry
// says otherwise, and decodes a 2xx answer into out (when not nil).
func (c *Client) do(ctx context.Context, method, path, body, idempotencyKey string, out any) error {
	if c.SecretKey == "" {
		return ErrNoSecretKey
	}
	base := strings.TrimRight(c.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	tries := c.MaxTries
	if tries <= 0 {
		tries = DefaultMaxTries
	}
	for attempt := 1; ; attempt++ {
		status, header, data, err := c.once(ctx, method, base+path, body, idempotencyKey)
		var retry bool
		var after time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return fmt.Errorf("%s %s: %w", method, path, ctx.Err())
			}
			err = fmt.Errorf("%s %s: %w", method, path, c.redactErr(err))
			retry = true
		case status >= 200 && status < 300:
			if out == nil {
				return nil
			}
			if err := json.Unmarshal(data, out); err != nil {
				return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
			}
			return nil
		default:
			se := c.parseError(status, header, data)
			err = se
			retry, after = retryable(status, header, se)
		}
		if !retry || attempt >= tries {
			if attempt > 1 {
				return fmt.Errorf("after %d tries: %w", attempt, err)
			}
			return err
		}
		wait := c.backoff(attempt)
		if after > MaxRetryWait {
			return fmt.Errorf("retry-after %s is too long to wait: %w", after, err)
		}
		wait = max(wait, after)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return fmt.Errorf("no time left to retry: %w", err)
		}
		sleep := c.sleep
		if sleep == nil {
			sleep = sleepContext
		}
		if serr := sleep(ctx, wait); serr != nil {
			return fmt.Errorf("%w (while waiting to retry: %w)", err, serr)
		}
	}
}

// once sends one try. A status without a transport error is an answer.
func (c *Client) once(ctx context.Context, method, u, body, idempotencyKey string) (int, http.Header, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.SecretKey)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "leadrelay-stripe/1")
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Idempotency-Key", idempotencyKey)
	}
	if c.APIVersion != "" {
		req.Header.Set("Stripe-Version", c.APIVersion)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: defaultTimeout}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		// The answer was cut short: as uncertain as no answer.
		return 0, nil, nil, fmt.Errorf("read answer (status %d): %w", resp.StatusCode, err)
	}
	return resp.StatusCode, resp.Header, data, nil
}

// retryable reports whether a non-2xx answer may succeed if tried again,
// and how long Stripe asks to wait first (0 if it does not say).
func retryable(status int, h http.Header, e *Error) (bool, time.Duration) {
	after := retryAfter(h.Get("Retry-After"))
	switch h.Get("Stripe-Should-Retry") {
	case "true":
		return true, after
	case "false":
		return false, after
	}
	switch {
	case status == http.StatusConflict:
		// A lock timeout on the object; but a key reused with other
		// parameters will not get better.
		return e.Type != "idempotency_error", after
	case status == http.StatusTooManyRequests, status >= 500:
		return true, after
	}
	return false, after
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// backoff is the wait before try attempt+1.
func (c *Client) backoff(attempt int) time.Duration {
	if c.Backoff != nil {
		return max(c.Backoff(attempt), 0)
	}
	d := min(500*time.Millisecond<<min(attempt-1, 4), 4*time.Second)
	// Equal jitter: half fixed, half random, so tries spread out but
	// still wait.
	return d/2 + rand.N(d/2+1)
}

func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// parseError builds the *Error of a non-2xx answer, whatever its body.
func (c *Client) parseError(status int, h http.Header, data []byte) *Error {
	var body struct {
		Error struct {
			Type          string     `json:"type"`
			Code          string     `json:"code"`
			DeclineCode   string     `json:"decline_code"`
			Param         string     `json:"param"`
			Message       string     `json:"message"`
			PaymentIntent expandable `json:"payment_intent"`
		} `json:"error"`
	}
	e := &Error{Status: status, RequestID: h.Get("Request-Id")}
	if err := json.Unmarshal(data, &body); err == nil {
		b := body.Error
		e.Type, e.Code, e.DeclineCode, e.Param = b.Type, b.Code, b.DeclineCode, b.Param
		e.Message, e.PaymentIntent = b.Message, string(b.PaymentIntent)
	} else {
		msg := strings.TrimSpace(string(data))
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		if msg == "" {
			msg = http.StatusText(status)
		}
		e.Message = msg
	}
	for _, p := range []*string{&e.Type, &e.Code, &e.DeclineCode, &e.Param, &e.Message, &e.PaymentIntent, &e.RequestID} {
		*p = c.redact(*p)
	}
	return e
}

// redact removes the secret key from s.
func (c *Client) redact(s string) string {
	if c.SecretKey == "" || !strings.Contains(s, c.SecretKey) {
		return s
	}
	return strings.ReplaceAll(s, c.SecretKey, "[redacted]")
}

// redactErr is err, or a plain error of its redacted text when its text
// holds the secret key (so that unwrapping cannot reach the key either).
func (c *Client) redactErr(err error) error {
	if c.SecretKey == "" || !strings.Contains(err.Error(), c.SecretKey) {
		return err
	}
	return errors.New(c.redact(err.Error()))
}
