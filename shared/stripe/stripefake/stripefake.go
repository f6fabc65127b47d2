// Package stripefake is a fake of the part of Stripe's API that package
// stripe calls, on loopback, for other packages' tests: it checks the
// secret key, records what it is asked to do, answers as Stripe does
// (including idempotent replay of a repeated Idempotency-Key and the 400
// for a repeated meter event identifier), and can be made to decline a
// customer's card or to fail the next requests to a path. It also builds
// and signs webhook events as Stripe does (see SignedEvent).
//
// Customers are implicit: any ID that starts with "cus_" exists, with one
// saved card, "pm_card_visa", that is not its invoice default (as after a
// Checkout that saved the card); SetCard changes that. Any other customer
// ID is unknown (resource_missing).
package stripefake

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/stripe"
)

// DefaultCard is the card every implicit customer has saved.
const DefaultCard = "pm_card_visa"

// Statuses for Fail that are not HTTP statuses.
const (
	// Drop closes the connection without answering and without
	// processing the request (the request never reached Stripe).
	Drop = -1
	// LoseAnswer processes the request, then closes the connection
	// without answering (Stripe did it, the caller cannot know).
	LoseAnswer = -2
)

// Server is a fake Stripe API. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL to give stripe.Client.BaseURL.
	URL string
	// SecretKey is the only key the server accepts.
	SecretKey string

	t   testing.TB
	srv *httptest.Server

	mu          sync.Mutex
	seq         int
	customers   map[string]*customer
	meterEvents []MeterEvent
	identifiers map[string]bool
	sessions    []CheckoutSession
	intents     []PaymentIntent
	balanceTxs  []BalanceTransaction
	requests    []Request
	failures    map[string][]int
	idempotent  map[string]*saved
}

type customer struct {
	card      string // saved card, "" for none
	isDefault bool   // card is invoice_settings.default_payment_method
	decline   bool
	balance   int64
	currency  string
}

// saved is a response kept for an Idempotency-Key.
type saved struct {
	method, path, body string
	status             int
	resp               []byte
}

// MeterEvent is a billing meter event the server accepted.
type MeterEvent struct {
	EventName  string
	Identifier string
	Customer   string
	Value      int64
	// Timestamp is the event's unix time (the time received when the
	// request named none).
	Timestamp int64
}

// CheckoutSession is a Checkout Session the server created.
type CheckoutSession struct {
	ID          string
	Customer    string
	Mode        string
	Amount      int64
	Currency    string
	Description string
	SuccessURL  string
	CancelURL   string
	// SetupFutureUsage is payment_intent_data[setup_future_usage].
	SetupFutureUsage string
	Metadata         map[string]string
	// PaymentIntentMetadata is payment_intent_data[metadata].
	PaymentIntentMetadata map[string]string
	// PaymentIntent is set once CompleteCheckout paid the session.
	PaymentIntent  string
	IdempotencyKey string
}

// PaymentIntent is a PaymentIntent the server created.
type PaymentIntent struct {
	ID            string
	Customer      string
	PaymentMethod string
	Amount        int64
	Currency      string
	// Status is "succeeded", or "requires_payment_method" after a decline.
	Status         string
	OffSession     bool
	Confirm        bool
	Metadata       map[string]string
	IdempotencyKey string
}

// BalanceTransaction is a customer balance transaction the server
// created; a negative Amount is a credit.
type BalanceTransaction struct {
	ID             string
	Customer       string
	Amount         int64
	Currency       string
	Description    string
	IdempotencyKey string
}

// Request is one request the server received, answered or not.
type Request struct {
	Method string
	Path   string
	Query  url.Values
	// Form is the decoded form body of a POST.
	Form           url.Values
	IdempotencyKey string
	// Status is the answer's status; Drop or LoseAnswer for none.
	Status int
	// Replayed says the answer was replayed for a repeated
	// Idempotency-Key.
	Replayed bool
}

