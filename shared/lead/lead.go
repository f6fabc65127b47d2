// Package lead is the lead: what a source posted, normalised, and what
// became of it. The routing and delivery messages carry a Lead, so the
// router and delivery functions need not read it back from the store.
package lead

import (
	"time"

	"github.com/leadrelay/leadrelay/shared/money"
)

// Status is where a lead stands. The values are the public contract of
// GET /v1/leads/{id}.
type Status string

// Statuses.
const (
	// Received: accepted (202) and queued for routing.
	Received Status = "received"
	// Routing: offered to a buyer, or waiting for the next one.
	Routing Status = "routing"
	// Sold: at least one buyer accepted it.
	Sold Status = "sold"
	// Unsold: no buyer was eligible, or every eligible one was full.
	Unsold Status = "unsold"
	// Rejected: every buyer it was offered to refused it.
	Rejected Status = "rejected"
	// Duplicate: refused at ingest as a duplicate (never stored as a lead).
	Duplicate Status = "duplicate"
	// Returned: sold, then returned by the buyer within the return window.
	Returned Status = "returned"
	// TestLead: a test lead ("test": true) after routing: it was validated,
	// checked and auctioned, and sold to nobody.
	TestLead Status = "test"
)

// Terminal reports whether the lead will not be routed again by itself.
func (s Status) Terminal() bool {
	return s == Sold || s == Unsold || s == Rejected || s == Returned || s == TestLead
}

// Lead is one lead.
type Lead struct {
	ID         string         `json:"lead_id" dynamodbav:"lead_id"`
	Campaign   string         `json:"campaign" dynamodbav:"campaign"`
	Source     string         `json:"source" dynamodbav:"source"`
	ExternalID string         `json:"external_id,omitempty" dynamodbav:"external_id,omitempty"`
	Fields     map[string]any `json:"fields" dynamodbav:"fields"`
	Test       bool           `json:"test,omitempty" dynamodbav:"test,omitempty"`
	Score      int            `json:"score,omitempty" dynamodbav:"score,omitempty"`
	CreatedAt  time.Time      `json:"created_at" dynamodbav:"created_at"`
}

// Assignment is one offer of a lead to one order: the caps it holds and the
// price it would sell at.
type Assignment struct {
	Buyer string       `json:"buyer" dynamodbav:"buyer"`
	Order string       `json:"order" dynamodbav:"order"`
	Price money.Amount `json:"price" dynamodbav:"price"`
	// Caps are the counter keys reserved for this offer, released if the
	// buyer refuses it.
	Caps []CapHold `json:"caps,omitempty" dynamodbav:"caps,omitempty"`
	// BidID is the buyer's bid, in ping-post.
	BidID string `json:"bid_id,omitempty" dynamodbav:"bid_id,omitempty"`
	// Payout, when set, is the seller price quoted for this bid in answer
	// to the source's ping: the source is paid it if the buyer accepts,
	// instead of the source's payout terms.
	Payout money.Amount `json:"payout,omitempty" dynamodbav:"payout,omitempty"`
	// Slot is the buyer's concurrency slot a call holds while it is
	// dialled (store.SlotKey), freed when the dial ends.
	Slot string `json:"slot,omitempty" dynamodbav:"slot,omitempty"`
}

// CapHold is one reserved unit of a cap counter.
type CapHold struct {
	Key    string       `json:"key" dynamodbav:"key"`
	Amount money.Amount `json:"amount,omitempty" dynamodbav:"amount,omitempty"`
}

// Sale is a buyer's acceptance of a lead.
type Sale struct {
	Buyer       string       `json:"buyer" dynamodbav:"buyer"`
	Order       string       `json:"order" dynamodbav:"order"`
	Price       money.Amount `json:"price" dynamodbav:"price"`
	Payout      money.Amount `json:"payout" dynamodbav:"payout"`
	BuyerLeadID string       `json:"buyer_lead_id,omitempty" dynamodbav:"buyer_lead_id,omitempty"`
	At          time.Time    `json:"at" dynamodbav:"at"`
	// Return is set when the buyer returned the sale: its price is
	// credited to the buyer and Return.Clawback taken back from the source.
	Return *Return `json:"return,omitempty" dynamodbav:"return,omitempty"`
}

// Return is a buyer's return of a sale.
type Return struct {
	At     time.Time `json:"at" dynamodbav:"at"`
	Reason string    `json:"reason" dynamodbav:"reason"`
	// Clawback is the payout taken back from the source (0 unless the
	// source's terms say so).
	Clawback money.Amount `json:"clawback,omitempty" dynamodbav:"clawback,omitempty"`
}

