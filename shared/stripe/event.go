package stripe

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Event types that buyer billing handles.
const (
	EventCheckoutSessionCompleted             = "checkout.session.completed"
	EventCheckoutSessionAsyncPaymentSucceeded = "checkout.session.async_payment_succeeded"
	EventCheckoutSessionAsyncPaymentFailed    = "checkout.session.async_payment_failed"
	EventCheckoutSessionExpired               = "checkout.session.expired"
	EventPaymentIntentSucceeded               = "payment_intent.succeeded"
	EventPaymentIntentPaymentFailed           = "payment_intent.payment_failed"
	EventInvoicePaid                          = "invoice.paid"
	EventInvoicePaymentFailed                 = "invoice.payment_failed"
)

// Object types, the "object" field of a Stripe object.
const (
	ObjectEvent           = "event"
	ObjectCheckoutSession = "checkout.session"
	ObjectPaymentIntent   = "payment_intent"
	ObjectInvoice         = "invoice"
	ObjectCustomer        = "customer"
)

// Event is a Stripe event as delivered to a webhook endpoint. Its ID is
// what makes applying it idempotent: Stripe may deliver one event more
// than once, and out of order.
type Event struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	Created    int64     `json:"created"`
	Livemode   bool      `json:"livemode"`
	APIVersion string    `json:"api_version,omitempty"`
	Data       EventData `json:"data"`
}

// EventData is the object an event is about, as raw JSON; decode it with
// the Event's typed decoders.
type EventData struct {
	Object json.RawMessage `json:"object"`
	// PreviousAttributes is set on *.updated events.
	PreviousAttributes json.RawMessage `json:"previous_attributes,omitempty"`
}

// ErrUnexpectedObject: an event's object is not of the type asked for.
var ErrUnexpectedObject = errors.New("stripe: unexpected object type")

// ParseEvent decodes a webhook payload (verify it first with
// VerifySignature). It refuses a payload that is not a Stripe event: no
// id, no type, no data.object, or an "object" other than "event".
func ParseEvent(payload []byte) (*Event, error) {
	var v struct {
		Event
		Object string `json:"object"`
	}
	if err := json.Unmarshal(payload, &v); err != nil {
		return nil, fmt.Errorf("stripe: parse event: %w", err)
	}
	switch {
	case v.Object != "" && v.Object != ObjectEvent:
		return nil, fmt.Errorf("stripe: parse event: object is %q, not an event", v.Object)
	case v.ID == "":
		return nil, errors.New("stripe: parse event: no id")
	case v.Type == "":
		return nil, fmt.Errorf("stripe: parse event %s: no type", v.ID)
	}
	obj := bytes.TrimSpace(v.Data.Object)
	if len(obj) == 0 || obj[0] != '{' {
		return nil, fmt.Errorf("stripe: parse event %s: data.object is not an object", v.ID)
	}
	return &v.Event, nil
}

// ObjectType is the "object" field of the event's object, such as
// "checkout.session", or "" if it has none.
func (e *Event) ObjectType() string {
	var v struct {
		Object string `json:"object"`
	}
	_ = json.Unmarshal(e.Data.Object, &v)
	return v.Object
}

// decodeObject decodes the event's object into dst after checking that its
// "object" field, when present, is want.
func (e *Event) decodeObject(want string, dst any) error {
	if got := e.ObjectType(); got != "" && got != want {
		return fmt.Errorf("%w: event %s (%s) carries a %s, not a %s", ErrUnexpectedObject, e.ID, e.Type, got, want)
	}
	if err := json.Unmarshal(e.Data.Object, dst); err != nil {
		return fmt.Errorf("stripe: event %s: decode %s: %w", e.ID, want, err)
	}
	return nil
}