// New starts a fake Stripe on loopback, closed when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		SecretKey:   "sk_test_fake_" + randomHex(12),
		t:           t,
		customers:   map[string]*customer{},
		identifiers: map[string]bool{},
		failures:    map[string][]int{},
		idempotent:  map[string]*saved{},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// Client is a stripe.Client for the server that retries without waiting.
func (s *Server) Client() *stripe.Client {
	return &stripe.Client{
		BaseURL:   s.URL,
		SecretKey: s.SecretKey,
		HTTP:      s.srv.Client(),
		Backoff:   func(int) time.Duration { return 0 },
	}
}

// Fail makes the next requests to path (such as "/v1/payment_intents")
// answer the given statuses, one request each, before the path works
// again: 429 and 5xx answer Stripe's error for them without processing the
// request; Drop and LoseAnswer close the connection, before or after
// processing it.
func (s *Server) Fail(path string, statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[path] = append(s.failures[path], statuses...)
}

// DeclineCard makes every charge of the customer's card answer 402
// card_declined (generic_decline) until AcceptCard.
func (s *Server) DeclineCard(customerID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.customer(customerID); c != nil {
		c.decline = true
	}
}

// AcceptCard undoes DeclineCard.
func (s *Server) AcceptCard(customerID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.customer(customerID); c != nil {
		c.decline = false
	}
}

// SetCard sets the customer's saved card ("" for none) and whether it is
// the customer's invoice_settings.default_payment_method.
func (s *Server) SetCard(customerID, paymentMethod string, isDefault bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.customer(customerID); c != nil {
		c.card, c.isDefault = paymentMethod, isDefault && paymentMethod != ""
	}
}

// Balance is the customer's invoice credit balance (negative is credit).
func (s *Server) Balance(customerID string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.customer(customerID); c != nil {
		return c.balance
	}
	return 0
}

// MeterEvents are the meter events accepted, in order; a refused repeat
// is not among them.
func (s *Server) MeterEvents() []MeterEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.meterEvents)
}

// CheckoutSessions are the sessions created, in order.
func (s *Server) CheckoutSessions() []CheckoutSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sessions)
}

// PaymentIntents are the PaymentIntents created (declined ones included),
// in order.
func (s *Server) PaymentIntents() []PaymentIntent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.intents)
}

// BalanceTransactions are the customer balance transactions created, in
// order.
func (s *Server) BalanceTransactions() []BalanceTransaction {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.balanceTxs)
}

// Requests are all requests received, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// CompleteCheckout pays an open session as a buyer would on Stripe's page:
// it creates the session's succeeded PaymentIntent with the customer's
// card and returns the session and the intent as Stripe would put them in
// checkout.session.completed and payment_intent.succeeded events (see
// SignedEvent). Completing a session again returns the same. An unknown
// session fails the test; call it from the test's goroutine.
func (s *Server) CompleteCheckout(sessionID string) (stripe.CheckoutSession, stripe.PaymentIntent) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.sessions, func(cs CheckoutSession) bool { return cs.ID == sessionID })
	if i < 0 {
		s.t.Fatalf("stripefake: no checkout session %q", sessionID)
	}
	cs := &s.sessions[i]
	if cs.PaymentIntent == "" {
		card := DefaultCard
		if c := s.customer(cs.Customer); c != nil && c.card != "" {
			card = c.card
		}
		s.intents = append(s.intents, PaymentIntent{
			ID: s.newID("pi"), Customer: cs.Customer, PaymentMethod: card,
			Amount: cs.Amount, Currency: cs.Currency, Status: stripe.PaymentIntentSucceeded,
			Confirm: true, Metadata: cs.PaymentIntentMetadata,
		})
		cs.PaymentIntent = s.intents[len(s.intents)-1].ID
	}
	pi := s.intents[slices.IndexFunc(s.intents, func(p PaymentIntent) bool { return p.ID == cs.PaymentIntent })]
	return stripe.CheckoutSession{
			ID: cs.ID, Customer: cs.Customer, AmountTotal: cs.Amount, Currency: cs.Currency,
			PaymentStatus: "paid", Status: "complete", Mode: cs.Mode, Metadata: cs.Metadata,
			PaymentIntent: cs.PaymentIntent,
		}, stripe.PaymentIntent{
			ID: pi.ID, Customer: pi.Customer, Amount: pi.Amount, AmountReceived: pi.Amount,
			Currency: pi.Currency, Status: pi.Status, PaymentMethod: pi.PaymentMethod, Metadata: pi.Metadata,
		}
}

