// Package store is LeadRelay's DynamoDB adapter: the one place that knows
// the table's keys and layout (keys.go), and the conditional writes that
// make caps, dedupe, idempotency and the ledger exact under concurrency and
// redelivery.
//
// A lead is a partition of immutable items (record.go): every state change
// puts the lead's next round, conditioned on its not existing, in one
// TransactWriteItems with the counters it moves. A redelivered message
// finds the round taken and gets a *StaleError; nothing is written twice.
// Writes that collide with another request on the same item (DynamoDB
// cancels them with TransactionConflict) are retried with jittered
// exponential backoff (txn.go), never surfaced as failures.
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

// DB is the part of the DynamoDB client the store uses.
type DB interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	UpdateTimeToLive(ctx context.Context, in *dynamodb.UpdateTimeToLiveInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
}

// Store reads and writes LeadRelay's table.
type Store struct {
	db    DB
	table string
	now   func() time.Time
	retry Retry
	// sleep waits between retries (a test may make it instant).
	sleep func(context.Context, time.Duration) error
	// zone is the agency's timezone, in which ledger days are counted
	// (UTC when nil; see CountLedgerIn).
	zone func(context.Context) *time.Location
}

// New returns a store on the table; now is the clock (time.Now in production).
func New(db DB, table string, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, table: table, now: now, retry: DefaultRetry, sleep: sleep}
}

// RetryWith replaces how collisions are retried (DefaultRetry).
func (s *Store) RetryWith(r Retry) {
	if r.Tries < 1 {
		r.Tries = 1
	}
	s.retry = r
}

// Table is the table's name.
func (s *Store) Table() string { return s.table }

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrPK: &types.AttributeValueMemberS{Value: pk},
		attrSK: &types.AttributeValueMemberS{Value: sk},
	}
}

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: fmt.Sprint(n)}
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func expiry(t time.Time) types.AttributeValue { return num(t.Unix()) }

// partition reads every item of a partition, in sort key order, handing
// each to each (which may stop the read with an error).
func (s *Store) partition(ctx context.Context, pk string, consistent bool, each func(map[string]types.AttributeValue) error) error {
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(pk)},
		ConsistentRead:            aws.Bool(consistent),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, it := range page.Items {
			if err := each(it); err != nil {
				return err
			}
		}
	}
	return nil
}

// staleAt reads the lead after a state change found its round taken: the
// *StaleError carrying the lead as it is now.
func (s *Store) staleAt(ctx context.Context, id string) error {
	cur, err := s.GetLead(ctx, id, true)
	if errors.Is(err, ErrNotFound) {
		return &StaleError{}
	}
	if err != nil {
		return fmt.Errorf("read lead %s after a stale write: %w", id, err)
	}
	return &StaleError{Current: cur}
}
