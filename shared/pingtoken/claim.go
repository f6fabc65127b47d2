package pingtoken

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/leadrelay/leadrelay/shared/auction"
	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/money"
)

// Claim is what a posted lead claims of its ping: the bids to offer it
// to, best first, until Expires.
type Claim struct {
	// ID names the token for its one claim (ClaimID).
	ID      string
	PingID  string
	Expires time.Time
	Bids    []auction.Bid
}

// Codes of a refused claim (ClaimError.Code): the API's error codes.
const (
	// CodeInvalid: the ping_id is not one this platform issued, or was
	// altered.
	CodeInvalid = "invalid_ping"
	// CodeExpired: the ping's bids expired.
	CodeExpired = "ping_expired"
	// CodeMismatch: the lead differs from its ping (Fields names where).
	CodeMismatch = "ping_mismatch"
	// CodeNoBid: the ping had no bid to claim.
	CodeNoBid = "no_bid"
	// CodeBadBidIDs: a bid id is not one of the ping's (Fields: bid_ids).
	CodeBadBidIDs = "validation_failed"
)

// ClaimError is why a lead may not claim a ping: the error code of the
// answer (the Code constants), and the fields at fault.
type ClaimError struct {
	Code    string
	Message string
	Fields  []string
}

func (e *ClaimError) Error() string { return e.Code + ": " + e.Message }

// ClaimInput is a posted lead with a ping_id.
type ClaimInput struct {
	Token string
	// BidIDs are the seller-facing bid ids the lead claims (shared
	// campaigns); none claims every bid of the ping, best first.
	BidIDs   []string
	Campaign *config.Campaign
	Source   string
	// Fields are the lead's validated fields (its non-PII ones must be
	// those pinged).
	Fields map[string]any
	Test   bool
	Now    time.Time
}

// Check verifies a lead's claim on a ping: the token's MAC (CodeInvalid),
// its expiry (CodeExpired), that the campaign, source, test flag and
// non-PII fields are those pinged (CodeMismatch, with the fields named),
// that it has bids (CodeNoBid) and that the bid_ids are the ping's
// (CodeBadBidIDs).
func Check(secret []byte, in ClaimInput) (*Claim, *ClaimError) {
	t, err := Verify(secret, in.Token, in.Now)
	switch {
	case errors.Is(err, ErrExpired):
		return nil, &ClaimError{Code: CodeExpired,
			Message: fmt.Sprintf("the ping's bids expired at %s; ping again", t.ExpiresAt().UTC().Format(time.RFC3339))}
	case err != nil:
		return nil, &ClaimError{Code: CodeInvalid, Message: "ping_id is not a ping_id this platform issued, or was altered"}
	}
	var mismatch []string
	if t.Campaign != in.Campaign.ID {
		mismatch = append(mismatch, "campaign")
	}
	if t.Source != in.Source {
		mismatch = append(mismatch, "source")
	}
	if t.Test != in.Test {
		mismatch = append(mismatch, "test")
	}
	if t.Campaign == in.Campaign.ID {
		mismatch = append(mismatch, FieldsDiffer(t.Fields, auction.NonPII(in.Campaign, in.Fields))...)
	}
	if len(mismatch) > 0 {
		return nil, &ClaimError{Code: CodeMismatch, Fields: mismatch,
			Message: "the lead differs from its ping in " + strings.Join(mismatch, ", ") + "; ping again with the lead's values"}
	}
	if len(t.Bids) == 0 {
		return nil, &ClaimError{Code: CodeNoBid, Message: "the ping had no bid to claim"}
	}
	idx := make([]int, 0, len(t.Bids))
	if len(in.BidIDs) == 0 {
		for i := range t.Bids {
			idx = append(idx, i)
		}
	}
	for _, id := range in.BidIDs {
		i := -1
		for j := range t.Bids {
			if t.SellerBidID(j) == id {
				i = j
			}
		}
		if i < 0 {
			return nil, &ClaimError{Code: CodeBadBidIDs, Fields: []string{"bid_ids"},
				Message: fmt.Sprintf("bid %q is not a bid of this ping", id)}
		}
		if !slices.Contains(idx, i) {
			idx = append(idx, i)
		}
	}
	slices.Sort(idx) // the token's bids are best first
	c := &Claim{ID: ClaimID(in.Token), PingID: t.ID, Expires: t.ExpiresAt()}
	for r, i := range idx {
		b := t.Bids[i]
		buyer, order, _ := strings.Cut(b.Order, "/")
		c.Bids = append(c.Bids, auction.Bid{
			Buyer: buyer, Order: order, Price: money.Amount(b.Price), BidID: b.BidID,
			Outcome: auction.OutcomeBid, Rank: r + 1, Payout: money.Amount(b.Seller),
		})
	}
	return c, nil
}

// FieldsDiffer names the fields whose values differ between a ping's
// fields and a lead's non-PII fields (present in one only, or different),
// sorted.
func FieldsDiffer(pinged map[string]json.RawMessage, fields map[string]any) []string {
	var out []string
	for k, v := range fields {
		b, err := json.Marshal(v)
		if p, ok := pinged[k]; !ok || err != nil || !bytes.Equal(p, b) {
			out = append(out, k)
		}
	}
	for k := range pinged {
		if _, ok := fields[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