// customer is the customer with the ID, created on first use, or nil if
// the ID is not a customer's. s.mu is held.
func (s *Server) customer(id string) *customer {
	if !strings.HasPrefix(id, "cus_") || len(id) == len("cus_") {
		return nil
	}
	c := s.customers[id]
	if c == nil {
		c = &customer{card: DefaultCard}
		s.customers[id] = c
	}
	return c
}

func (s *Server) newID(prefix string) string {
	s.seq++
	return fmt.Sprintf("%s_fake%06d", prefix, s.seq)
}

// answer is a status and a JSON body.
type answer struct {
	status int
	body   any
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	s.mu.Lock()
	defer s.mu.Unlock()
	req := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), IdempotencyKey: r.Header.Get("Idempotency-Key")}
	if r.Method == http.MethodPost {
		req.Form, _ = url.ParseQuery(string(raw))
	}
	s.requests = append(s.requests, req)
	rec := &s.requests[len(s.requests)-1]
	s.seq++
	w.Header().Set("Request-Id", fmt.Sprintf("req_fake%06d", s.seq))

	if a, ok := s.authenticate(r); !ok {
		rec.Status = a.status
		write(w, a)
		return
	}
	lose := false
	if f := s.failures[r.URL.Path]; len(f) > 0 {
		status := f[0]
		s.failures[r.URL.Path] = f[1:]
		switch status {
		case Drop:
			rec.Status = Drop
			hangUp(w)
			return
		case LoseAnswer:
			lose = true
		default:
			rec.Status = status
			write(w, failure(status))
			return
		}
	}

	var a answer
	key := req.IdempotencyKey
	if prev := s.idempotent[key]; r.Method == http.MethodPost && key != "" && prev != nil {
		if prev.method != r.Method || prev.path != r.URL.Path || prev.body != string(raw) {
			a = stripeError(http.StatusBadRequest, "idempotency_error", "", "",
				"Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '"+key+"' if you meant to execute a different request.")
		} else {
			rec.Replayed = true
			w.Header().Set("Idempotent-Replayed", "true")
			a = answer{prev.status, json.RawMessage(prev.resp)}
		}
	} else {
		a = s.route(r, req)
		if r.Method == http.MethodPost && key != "" && a.status != http.StatusTooManyRequests && a.status < 500 {
			body, _ := json.Marshal(a.body)
			s.idempotent[key] = &saved{method: r.Method, path: r.URL.Path, body: string(raw), status: a.status, resp: body}
		}
	}
	if lose {
		rec.Status = LoseAnswer
		hangUp(w)
		return
	}
	rec.Status = a.status
	write(w, a)
}

// authenticate checks the key as Stripe does: a bearer token, or HTTP
// basic auth with the key as the user name.
func (s *Server) authenticate(r *http.Request) (answer, bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return stripeError(http.StatusUnauthorized, "invalid_request_error", "", "",
			"You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY')."), false
	}
	key, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		key, _, ok = r.BasicAuth()
	}
	if ok && key == s.SecretKey {
		return answer{}, true
	}
	masked := key
	if len(masked) > 4 {
		masked = strings.Repeat("*", len(masked)-4) + masked[len(masked)-4:]
	}
	return stripeError(http.StatusUnauthorized, "invalid_request_error", "", "", "Invalid API Key provided: "+masked), false
}