// Event is one entry of a lead's timeline.
type Event struct {
	At   time.Time `json:"at" dynamodbav:"at"`
	Type string    `json:"type" dynamodbav:"type"`
	// Buyer and Order name the order the event is about, if any.
	Buyer  string `json:"buyer,omitempty" dynamodbav:"buyer,omitempty"`
	Order  string `json:"order,omitempty" dynamodbav:"order,omitempty"`
	Detail string `json:"detail,omitempty" dynamodbav:"detail,omitempty"`
	// Data holds structured detail: the routing explanation, a response.
	Data map[string]any `json:"data,omitempty" dynamodbav:"data,omitempty"`
}

// Event types.
const (
	EventReceived  = "received"
	EventRouted    = "routed"      // an order was chosen; Data has the explanation
	EventNoBuyer   = "no_buyer"    // nobody eligible; Data has the reasons
	EventCapFull   = "cap_full"    // a reservation lost a race for the last unit
	EventAttempt   = "attempt"     // a delivery attempt and its response
	EventAccepted  = "accepted"    // the buyer accepted
	EventRejected  = "rejected"    // the buyer refused
	EventFailed    = "failed"      // delivery gave up on the buyer after its retries
	EventRerouted  = "rerouted"    // an operator asked for another routing
	EventReturned  = "returned"    // the buyer returned the lead
	EventRecovered = "recovered"   // a lost queue message was sent again
	EventStranded  = "stranded"    // messages sent again did not move the lead: in a DLQ for an operator
	EventWatched   = "watched"     // the sweeper will look at a slow round again when it is due
	EventScored    = "scored"      // the lead was scored; Data has the signals and model terms
	EventReported  = "reported"    // a buyer reported what became of the lead (POST /v1/outcomes)
	EventDialEnded = "dial_ended"  // a call's dial to a buyer ended; Data has its status, duration, recording
	EventCallState = "call_status" // Twilio reported the state of a call's dial (ringing, answered, completed)
	// EventBreakerOpened: this lead's failure paused its buyer (circuit
	// breaker); EventBreakerClosed: this lead's delivery resumed it.
	EventBreakerOpened = "breaker_opened"
	EventBreakerClosed = "breaker_closed"
)

// Record is the stored lead with its state.
type Record struct {
	Lead
	Status Status `json:"status" dynamodbav:"status"`
	// Seq counts the routing rounds; each message names the round it
	// belongs to, so a redelivered message finds the lead moved on.
	Seq        int         `json:"seq" dynamodbav:"seq"`
	Assignment *Assignment `json:"assignment,omitempty" dynamodbav:"assignment,omitempty"`
	// Tried are the orders ("buyer/order") the lead was offered to.
	Tried []string `json:"tried,omitempty" dynamodbav:"tried,omitempty"`
	// ScoreDetail is what made the lead's Score (kept with the lead, not
	// carried in its messages).
	ScoreDetail *ScoreDetail `json:"score_detail,omitempty" dynamodbav:"score_detail,omitempty"`
	Sales       []Sale       `json:"sales,omitempty" dynamodbav:"sales,omitempty"`
	// CallPayout is what the source was paid for a call connected to a
	// buyer but not billed, when its payout is per connected call (a
	// billed call's payout is its sale's).
	CallPayout money.Amount `json:"call_payout,omitempty" dynamodbav:"call_payout,omitempty"`
	// Reports are what the buyers reported of the lead after buying it.
	Reports []Report `json:"reports,omitempty" dynamodbav:"reports,omitempty"`
	// Conversions are the stages reported (or queued to be reported) to
	// the ad platform the lead came from.
	Conversions []Conversion `json:"conversions,omitempty" dynamodbav:"conversions,omitempty"`
	Events      []Event      `json:"events,omitempty" dynamodbav:"events,omitempty"`
	Updated     time.Time    `json:"updated_at" dynamodbav:"updated_at"`
	// Due is when the current round's message must have moved the lead on
	// (zero: settled, or not known); the sweeper sends it again after.
	Due time.Time `json:"-" dynamodbav:"-"`
}

// Revenue is the sum of the prices of the lead's sales that were not returned.
func (r *Record) Revenue() money.Amount {
	var sum money.Amount
	for _, s := range r.Sales {
		if s.Return == nil {
			sum += s.Price
		}
	}
	return sum
}

// Payout is what the lead's source earns from its sales, less what was
// clawed back on returns, and from a connected call not billed.
func (r *Record) Payout() money.Amount {
	sum := r.CallPayout
	for _, s := range r.Sales {
		sum += s.Payout
		if s.Return != nil {
			sum -= s.Return.Clawback
		}
	}
	return sum
}

// Buyers are the buyers of the lead's sales, in order.
func (r *Record) Buyers() []string {
	var out []string
	for _, s := range r.Sales {
		out = append(out, s.Buyer)
	}
	return out
}

// Rejections counts the buyers that refused the lead.
func (r *Record) Rejections() int {
	n := 0
	for _, e := range r.Events {
		if e.Type == EventRejected {
			n++
		}
	}
	return n
}
