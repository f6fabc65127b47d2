package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Bounds of batch reads: unprocessed keys are sent again with exponential
// backoff, at most batchTries times.
const (
	batchTries   = 8
	batchBackoff = 50 * time.Millisecond
)

// suppressWriters bounds the value items a suppression import writes at
// once.
const suppressWriters = 16

// Suppress puts values on a suppression list: ingest refuses a lead that
// carries any of them (PutLead). Only the values' hashes are stored, on
// the values' own items (contacts.go). A value is held once whatever the
// list: putting it on another list moves it there. It returns how many
// distinct values were written.
func (s *Store) Suppress(ctx context.Context, list string, values []Contact) (int, error) {
	at := s.now().UTC().Format(time.RFC3339)
	distinct := distinctContacts(values)
	err := s.eachValue(ctx, distinct, func(ctx context.Context, c Contact) error {
		pk, sk := valueKey(c.Kind, c.Value)
		_, err := s.updateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(s.table),
			Key:                       key(pk, sk),
			UpdateExpression:          aws.String("SET sup = :list, sup_at = :at, kind = :kind"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":list": str(list), ":at": str(at), ":kind": str(c.Kind)},
		})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("suppress %d value(s): %w", len(distinct), err)
	}
	return len(distinct), nil
}

// Unsuppress takes values off the suppression lists. It returns how many
// distinct values it took off (whether or not they were on a list).
func (s *Store) Unsuppress(ctx context.Context, values []Contact) (int, error) {
	distinct := distinctContacts(values)
	err := s.eachValue(ctx, distinct, func(ctx context.Context, c Contact) error {
		pk, sk := valueKey(c.Kind, c.Value)
		_, err := s.updateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:           aws.String(s.table),
			Key:                 key(pk, sk),
			UpdateExpression:    aws.String("REMOVE sup, sup_at"),
			ConditionExpression: aws.String("attribute_exists(sup)"),
		})
		if errors.As(err, new(*types.ConditionalCheckFailedException)) {
			return nil // not on a list
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("unsuppress %d value(s): %w", len(distinct), err)
	}
	return len(distinct), nil
}

// eachValue runs write for every value, suppressWriters at once; the
// first error stops it.
func (s *Store) eachValue(ctx context.Context, values []Contact, write func(context.Context, Contact) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan Contact)
	errs := make(chan error, suppressWriters)
	var wg sync.WaitGroup
	for range min(suppressWriters, len(values)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				if err := write(ctx, c); err != nil {
					errs <- err
					cancel()
					return
				}
			}
		}()
	}
feed:
	for _, c := range values {
		select {
		case work <- c:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	return ctx.Err()
}

// distinctContacts drops repeated values: a BatchWriteItem refuses two
// writes of one key.
func distinctContacts(values []Contact) []Contact {
	seen := make(map[string]bool, len(values))
	out := make([]Contact, 0, len(values))
	for _, c := range values {
		pk, _ := valueKey(c.Kind, c.Value)
		if !seen[pk] {
			seen[pk] = true
			out = append(out, c)
		}
	}
	return out
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

// batchGet reads the projection of items by key (eventually consistent;
// projection "": the whole items),
// at most 100 a request, sending unprocessed keys again with backoff.
// Items come back in no particular order.
func (s *Store) batchGet(ctx context.Context, keys []map[string]types.AttributeValue, projection string) ([]map[string]types.AttributeValue, error) {
	const most = 100
	var items []map[string]types.AttributeValue
	for start := 0; start < len(keys); start += most {
		pending := keys[start:min(start+most, len(keys))]
		for try := 1; len(pending) > 0; try++ {
			ka := types.KeysAndAttributes{Keys: pending}
			if projection != "" {
				ka.ProjectionExpression = aws.String(projection)
			}
			out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{s.table: ka}})
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
