package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Bounds of the batch writes of suppression lists: DynamoDB takes 25
// writes a BatchWriteItem; unprocessed writes are sent again with
// exponential backoff, at most batchTries times.
const (
	batchSize    = 25
	batchTries   = 8
	batchBackoff = 50 * time.Millisecond
)

// Suppress puts values on a suppression list: ingest refuses a lead that
// carries any of them (PutLead). Only the values' hashes are stored. A
// value is held once whatever the list: putting it on another list moves
// it there. It returns how many distinct values were written.
func (s *Store) Suppress(ctx context.Context, list string, values []Contact) (int, error) {
	at := s.now().UTC().Format(time.RFC3339)
	reqs := make([]types.WriteRequest, 0, len(values))
	for _, c := range distinctContacts(values) {
		pk, sk := suppressKey(c.Kind, c.Value)
		it := key(pk, sk)
		it["list"] = str(list)
		it["kind"] = str(c.Kind)
		it["added_at"] = str(at)
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
	}
	if err := s.batchWrite(ctx, reqs); err != nil {
		return 0, fmt.Errorf("suppress %d value(s): %w", len(reqs), err)
	}
	return len(reqs), nil
}

// Unsuppress takes values off the suppression lists. It returns how many
// distinct values were deleted (whether or not they were on a list).
func (s *Store) Unsuppress(ctx context.Context, values []Contact) (int, error) {
	reqs := make([]types.WriteRequest, 0, len(values))
	for _, c := range distinctContacts(values) {
		pk, sk := suppressKey(c.Kind, c.Value)
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: key(pk, sk)}})
	}
	if err := s.batchWrite(ctx, reqs); err != nil {
		return 0, fmt.Errorf("unsuppress %d value(s): %w", len(reqs), err)
	}
	return len(reqs), nil
}

// distinctContacts drops repeated values: a BatchWriteItem refuses two
// writes of one key.
func distinctContacts(values []Contact) []Contact {
	seen := make(map[string]bool, len(values))
	out := make([]Contact, 0, len(values))
	for _, c := range values {
		pk, _ := suppressKey(c.Kind, c.Value)
		if !seen[pk] {
			seen[pk] = true
			out = append(out, c)
		}
	}
	return out
}

// batchWrite sends writes in batches of 25, sending unprocessed writes
// again with backoff.
func (s *Store) batchWrite(ctx context.Context, reqs []types.WriteRequest) error {
	for start := 0; start < len(reqs); start += batchSize {
		pending := reqs[start:min(start+batchSize, len(reqs))]
		for try := 1; len(pending) > 0; try++ {
			out, err := s.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
				RequestItems: map[string][]types.WriteRequest{s.table: pending},
			})
			if err != nil {
				return fmt.Errorf("batch write: %w", err)
			}
			pending = out.UnprocessedItems[s.table]
			if len(pending) == 0 {
				break
			}
			if try == batchTries {
				return fmt.Errorf("batch write: %d write(s) still unprocessed after %d tries", len(pending), try)
			}
			if err := sleep(ctx, batchBackoff<<(try-1)); err != nil {
				return err
			}
		}
	}
	return nil
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// batchGet reads items by key, at most 100 a request, sending unprocessed
// keys again with backoff. Items come back in no particular order.
func (s *Store) batchGet(ctx context.Context, keys []map[string]types.AttributeValue) ([]map[string]types.AttributeValue, error) {
	const most = 100
	var items []map[string]types.AttributeValue
	for start := 0; start < len(keys); start += most {
		pending := keys[start:min(start+most, len(keys))]
		for try := 1; len(pending) > 0; try++ {
			out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
				RequestItems: map[string]types.KeysAndAttributes{s.table: {Keys: pending, ConsistentRead: aws.Bool(true)}},
			})
			if err != nil {
				return nil, fmt.Errorf("batch get: %w", err)
			}
			items = append(items, out.Responses[s.table]...)
			pending = out.UnprocessedKeys[s.table].Keys
			if len(pending) == 0 {
				break
			}
			if try == batchTries {
				return nil, fmt.Errorf("batch get: %d key(s) still unprocessed after %d tries", len(pending), try)
			}
			if err := sleep(ctx, batchBackoff<<(try-1)); err != nil {
				return nil, err
			}
		}
	}
	return items, nil
}
