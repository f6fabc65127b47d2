package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/leadrelay/leadrelay/shared/breaker"
)

type breakerRow struct {
	SK         string `dynamodbav:"sk"`
	Failures   int    `dynamodbav:"failures"`
	OpenUntil  int64  `dynamodbav:"open_until"`
	TrialUntil int64  `dynamodbav:"trial_until"`
	OpenedBy   string `dynamodbav:"opened_by"`
}

func (r breakerRow) state() breaker.State {
	st := breaker.State{Failures: r.Failures, OpenedBy: r.OpenedBy}
	if r.OpenUntil > 0 {
		st.OpenUntil = time.UnixMilli(r.OpenUntil).UTC()
	}
	if r.TrialUntil > 0 {
		st.TrialUntil = time.UnixMilli(r.TrialUntil).UTC()
	}
	return st
}

func decodeBreaker(item map[string]types.AttributeValue) (breaker.State, error) {
	var r breakerRow
	if err := attributevalue.UnmarshalMap(item, &r); err != nil {
		return breaker.State{}, fmt.Errorf("decode breaker: %w", err)
	}
	return r.state(), nil
}

func millis(t time.Time) types.AttributeValue {
	if t.IsZero() {
		return num(0)
	}
	return num(t.UnixMilli())
}

// Breakers reads every buyer's breaker (one Query), by buyer id. Buyers
// without an item have a closed breaker and no failures.
func (s *Store) Breakers(ctx context.Context) (map[string]breaker.State, error) {
	pk, _ := breakerKey("")
	out := map[string]breaker.State{}
	err := s.partition(ctx, pk, true, func(it map[string]types.AttributeValue) error {
		var r breakerRow
		if err := attributevalue.UnmarshalMap(it, &r); err != nil {
			return fmt.Errorf("decode breaker: %w", err)
		}
		out[r.SK] = r.state()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read breakers: %w", err)
	}
	return out, nil
}

// BreakerFailure counts one more consecutive transient failure of the
// buyer and returns the breaker as it now is.
func (s *Store) BreakerFailure(ctx context.Context, buyer string) (breaker.State, error) {
	pk, sk := breakerKey(buyer)
	out, err := s.updateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        aws.String(s.table),
		Key:              key(pk, sk),
		UpdateExpression: aws.String("ADD failures :one SET updated_at = :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one": num(1), ":now": str(s.now().UTC().Format(time.RFC3339Nano)),
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	if err != nil {
		return breaker.State{}, fmt.Errorf("count failure of buyer %s: %w", buyer, err)
	}
	return decodeBreaker(out.Attributes)
}

// OpenBreaker opens the buyer's breaker until until, if it is still as the
// caller saw it (open until seen, zero: closed). ok is false when another
// worker changed it first: only one worker reports the opening.
func (s *Store) OpenBreaker(ctx context.Context, buyer, leadID string, seen, until time.Time) (bool, error) {
	pk, sk := breakerKey(buyer)
	_, err := s.updateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 key(pk, sk),
		UpdateExpression:    aws.String("SET open_until = :until, opened_by = :lead, updated_at = :now REMOVE trial_until"),
		ConditionExpression: aws.String("attribute_exists(pk) AND (attribute_not_exists(open_until) OR open_until = :seen)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":until": millis(until), ":seen": millis(seen), ":lead": str(leadID),
			":now": str(s.now().UTC().Format(time.RFC3339Nano)),
		},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("open breaker of buyer %s: %w", buyer, err)
	}
	return true, nil
}

// ClaimBreakerTrial claims the one trial lead of a half-open breaker: it
// holds while the breaker is still open until openUntil and no trial is out
// at now. ok is false when another worker holds the trial or the breaker
// changed; cur is then the breaker as stored.
func (s *Store) ClaimBreakerTrial(ctx context.Context, buyer string, openUntil, now, until time.Time) (ok bool, cur breaker.State, err error) {
	pk, sk := breakerKey(buyer)
	_, err = s.updateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 key(pk, sk),
		UpdateExpression:    aws.String("SET trial_until = :until"),
		ConditionExpression: aws.String("open_until = :ou AND (attribute_not_exists(trial_until) OR trial_until <= :now)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":until": millis(until), ":ou": millis(openUntil), ":now": millis(now),
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		if ccf.Item != nil {
			cur, err = decodeBreaker(ccf.Item)
		}
		return false, cur, err
	}
	if err != nil {
		return false, cur, fmt.Errorf("claim breaker trial of buyer %s: %w", buyer, err)
	}
	return true, cur, nil
}

// CloseBreaker closes the buyer's breaker and clears its failures; it
// returns the breaker as it was (OpenUntil set: this call closed it).
func (s *Store) CloseBreaker(ctx context.Context, buyer string) (breaker.State, error) {
	pk, sk := breakerKey(buyer)
	out, err := s.updateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        aws.String(s.table),
		Key:              key(pk, sk),
		UpdateExpression: aws.String("SET failures = :zero, updated_at = :now REMOVE open_until, trial_until, opened_by"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":zero": num(0), ":now": str(s.now().UTC().Format(time.RFC3339Nano)),
		},
		ReturnValues: types.ReturnValueAllOld,
	})
	if err != nil {
		return breaker.State{}, fmt.Errorf("close breaker of buyer %s: %w", buyer, err)
	}
	if out.Attributes == nil {
		return breaker.State{}, nil
	}
	return decodeBreaker(out.Attributes)
}