func (s *Server) route(r *http.Request, req Request) answer {
	p := r.URL.Path
	switch {
	case r.Method == http.MethodPost && p == "/v1/billing/meter_events":
		return s.createMeterEvent(req)
	case r.Method == http.MethodPost && p == "/v1/checkout/sessions":
		return s.createCheckoutSession(req)
	case r.Method == http.MethodPost && p == "/v1/payment_intents":
		return s.createPaymentIntent(req)
	case strings.HasPrefix(p, "/v1/customers/"):
		parts := strings.Split(strings.TrimPrefix(p, "/v1/customers/"), "/")
		id := parts[0]
		switch {
		case len(parts) == 1 && r.Method == http.MethodGet:
			return s.getCustomer(id)
		case len(parts) == 2 && parts[1] == "payment_methods" && r.Method == http.MethodGet:
			return s.listPaymentMethods(id)
		case len(parts) == 2 && parts[1] == "balance_transactions" && r.Method == http.MethodPost:
			return s.createBalanceTransaction(id, req)
		}
	}
	return stripeError(http.StatusNotFound, "invalid_request_error", "", "",
		fmt.Sprintf("Unrecognized request URL (%s: %s).", r.Method, p))
}

func (s *Server) createMeterEvent(req Request) answer {
	f := req.Form
	if a, ok := required(f, "event_name", "payload[stripe_customer_id]", "payload[value]"); !ok {
		return a
	}
	value, err := strconv.ParseInt(f.Get("payload[value]"), 10, 64)
	if err != nil {
		return stripeError(http.StatusBadRequest, "invalid_request_error", "parameter_invalid_integer", "payload[value]",
			"Invalid integer: "+f.Get("payload[value]"))
	}
	ts := time.Now().Unix()
	if v := f.Get("timestamp"); v != "" {
		if ts, err = strconv.ParseInt(v, 10, 64); err != nil {
			return stripeError(http.StatusBadRequest, "invalid_request_error", "parameter_invalid_integer", "timestamp", "Invalid integer: "+v)
		}
	}
	id := f.Get("identifier")
	if id == "" {
		id = s.newID("mev")
	}
	if s.identifiers[id] {
		// Stripe's /v1 answer to a repeated identifier, as observed: a
		// 400 whose error carries no code.
		return stripeError(http.StatusBadRequest, "invalid_request_error", "", "",
			"An event already exists with identifier "+id+".")
	}
	s.identifiers[id] = true
	ev := MeterEvent{EventName: f.Get("event_name"), Identifier: id, Customer: f.Get("payload[stripe_customer_id]"), Value: value, Timestamp: ts}
	s.meterEvents = append(s.meterEvents, ev)
	return answer{http.StatusOK, map[string]any{
		"object": "billing.meter_event", "created": time.Now().Unix(), "event_name": ev.EventName,
		"identifier": id, "livemode": false, "timestamp": ts,
		"payload": map[string]string{"stripe_customer_id": ev.Customer, "value": strconv.FormatInt(value, 10)},
	}}
}

func (s *Server) createCheckoutSession(req Request) answer {
	f := req.Form
	const li = "line_items[0]"
	if a, ok := required(f, "mode", "success_url", li+"[quantity]", li+"[price_data][currency]",
		li+"[price_data][unit_amount]", li+"[price_data][product_data][name]"); !ok {
		return a
	}
	unit, a, ok := integer(f, li+"[price_data][unit_amount]")
	if !ok {
		return a
	}
	qty, a, ok := integer(f, li+"[quantity]")
	if !ok {
		return a
	}
	cus := f.Get("customer")
	if cus != "" && s.customer(cus) == nil {
		return noSuchCustomer(http.StatusBadRequest, cus, "customer")
	}
	cs := CheckoutSession{
		ID: s.newID("cs_test"), Customer: cus, Mode: f.Get("mode"), Amount: unit * qty,
		Currency: f.Get(li + "[price_data][currency]"), Description: f.Get(li + "[price_data][product_data][name]"),
		SuccessURL: f.Get("success_url"), CancelURL: f.Get("cancel_url"),
		SetupFutureUsage:      f.Get("payment_intent_data[setup_future_usage]"),
		Metadata:              bracketMap(f, "metadata"),
		PaymentIntentMetadata: bracketMap(f, "payment_intent_data[metadata]"),
		IdempotencyKey:        req.IdempotencyKey,
	}
	s.sessions = append(s.sessions, cs)
	return answer{http.StatusOK, map[string]any{
		"id": cs.ID, "object": "checkout.session", "url": s.URL + "/c/pay/" + cs.ID,
		"mode": cs.Mode, "status": "open", "payment_status": "unpaid", "amount_total": cs.Amount,
		"currency": cs.Currency, "customer": nullable(cs.Customer), "metadata": orEmpty(cs.Metadata),
		"payment_intent": nil, "success_url": cs.SuccessURL, "cancel_url": nullable(cs.CancelURL),
		"livemode": false,
	}}
}