// CheckoutSession decodes the event's object as a Checkout Session (the
// checkout.session.* events).
func (e *Event) CheckoutSession() (*CheckoutSession, error) {
	var s CheckoutSession
	if err := e.decodeObject(ObjectCheckoutSession, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// PaymentIntent decodes the event's object as a PaymentIntent (the
// payment_intent.* events).
func (e *Event) PaymentIntent() (*PaymentIntent, error) {
	var p PaymentIntent
	if err := e.decodeObject(ObjectPaymentIntent, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// Invoice decodes the event's object as an Invoice (the invoice.* events).
func (e *Event) Invoice() (*Invoice, error) {
	var i Invoice
	if err := e.decodeObject(ObjectInvoice, &i); err != nil {
		return nil, err
	}
	return &i, nil
}

// CheckoutSession is the part of a Stripe Checkout Session that billing
// uses. Amounts are in the currency's minor unit (cents); currencies are
// lower-case ISO codes as Stripe writes them.
type CheckoutSession struct {
	ID string `json:"id"`
	// URL is where to send the buyer to pay; set while the session is
	// open, empty in the completed event.
	URL         string `json:"url,omitempty"`
	Customer    string `json:"customer,omitempty"`
	AmountTotal int64  `json:"amount_total"`
	Currency    string `json:"currency"`
	// PaymentStatus is "paid", "unpaid" or "no_payment_required": a
	// top-up is funded only once it is "paid".
	PaymentStatus string `json:"payment_status"`
	// Status is "open", "complete" or "expired".
	Status   string            `json:"status,omitempty"`
	Mode     string            `json:"mode"`
	Metadata map[string]string `json:"metadata,omitempty"`
	// PaymentIntent is the ID of the session's PaymentIntent, once there
	// is one (whose payment_method is the card saved for later).
	PaymentIntent string `json:"payment_intent,omitempty"`
}

// UnmarshalJSON decodes a session whose customer and payment_intent are
// IDs or, when expanded, objects.
func (s *CheckoutSession) UnmarshalJSON(b []byte) error {
	type plain CheckoutSession
	var v struct {
		plain
		Customer      expandable `json:"customer"`
		PaymentIntent expandable `json:"payment_intent"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = CheckoutSession(v.plain)
	s.Customer, s.PaymentIntent = string(v.Customer), string(v.PaymentIntent)
	return nil
}

// Statuses of a PaymentIntent.
const (
	PaymentIntentSucceeded             = "succeeded"
	PaymentIntentProcessing            = "processing"
	PaymentIntentRequiresPaymentMethod = "requires_payment_method"
	PaymentIntentRequiresAction        = "requires_action"
	PaymentIntentCanceled              = "canceled"
)

// PaymentIntent is the part of a Stripe PaymentIntent that billing uses.
type PaymentIntent struct {
	ID             string `json:"id"`
	Customer       string `json:"customer,omitempty"`
	Amount         int64  `json:"amount"`
	AmountReceived int64  `json:"amount_received"`
	Currency       string `json:"currency"`
	// Status is one of the PaymentIntent constants; money has arrived
	// only when it is PaymentIntentSucceeded.
	Status string `json:"status"`
	// PaymentMethod is the ID of the card used (saved with the customer
	// when the payment set it up for future off-session use).
	PaymentMethod string            `json:"payment_method,omitempty"`
	Metadata      map[string]string `json:"metadata,omitempty"`
}

// UnmarshalJSON decodes a PaymentIntent whose customer and payment_method
// are IDs or, when expanded, objects.
func (p *PaymentIntent) UnmarshalJSON(b []byte) error {
	type plain PaymentIntent
	var v struct {
		plain
		Customer      expandable `json:"customer"`
		PaymentMethod expandable `json:"payment_method"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*p = PaymentIntent(v.plain)
	p.Customer, p.PaymentMethod = string(v.Customer), string(v.PaymentMethod)
	return nil
}

// Invoice is the part of a Stripe Invoice that billing uses.
type Invoice struct {
	ID       string `json:"id"`
	Customer string `json:"customer,omitempty"`
	// Status is "draft", "open", "paid", "uncollectible" or "void".
	Status     string            `json:"status"`
	Currency   string            `json:"currency"`
	Total      int64             `json:"total"`
	AmountDue  int64             `json:"amount_due"`
	AmountPaid int64             `json:"amount_paid"`
	Metadata   map[string]string `json:"metadata,omitempty"`
}

// UnmarshalJSON decodes an Invoice whose customer is an ID or, when
// expanded, an object.
func (i *Invoice) UnmarshalJSON(b []byte) error {
	type plain Invoice
	var v struct {
		plain
		Customer expandable `json:"customer"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*i = Invoice(v.plain)
	i.Customer = string(v.Customer)
	return nil
}

// Customer is the part of a Stripe Customer that billing uses.
type Customer struct {
	ID    string `json:"id"`
	Email string `json:"email,omitempty"`
	Name  string `json:"name,omitempty"`
	// Deleted is set for a customer deleted in Stripe (which Stripe still
	// answers for, with little else).
	Deleted bool `json:"deleted,omitempty"`
	// Balance is the customer's invoice credit balance in the minor unit:
	// negative is a credit that reduces the next invoice.
	Balance  int64             `json:"balance"`
	Currency string            `json:"currency,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
	// DefaultPaymentMethod is invoice_settings.default_payment_method.
	DefaultPaymentMethod string `json:"-"`
	// DefaultSource is the legacy default card or source, if any.
	DefaultSource string `json:"default_source,omitempty"`
}

// UnmarshalJSON decodes a Customer, flattening
// invoice_settings.default_payment_method.
func (c *Customer) UnmarshalJSON(b []byte) error {
	type plain Customer
	var v struct {
		plain
		DefaultSource   expandable `json:"default_source"`
		InvoiceSettings struct {
			DefaultPaymentMethod expandable `json:"default_payment_method"`
		} `json:"invoice_settings"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*c = Customer(v.plain)
	c.DefaultSource = string(v.DefaultSource)
	c.DefaultPaymentMethod = string(v.InvoiceSettings.DefaultPaymentMethod)
	return nil
}

// expandable is a reference Stripe writes as an ID, as null, or (when
// expanded) as the object itself; it decodes to the ID.
type expandable string

func (x *expandable) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*x = ""
		return nil
	case len(b) > 0 && b[0] == '{':
		var v struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*x = expandable(v.ID)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*x = expandable(s)
	return nil
}
