package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TakeRate adds units to the count of what's rate window (the window
// starting at window, lasting length) if the count stays within limit, and
// reports whether it did. Package ratelimit takes a window's units in
// leases of many units, so a source's window item is written a few times
// a window by each function instance, never once a request: no item is
// hot, and there is no transaction to collide with.
func (s *Store) TakeRate(ctx context.Context, what string, window time.Time, length time.Duration, units, limit int) (bool, error) {
	pk, sk := rateKey(what, window)
	_, err := s.updateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 key(pk, sk),
		UpdateExpression:    aws.String("ADD n :units SET expires_at = :exp"),
		ConditionExpression: aws.String("attribute_not_exists(n) OR n <= :most"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":units": num(int64(units)), ":most": num(int64(limit - units)),
			":exp": expiry(window.Add(length + time.Minute)),
		},
	})
	if errors.As(err, new(*types.ConditionalCheckFailedException)) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("take %d of rate window %s: %w", units, pk, err)
	}
	return true, nil
}
