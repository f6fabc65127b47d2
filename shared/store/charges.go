package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/leadrelay/leadrelay/shared/lead"
)

// A charge (lead.Charge) is what an invoiced buyer is billed for a sale or
// credited for its return. It is put once, in the transaction of the sale
// or the return, into the buyer's billing period — BILL#<buyer>#<YYYY-MM>,
// sorted by time — so that a period's charges are one Query (the billing
// statement), and a busy buyer's charges are its own partition, like its
// caps. While it waits to be reported to Stripe it is listed in GSI1
// under BILLQ#<shard>; reporting claims it (a lease) and marks it sent or
// failed, which takes it off the index, as conversions do.

// chargeKey names a charge in its buyer's period.
func chargeKey(c *lead.Charge) (string, string) {
	return "BILL#" + c.Buyer + "#" + c.Period, sortTime(c.At) + "#" + c.ID
}

func chargePartition(s int) string { return fmt.Sprintf("BILLQ#%d", s) }

// itemCharge names a charge queued in a sale's or return's transaction.
const itemCharge = "charge"

// chargePut queues a charge, put on the condition that it is not there.
func (s *Store) chargePut(c *lead.Charge) (*types.Put, error) {
	item, err := attributevalue.MarshalMap(c)
	if err != nil {
		return nil, fmt.Errorf("encode charge %s: %w", c.ID, err)
	}
	delete(item, "sent_at")
	delete(item, "failed")
	pk, sk := chargeKey(c)
	item[attrPK], item[attrSK] = str(pk), str(sk)
	item[attrGSI1PK] = str(chargePartition(shard(c.ID)))
	item[attrGSI1SK] = str(sk)
	return &types.Put{TableName: aws.String(s.table), Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")}, nil
}

// ClaimCharges claims up to limit queued charges for a run until lease,
// as ClaimConversions does.
func (s *Store) ClaimCharges(ctx context.Context, run string, limit int, lease time.Duration) ([]lead.Charge, error) {
	items, err := s.claimQueued(ctx, chargePartition, run, limit, lease)
	out := make([]lead.Charge, 0, len(items))
	for _, it := range items {
		var c lead.Charge
		if err := attributevalue.UnmarshalMap(it, &c); err != nil {
			return out, fmt.Errorf("decode charge: %w", err)
		}
		out = append(out, c)
	}
	if err != nil {
		return out, fmt.Errorf("claim charges: %w", err)
	}
	return out, nil
}

// claimQueued claims up to limit items of an outbox (its index
// partitions named by partition, one per shard) for a run until lease,
// the oldest of each shard first, and answers them as they are now. An
// item claimed by another run whose lease has not run out, or settled
// meanwhile, is left alone: the index is read eventually consistently,
// and the claim is the conditional write that makes an item the run's.
func (s *Store) claimQueued(ctx context.Context, partition func(int) string, run string, limit int, lease time.Duration) ([]map[string]types.AttributeValue, error) {
	now := s.now()
	var out []map[string]types.AttributeValue
	for sh := 0; sh < IndexShards && len(out) < limit; sh++ {
		q, err := s.db.Query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(s.table),
			IndexName:                 aws.String(GSI1),
			KeyConditionExpression:    aws.String("gsi1pk = :p"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":p": str(partition(sh))},
			Limit:                     aws.Int32(int32(limit - len(out))),
		})
		if err != nil {
			return out, fmt.Errorf("list %s: %w", partition(sh), err)
		}
		for _, it := range q.Items {
			attrs, ok, err := s.claim(ctx, it[attrPK], it[attrSK], run, now, lease)
			if err != nil {
				return out, err
			}
			if ok {
				out = append(out, attrs)
			}
		}
	}
	return out, nil
}

// claim takes an outbox item (a conversion, a charge) for a run: it must
// be neither sent nor failed, and free or its lease over. It answers the
// item as it is now.
func (s *Store) claim(ctx context.Context, pk, sk types.AttributeValue, run string, now time.Time, lease time.Duration) (map[string]types.AttributeValue, bool, error) {
	cond := expression.AttributeExists(expression.Name(attrPK)).
		And(expression.AttributeNotExists(expression.Name("sent_at"))).
		And(expression.AttributeNotExists(expression.Name("failed"))).
		And(expression.Or(
			expression.AttributeNotExists(expression.Name("claim_until")),
			expression.Name("claim_until").LessThan(expression.Value(now.Unix())),
		))
	upd := expression.Set(expression.Name("claim"), expression.Value(run)).
		Set(expression.Name("claim_until"), expression.Value(now.Add(lease).Unix()))
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(upd).Build()
	if err != nil {
		return nil, false, fmt.Errorf("claim expression: %w", err)
	}
	out, err := s.updateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: map[string]types.AttributeValue{attrPK: pk, attrSK: sk},
		ConditionExpression: expr.Condition(), UpdateExpression: expr.Update(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValues: types.ReturnValueAllNew,
	})
	if errors.As(err, new(*types.ConditionalCheckFailedException)) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return out.Attributes, true, nil
}

// settle marks a claimed outbox item sent or failed (upd), taking it off
// the queue; ErrNotClaimed when the run no longer holds it.
func (s *Store) settle(ctx context.Context, run, pk, sk string, upd expression.UpdateBuilder) error {
	upd = upd.Remove(expression.Name(attrGSI1PK)).Remove(expression.Name(attrGSI1SK)).
		Remove(expression.Name("claim")).Remove(expression.Name("claim_until"))
	expr, err := expression.NewBuilder().
		WithCondition(expression.Name("claim").Equal(expression.Value(run))).
		WithUpdate(upd).Build()
	if err != nil {
		return fmt.Errorf("settle expression: %w", err)
	}
	_, err = s.updateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: key(pk, sk),
		ConditionExpression: expr.Condition(), UpdateExpression: expr.Update(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	if errors.As(err, new(*types.ConditionalCheckFailedException)) {
		return ErrNotClaimed
	}
	return err
}

// ChargeSent marks a claimed charge sent at; ChargeFailed marks it refused
// with why. Either takes it off the queue for good.
func (s *Store) ChargeSent(ctx context.Context, run string, c lead.Charge, at time.Time) error {
	pk, sk := chargeKey(&c)
	if err := s.settle(ctx, run, pk, sk, expression.Set(expression.Name("sent_at"), expression.Value(at))); err != nil {
		return fmt.Errorf("settle charge %s: %w", c.ID, err)
	}
	return nil
}

// ChargeFailed marks a claimed charge failed (see ChargeSent).
func (s *Store) ChargeFailed(ctx context.Context, run string, c lead.Charge, why string) error {
	if len(why) > 500 {
		why = why[:500] + "…"
	}
	pk, sk := chargeKey(&c)
	if err := s.settle(ctx, run, pk, sk, expression.Set(expression.Name("failed"), expression.Value(why))); err != nil {
		return fmt.Errorf("settle charge %s: %w", c.ID, err)
	}
	return nil
}

// Charges reads a buyer's charges of a billing period (YYYY-MM), oldest
// first: its billing statement.
func (s *Store) Charges(ctx context.Context, buyer, period string) ([]lead.Charge, error) {
	var out []lead.Charge
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("pk = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": str("BILL#" + buyer + "#" + period)},
		ConsistentRead:            aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("read charges of %s in %s: %w", buyer, period, err)
		}
		for _, it := range page.Items {
			var c lead.Charge
			if err := attributevalue.UnmarshalMap(it, &c); err != nil {
				return nil, fmt.Errorf("decode charge: %w", err)
			}
			out = append(out, c)
		}
	}
	return out, nil
}