func (s *Server) createPaymentIntent(req Request) answer {
	f := req.Form
	if a, ok := required(f, "amount", "currency"); !ok {
		return a
	}
	amount, a, ok := integer(f, "amount")
	if !ok {
		return a
	}
	cusID, pm := f.Get("customer"), f.Get("payment_method")
	var cus *customer
	if cusID != "" {
		if cus = s.customer(cusID); cus == nil {
			return noSuchCustomer(http.StatusBadRequest, cusID, "customer")
		}
	}
	if pm != "" && (cus == nil || pm != cus.card) {
		return stripeError(http.StatusBadRequest, "invalid_request_error", "resource_missing", "payment_method",
			"No such PaymentMethod: '"+pm+"'")
	}
	confirm := f.Get("confirm") == "true"
	if confirm && pm == "" {
		return stripeError(http.StatusBadRequest, "invalid_request_error", "parameter_missing", "payment_method",
			"You cannot confirm this PaymentIntent because it's missing a payment method.")
	}
	pi := PaymentIntent{
		ID: s.newID("pi"), Customer: cusID, PaymentMethod: pm, Amount: amount, Currency: f.Get("currency"),
		Status: "requires_confirmation", OffSession: f.Get("off_session") == "true", Confirm: confirm,
		Metadata: bracketMap(f, "metadata"), IdempotencyKey: req.IdempotencyKey,
	}
	received := int64(0)
	if confirm {
		if cus != nil && cus.decline {
			pi.Status = stripe.PaymentIntentRequiresPaymentMethod
			s.intents = append(s.intents, pi)
			e := stripeError(http.StatusPaymentRequired, "card_error", "card_declined", "", "Your card was declined.")
			body := e.body.(map[string]any)["error"].(map[string]any)
			body["decline_code"] = "generic_decline"
			body["payment_intent"] = intentJSON(pi, 0)
			return e
		}
		pi.Status, received = stripe.PaymentIntentSucceeded, amount
	}
	s.intents = append(s.intents, pi)
	return answer{http.StatusOK, intentJSON(pi, received)}
}

func intentJSON(pi PaymentIntent, received int64) map[string]any {
	return map[string]any{
		"id": pi.ID, "object": "payment_intent", "amount": pi.Amount, "amount_received": received,
		"currency": pi.Currency, "customer": nullable(pi.Customer), "payment_method": nullable(pi.PaymentMethod),
		"status": pi.Status, "metadata": orEmpty(pi.Metadata), "livemode": false,
	}
}

func (s *Server) getCustomer(id string) answer {
	c := s.customer(id)
	if c == nil {
		return noSuchCustomer(http.StatusNotFound, id, "id")
	}
	def := any(nil)
	if c.isDefault {
		def = c.card
	}
	return answer{http.StatusOK, map[string]any{
		"id": id, "object": "customer", "balance": c.balance, "currency": nullable(c.currency),
		"default_source": nil, "invoice_settings": map[string]any{"default_payment_method": def},
		"metadata": map[string]string{}, "livemode": false,
	}}
}

