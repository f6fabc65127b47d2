package lead

import (
	"time"

	"github.com/leadrelay/leadrelay/shared/money"
)

// Kinds of charge.
const (
	// ChargeSale bills a sale to an invoiced buyer (a Stripe billing meter
	// event whose identifier is the charge's ID).
	ChargeSale = "sale"
	// ChargeCredit credits a returned sale on the buyer's next invoice (a
	// Stripe customer balance credit).
	ChargeCredit = "credit"
)

// Charge is what an invoiced buyer is billed for a sale, or credited for
// its return: queued in the transaction of the sale or the return, and
// reported to Stripe once by the admin function's billing task.
type Charge struct {
	Kind     string       `json:"kind" dynamodbav:"kind"`
	Buyer    string       `json:"buyer" dynamodbav:"buyer"`
	Customer string       `json:"stripe_customer" dynamodbav:"customer"`
	LeadID   string       `json:"lead_id" dynamodbav:"lead_id"`
	Amount   money.Amount `json:"amount" dynamodbav:"amount"`
	At       time.Time    `json:"at" dynamodbav:"at"`
	// ID is unique per charge, and what Stripe dedupes it by: the sale's
	// "<lead id>:R<round>", a credit's "<lead id>:S<sale>:credit".
	ID string `json:"id" dynamodbav:"id"`
	// Period is the billing month (YYYY-MM, in the agency's timezone) the
	// charge counts in.
	Period string `json:"period" dynamodbav:"period"`
	// SentAt is when Stripe took it; Failed why it refused it.
	SentAt time.Time `json:"sent_at,omitzero" dynamodbav:"sent_at,omitempty"`
	Failed string    `json:"failed,omitempty" dynamodbav:"failed,omitempty"`
}
