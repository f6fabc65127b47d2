package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/leadrelay/leadrelay/shared/lead"
)

// A conversion is a stage of a lead to report to the ad platform it came
// from (lead.Conversion). It is an item of the lead's partition, put once
// in the transaction that makes the stage true (the sale's round, the
// return, the buyer's report), so it is queued exactly when the stage is
// reached and never twice for one stage. While it waits to be sent it is
// listed in GSI1 under CONV#<shard>; sending it claims it (a lease, so that
// two runs never send the same conversion), and marking it sent or failed
// takes it off the index. Its key in the lead is X#CONV#<stage>#<key>.

// conversionItem is a conversion's item.
type conversionItem struct {
	lead.Conversion
	LeadID string `dynamodbav:"lead_id"`
	// Claim and ClaimUntil are the lease of the run sending it.
	Claim      string `dynamodbav:"claim,omitempty"`
	ClaimUntil int64  `dynamodbav:"claim_until,omitempty"`
}

// conversionKey names a lead's conversion of a stage.
func conversionKey(id string, c *lead.Conversion) (string, string) {
	return leadPartition(id), "X#CONV#" + c.Stage + "#" + c.Key
}

func conversionPartition(s int) string { return fmt.Sprintf("CONV#%d", s) }

// conversionPut queues a conversion: put on the condition that it is not
// there, in the transaction of the write that reaches the stage.
func (s *Store) conversionPut(id string, c *lead.Conversion) (*types.Put, error) {
	item, err := attributevalue.MarshalMap(conversionItem{Conversion: *c, LeadID: id})
	if err != nil {
		return nil, fmt.Errorf("encode conversion of lead %s: %w", id, err)
	}
	// Queued: neither sent nor failed (a zero time is not "not sent").
	delete(item, "sent_at")
	delete(item, "failed")
	pk, sk := conversionKey(id, c)
	item[attrPK], item[attrSK] = str(pk), str(sk)
	item[attrGSI1PK] = str(conversionPartition(shard(id)))
	item[attrGSI1SK] = str(sortTime(c.At) + "#" + id + "#" + c.Stage + "#" + c.Key)
	return &types.Put{TableName: aws.String(s.table), Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")}, nil
}

// QueuedConversion is a conversion waiting to be sent, claimed by a run.
type QueuedConversion struct {
	LeadID string
	lead.Conversion
	pk, sk string
}

// QueuedConversionOf is the queued conversion of a lead, as a run claims
// it (for tests of what settling it writes).
func QueuedConversionOf(leadID string, c lead.Conversion) QueuedConversion {
	q := QueuedConversion{LeadID: leadID, Conversion: c}
	q.pk, q.sk = conversionKey(leadID, &c)
	return q
}

// ClaimConversions claims up to limit queued conversions for a run until
// lease (claimQueued).
func (s *Store) ClaimConversions(ctx context.Context, run string, limit int, lease time.Duration) ([]QueuedConversion, error) {
	items, err := s.claimQueued(ctx, conversionPartition, run, limit, lease)
	out := make([]QueuedConversion, 0, len(items))
	for _, it := range items {
		var c conversionItem
		if err := attributevalue.UnmarshalMap(it, &c); err != nil {
			return out, fmt.Errorf("decode conversion: %w", err)
		}
		out = append(out, QueuedConversionOf(c.LeadID, c.Conversion))
	}
	if err != nil {
		return out, fmt.Errorf("claim conversions: %w", err)
	}
	return out, nil
}

// ConversionSent marks a claimed conversion sent at; ConversionFailed
// marks it refused or dropped, with why. Either takes it off the queue
// for good. A conversion no longer the run's (its lease ran out and
// another run claimed it) is left to that run: ErrNotClaimed.
func (s *Store) ConversionSent(ctx context.Context, run string, c QueuedConversion, at time.Time) error {
	return s.settleConversion(ctx, run, c, expression.Set(expression.Name("sent_at"), expression.Value(at)))
}

// ConversionFailed marks a claimed conversion failed (see ConversionSent).
func (s *Store) ConversionFailed(ctx context.Context, run string, c QueuedConversion, why string) error {
	if len(why) > 500 {
		why = why[:500] + "…"
	}
	return s.settleConversion(ctx, run, c, expression.Set(expression.Name("failed"), expression.Value(why)))
}

// ErrNotClaimed reports a conversion settled by a run that no longer
// holds it.
var ErrNotClaimed = errors.New("conversion not claimed by this run")

func (s *Store) settleConversion(ctx context.Context, run string, c QueuedConversion, upd expression.UpdateBuilder) error {
	if err := s.settle(ctx, run, c.pk, c.sk, upd); err != nil {
		if errors.Is(err, ErrNotClaimed) {
			return err
		}
		return fmt.Errorf("settle conversion %s of lead %s: %w", c.Stage, c.LeadID, err)
	}
	return nil
}

// foldConversion adds a conversion item to the lead's record.
func foldConversion(rec *lead.Record, it map[string]types.AttributeValue) error {
	var c conversionItem
	if err := attributevalue.UnmarshalMap(it, &c); err != nil {
		return fmt.Errorf("decode conversion of lead %s: %w", rec.ID, err)
	}
	rec.Conversions = append(rec.Conversions, c.Conversion)
	return nil
}

// isConversion reports whether a lead item's sort key is a conversion's.
func isConversion(sk string) bool { return strings.HasPrefix(sk, "X#CONV#") }
