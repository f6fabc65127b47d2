package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/money"
)

// A lead is stored as a partition of immutable items, read back whole and
// folded into a lead.Record:
//
//   - round 0 (R#000000): the lead as posted, status received, the
//     "received" events, its listing key and its ledger entries;
//   - round n (R#<n>): one state change: the status after it, the offer
//     it made (assignment, and the order it tried), or the sale it
//     recorded, with its events, its ledger entries, and while the lead
//     waits for a message, the time it is due (the sweeper's index);
//   - notes (R#<n>#N#…): events added within round n without changing
//     it (delivery attempts, recoveries);
//   - returns (X#RET#<i>): the return of sale i, once;
//   - reports (X#OUT#<buyer>#<event>): a buyer's report of what became
//     of the lead, once per buyer and event.
//
// Each state change puts round n+1 on the condition that it does not
// exist: of two messages about round n, one wins and the other finds the
// lead moved on. Nothing is ever updated in place, so a state change
// costs the write of its own small item, never of the lead's history.

// round is one round item's state change.
type round struct {
	Seq    int         `dynamodbav:"seq"`
	Status lead.Status `dynamodbav:"status"`
	At     time.Time   `dynamodbav:"at"`
	// Assignment is the offer this round made (nil: none in flight).
	Assignment *lead.Assignment `dynamodbav:"assignment,omitempty"`
	// Tried is the order ("buyer/order") this round offered the lead to.
	Tried string `dynamodbav:"tried,omitempty"`
	// Untry forgets the orders tried before (an operator's reroute).
	Untry bool       `dynamodbav:"untry,omitempty"`
	Sale  *lead.Sale `dynamodbav:"sale,omitempty"`
	// CallPayout is the source's payout for a connected call that ended
	// unbilled (EndCall).
	CallPayout money.Amount `dynamodbav:"call_payout,omitempty"`
	Event      []lead.Event `dynamodbav:"events,omitempty"`
	// Due is when this round must have been followed by the next (unix
	// seconds; 0: a settled round).
	Due int64 `dynamodbav:"due_at,omitempty"`
}

// returned is a return item.
type returned struct {
	Sale   int          `dynamodbav:"sale"`
	Return lead.Return  `dynamodbav:"return"`
	Events []lead.Event `dynamodbav:"events,omitempty"`
}

// note is a note item.
type note struct {
	Events []lead.Event `dynamodbav:"events"`
}

// GetLead reads a lead: every item of its partition, folded. consistent
// asks for a strongly consistent read.
func (s *Store) GetLead(ctx context.Context, id string, consistent bool) (*lead.Record, error) {
	var items []map[string]types.AttributeValue
	err := s.partition(ctx, leadPartition(id), consistent, func(it map[string]types.AttributeValue) error {
		items = append(items, it)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("get lead %s: %w", id, err)
	}
	if len(items) == 0 {
		return nil, ErrNotFound
	}
	return fold(items)
}

// fold builds a lead's record from its items, in sort key order (a
// Query's order).
func fold(items []map[string]types.AttributeValue) (*lead.Record, error) {
	var rec *lead.Record
	for _, it := range items {
		sk := it[attrSK].(*types.AttributeValueMemberS).Value
		switch {
		case sk == "R#000000":
			var r lead.Record
			if err := attributevalue.UnmarshalMap(it, &r.Lead); err != nil {
				return nil, fmt.Errorf("decode lead: %w", err)
			}
			var rd round
			if err := attributevalue.UnmarshalMap(it, &rd); err != nil {
				return nil, fmt.Errorf("decode lead %s: %w", r.ID, err)
			}
			r.Status, r.Events, r.Updated = rd.Status, rd.Event, rd.At
			if sd, ok := it[attrScoreDetail]; ok {
				var c storedScore
				if err := attributevalue.Unmarshal(sd, &c); err != nil {
					return nil, fmt.Errorf("decode score of lead %s: %w", r.ID, err)
				}
				r.ScoreDetail = c.detail()
			}
			rec = &r
		case rec == nil:
			return nil, fmt.Errorf("lead items without round 0 (%s)", sk)
		case strings.Contains(sk, "#N#"):
			var n note
			if err := attributevalue.UnmarshalMap(it, &n); err != nil {
				return nil, fmt.Errorf("decode note of lead %s: %w", rec.ID, err)
			}
			rec.Events = append(rec.Events, n.Events...)
		case strings.HasPrefix(sk, "R#"):
			var rd round
			if err := attributevalue.UnmarshalMap(it, &rd); err != nil {
				return nil, fmt.Errorf("decode round of lead %s: %w", rec.ID, err)
			}
			applyRound(rec, rd)
		case strings.HasPrefix(sk, "X#OUT#"):
			var r reported
			if err := attributevalue.UnmarshalMap(it, &r); err != nil {
				return nil, fmt.Errorf("decode report of lead %s: %w", rec.ID, err)
			}
			rec.Reports = append(rec.Reports, r.Report)
			rec.Events = append(rec.Events, r.Events...)
		case isConversion(sk):
			if err := foldConversion(rec, it); err != nil {
				return nil, err
			}
		case strings.HasPrefix(sk, "X#RET#"):
			var ret returned
			if err := attributevalue.UnmarshalMap(it, &ret); err != nil {
				return nil, fmt.Errorf("decode return of lead %s: %w", rec.ID, err)
			}
			if ret.Sale >= 0 && ret.Sale < len(rec.Sales) {
				r := ret.Return
				rec.Sales[ret.Sale].Return = &r
			}
			rec.Events = append(rec.Events, ret.Events...)
			if r := ret.Return.At; r.After(rec.Updated) {
				rec.Updated = r
			}
		}
	}
	if rec == nil {
		return nil, ErrNotFound
	}
	if rec.Status == lead.Sold && rec.Assignment == nil && len(rec.Sales) > 0 && allReturned(rec.Sales) {
		rec.Status = lead.Returned
	}
	return rec, nil
}

func allReturned(sales []lead.Sale) bool {
	for _, s := range sales {
		if s.Return == nil {
			return false
		}
	}
	return true
}

// applyRound moves a record to the state after a round.
func applyRound(rec *lead.Record, rd round) {
	rec.Seq, rec.Status, rec.Assignment = rd.Seq, rd.Status, rd.Assignment
	rec.Due = time.Time{}
	if rd.Due > 0 {
		rec.Due = time.Unix(rd.Due, 0).UTC()
	}
	if rd.Untry {
		rec.Tried = nil
	}
	if rd.Tried != "" {
		rec.Tried = append(rec.Tried, rd.Tried)
	}
	if rd.Sale != nil {
		rec.Sales = append(rec.Sales, *rd.Sale)
	}
	rec.CallPayout += rd.CallPayout
	rec.Events = append(rec.Events, rd.Event...)
	rec.Updated = rd.At
}
