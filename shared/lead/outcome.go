package lead

// Outcome is what became of a seller's lead or ping, in one word: the
// stable enum a source's system can switch on. GET /v1/leads/{id} answers
// it as "outcome" next to the status; the answers that refuse a lead or a
// ping correspond to the outcomes as OutcomeOfError says.
type Outcome string

// Seller outcomes. The values are a public contract: extend, never rename.
const (
	// OutcomeAccepted: the lead was accepted (202) and is being routed.
	OutcomeAccepted Outcome = "accepted"
	// OutcomeSold: a buyer bought it (the payout is the seller's).
	OutcomeSold Outcome = "sold"
	// OutcomeUnsold: no buyer was eligible or had room.
	OutcomeUnsold Outcome = "unsold"
	// OutcomeRejected: every buyer it was offered to refused it.
	OutcomeRejected Outcome = "rejected"
	// OutcomeDuplicate: refused (409 duplicate) within the dedupe window.
	OutcomeDuplicate Outcome = "duplicate"
	// OutcomeNoBid: a ping that no buyer bid on.
	OutcomeNoBid Outcome = "no_bid"
	// OutcomeExpired: a post whose ping_id had expired (410 ping_expired).
	OutcomeExpired Outcome = "expired"
	// OutcomePingMismatch: a post that does not match its ping, or claims
	// a ping already claimed (409 ping_mismatch, ping_claimed).
	OutcomePingMismatch Outcome = "ping_mismatch"
	// OutcomeInvalid: refused as malformed (400, 401 invalid_ping).
	OutcomeInvalid Outcome = "invalid"
	// OutcomeTest: a test lead or ping: everything ran, nothing was sold.
	OutcomeTest Outcome = "test"
)

// Outcomes lists every outcome, in documentation order.
var Outcomes = []Outcome{
	OutcomeAccepted, OutcomeSold, OutcomeUnsold, OutcomeRejected, OutcomeDuplicate,
	OutcomeNoBid, OutcomeExpired, OutcomePingMismatch, OutcomeInvalid, OutcomeTest,
}

// Outcome is the seller's outcome of a stored lead. A returned lead stays
// sold to its seller (a clawback, if the source's terms have one, shows
// in the payout).
func (r *Record) Outcome() Outcome {
	switch {
	case r.Test || r.Status == TestLead:
		return OutcomeTest
	case r.Status == Sold || r.Status == Returned:
		return OutcomeSold
	case r.Status == Unsold:
		return OutcomeUnsold
	case r.Status == Rejected:
		return OutcomeRejected
	case r.Status == Duplicate:
		return OutcomeDuplicate
	}
	return OutcomeAccepted
}