func (s *Server) listPaymentMethods(id string) answer {
	c := s.customer(id)
	if c == nil {
		return noSuchCustomer(http.StatusNotFound, id, "customer")
	}
	data := []any{}
	if c.card != "" {
		data = append(data, map[string]any{"id": c.card, "object": "payment_method", "type": "card", "customer": id})
	}
	return answer{http.StatusOK, map[string]any{
		"object": "list", "url": "/v1/customers/" + id + "/payment_methods", "has_more": false, "data": data,
	}}
}

func (s *Server) createBalanceTransaction(id string, req Request) answer {
	c := s.customer(id)
	if c == nil {
		return noSuchCustomer(http.StatusNotFound, id, "customer")
	}
	f := req.Form
	if a, ok := required(f, "amount", "currency"); !ok {
		return a
	}
	amount, a, ok := integer(f, "amount")
	if !ok {
		return a
	}
	cur := f.Get("currency")
	if c.currency != "" && c.currency != cur {
		return stripeError(http.StatusBadRequest, "invalid_request_error", "", "currency",
			"The currency "+cur+" does not match the customer's currency "+c.currency+".")
	}
	c.currency = cur
	c.balance += amount
	tx := BalanceTransaction{ID: s.newID("cbtxn"), Customer: id, Amount: amount, Currency: cur,
		Description: f.Get("description"), IdempotencyKey: req.IdempotencyKey}
	s.balanceTxs = append(s.balanceTxs, tx)
	return answer{http.StatusOK, map[string]any{
		"id": tx.ID, "object": "customer_balance_transaction", "amount": amount, "currency": cur,
		"customer": id, "description": nullable(tx.Description), "ending_balance": c.balance,
		"type": "adjustment", "created": time.Now().Unix(), "livemode": false,
	}}
}

// required answers Stripe's parameter_missing for the first missing key.
func required(f url.Values, keys ...string) (answer, bool) {
	for _, k := range keys {
		if f.Get(k) == "" {
			return stripeError(http.StatusBadRequest, "invalid_request_error", "parameter_missing", k,
				"Missing required param: "+k+"."), false
		}
	}
	return answer{}, true
}

func integer(f url.Values, key string) (int64, answer, bool) {
	n, err := strconv.ParseInt(f.Get(key), 10, 64)
	if err != nil {
		return 0, stripeError(http.StatusBadRequest, "invalid_request_error", "parameter_invalid_integer", key,
			"Invalid integer: "+f.Get(key)), false
	}
	return n, answer{}, true
}

// bracketMap is the map of prefix[key]=value parameters.
func bracketMap(f url.Values, prefix string) map[string]string {
	var m map[string]string
	for k, v := range f {
		rest, ok := strings.CutPrefix(k, prefix+"[")
		if !ok || !strings.HasSuffix(rest, "]") || strings.ContainsAny(rest[:len(rest)-1], "[]") {
			continue
		}
		if m == nil {
			m = map[string]string{}
		}
		m[rest[:len(rest)-1]] = v[0]
	}
	return m
}

func noSuchCustomer(status int, id, param string) answer {
	return stripeError(status, "invalid_request_error", "resource_missing", param, "No such customer: '"+id+"'")
}

func stripeError(status int, typ, code, param, message string) answer {
	e := map[string]any{"type": typ, "message": message}
	if code != "" {
		e["code"] = code
	}
	if param != "" {
		e["param"] = param
	}
	return answer{status, map[string]any{"error": e}}
}

// failure is Stripe's answer for an injected status.
func failure(status int) answer {
	switch {
	case status == http.StatusTooManyRequests:
		return stripeError(status, "invalid_request_error", "rate_limit",
			"", "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.")
	case status >= 500:
		return stripeError(status, "api_error", "", "", "Sorry, something went wrong. We've already been notified of the problem.")
	}
	return stripeError(status, "invalid_request_error", "", "", http.StatusText(status))
}

func write(w http.ResponseWriter, a answer) {
	var body []byte
	if raw, ok := a.body.(json.RawMessage); ok {
		body = raw
	} else {
		body, _ = json.Marshal(a.body)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	w.Write(append(bytes.TrimSpace(body), '\n'))
}

// hangUp closes the connection without an answer.
func hangUp(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
