// Package webhook talks to buyers' endpoints: it renders a lead into the
// buyer's format (JSON, form, XML or a GET query), signs it per the
// Standard Webhooks specification, sends it through a client that refuses
// private and internal addresses, and judges the answer.
//
// The delivery function calls Sender.Send once per attempt; Send never
// returns an error, only a Verdict whose Outcome says what to do next:
// Accepted (sold), Rejected (release the caps, try the next buyer) or
// Transient (retry with backoff).
package webhook

import (
	"errors"
	"time"

	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/money"
)

// Post is one delivery of one lead to one buyer.
type Post struct {
	Lead  *lead.Lead
	Price money.Amount
	// BidID is the buyer's ping-post bid, "" otherwise.
	BidID string
	// MessageID is stable across retries of the same post: the Standard
	// Webhooks "webhook-id", which lets the buyer drop a repeat.
	MessageID string
	// Now is the signing time (webhook-timestamp); zero means time.Now().
	Now time.Time
	// AfterUnknown says an earlier attempt of this post (the same
	// MessageID) reached the buyer, or may have, and got no answer (a
	// Verdict with Unknown set): the buyer may already hold the lead, so an
	// answer that matches the delivery's duplicate rules is Accepted
	// (reason duplicate).
	AfterUnknown bool
	// Repeat says this post may have been made before: its message was
	// received before (a redelivery, a retry after a transient failure)
	// or sent again (a re-send, a redrive). A buyer drops a repeat by
	// MessageID; a destination that cannot (a Google Sheet, where every
	// append adds a row) checks whether it has the lead before sending.
	Repeat bool
}

// Outcome is the class of a verdict.
type Outcome string

// Outcomes.
const (
	// Accepted: the buyer took the lead.
	Accepted Outcome = "accepted"
	// Rejected: the buyer refused it, or cannot be posted to; retrying
	// will not help.
	Rejected Outcome = "rejected"
	// Transient: the post may succeed if tried again later.
	Transient Outcome = "transient"
)

// Reasons a Verdict gives.
const (
	ReasonStatus2xx     = "status_2xx"
	ReasonStatus4xx     = "status_4xx" // 408 and 429 are Transient, the rest Rejected
	ReasonStatus5xx     = "status_5xx"
	ReasonStatusOther   = "status_other" // a status outside 200-599
	ReasonRedirect      = "redirect"
	ReasonRuleRejected  = "rule_rejected"
	ReasonTimeout       = "timeout"
	ReasonCanceled      = "canceled"
	ReasonConnection    = "connection"
	ReasonTLS           = "tls"
	ReasonRefusedTarget = "refused_target"
	ReasonRender        = "render" // the lead could not be rendered for this buyer
	// ReasonDuplicate: the answer to a post after an unknown outcome
	// matched the delivery's duplicate rules (Accepted).
	ReasonDuplicate = "duplicate"
)

// Verdict is what became of a post.
type Verdict struct {
	Outcome Outcome
	// Status is the HTTP status, 0 if none.
	Status int
	// Reason is machine-readable: one of the Reason constants.
	Reason string
	// Detail is a human sentence.
	Detail string
	// BuyerLeadID is extracted from the response, if a rule says where.
	BuyerLeadID string
	// Price is a price the buyer returned, if a rule says where.
	Price *money.Amount
	// Response is the raw response body, truncated to MaxStoredResponse
	// bytes and made valid UTF-8, for the lead's timeline.
	Response string
	Latency  time.Duration
	// Unknown is set on a Transient verdict whose request was written in
	// full (headers and body) before it failed (a timeout, a reset, a body
	// that could not be read): the buyer may have received the lead and
	// taken it. A failure before the request was written (DNS, a refused
	// dial, TLS, a refused target, a render error) leaves it false: the
	// buyer cannot have the lead. Its Reason is still timeout, connection
	// or canceled.
	Unknown bool
}

// Limits on what is read from and kept of a response.
const (
	// MaxResponseBytes is how much of a response body is read.
	MaxResponseBytes = 64 << 10
	// MaxStoredResponse is how much of it a Verdict keeps.
	MaxStoredResponse = 2 << 10
)

// ErrRefusedTarget is the dial error of a client made by NewClient(false)
// when an address is loopback, private, link-local or otherwise internal.
var ErrRefusedTarget = errors.New("refused target")

// ErrUnencodable reports a value that the buyer's format cannot carry
// exactly: invalid UTF-8 in JSON or XML, characters XML forbids, or a
// number JSON cannot write.
var ErrUnencodable = errors.New("value cannot be encoded exactly")
