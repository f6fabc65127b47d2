// Package store is LeadRelay's DynamoDB adapter: the one place that knows
// the table's keys and layout (keys.go), and the conditional writes that
// make caps, dedupe, idempotency and the ledger exact under concurrency and
// redelivery.
//
// Every state change of a lead is one TransactWriteItems whose first item
// is the lead itself, conditioned on the routing round (Seq) the caller
// believes the lead is in. A redelivered message finds the lead a round
// further and gets a *StaleError; nothing is written twice.
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

	"github.com/leadrelay/leadrelay/shared/lead"
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
	// zone is the agency's timezone, in which ledger days are counted
	// (UTC when nil; see CountLedgerIn).
	zone func(context.Context) *time.Location
}

// New returns a store on the table; now is the clock (time.Now in production).
func New(db DB, table string, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, table: table, now: now}
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

// GetLead reads a lead. consistent asks for a strongly consistent read.
func (s *Store) GetLead(ctx context.Context, id string, consistent bool) (*lead.Record, error) {
	pk, sk := leadKey(id)
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            key(pk, sk),
		ConsistentRead: aws.Bool(consistent),
	})
	if err != nil {
		return nil, fmt.Errorf("get lead %s: %w", id, err)
	}
	if out.Item == nil {
		return nil, ErrNotFound
	}
	return decodeLead(out.Item)
}

func decodeLead(item map[string]types.AttributeValue) (*lead.Record, error) {
	var r lead.Record
	if err := attributevalue.UnmarshalMap(item, &r); err != nil {
		return nil, fmt.Errorf("decode lead: %w", err)
	}
	return &r, nil
}

// cancellation returns the reasons of a cancelled transaction, or nil.
func cancellation(err error) []types.CancellationReason {
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		return tce.CancellationReasons
	}
	return nil
}

func failed(r types.CancellationReason) bool {
	return r.Code != nil && *r.Code == "ConditionalCheckFailed"
}

// staleFrom builds the StaleError of a cancelled lead condition.
func staleFrom(r types.CancellationReason) error {
	if r.Item == nil {
		return &StaleError{}
	}
	rec, err := decodeLead(r.Item)
	if err != nil {
		return err
	}
	return &StaleError{Current: rec}
}

func (s *Store) transact(ctx context.Context, items []types.TransactWriteItem) error {
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	return err
}

func expiry(t time.Time) types.AttributeValue { return num(t.Unix()) }
