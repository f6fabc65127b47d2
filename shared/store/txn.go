package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// txn is a TransactWriteItems under construction whose items have names:
// a cancellation is read by name, never by position.
type txn struct {
	items []types.TransactWriteItem
	names []string
}

func (t *txn) add(name string, it types.TransactWriteItem) {
	t.items = append(t.items, it)
	t.names = append(t.names, name)
}

func (t *txn) put(name string, p *types.Put) { t.add(name, types.TransactWriteItem{Put: p}) }

func (t *txn) update(name string, u *types.Update) { t.add(name, types.TransactWriteItem{Update: u}) }

func (t *txn) check(name string, c *types.ConditionCheck) {
	t.add(name, types.TransactWriteItem{ConditionCheck: c})
}

// Failed is what a cancelled transaction says of its items: the names
// whose condition failed, each with the item as it was (when the item
// asked for it).
type Failed map[string]map[string]types.AttributeValue

// failures reads a cancelled transaction: nil unless err is a
// cancellation with at least one failed condition.
func (t *txn) failures(err error) Failed {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return nil
	}
	var out Failed
	for i, r := range tce.CancellationReasons {
		if i < len(t.names) && r.Code != nil && *r.Code == "ConditionalCheckFailed" {
			if out == nil {
				out = Failed{}
			}
			out[t.names[i]] = r.Item
		}
	}
	return out
}

// Retry is how the store retries a write that collided with another
// request on the same item, or was throttled: up to Tries attempts,
// waiting a random time in [0, min(Cap, Base·2^n)) before attempt n+1
// (exponential backoff with full jitter).
type Retry struct {
	Tries     int
	Base, Cap time.Duration
}

// DefaultRetry suits DynamoDB's transaction conflicts, which last as long
// as the other transaction (10–30 ms): ten tries spread over about two
// seconds at worst.
var DefaultRetry = Retry{Tries: 10, Base: 10 * time.Millisecond, Cap: 500 * time.Millisecond}

// collided reports whether err is a collision or a throttle that trying
// again can get past: a transaction cancelled only for conflicts (or
// throttling) on some of its items, a single write refused because a
// transaction held its item, or throttling. A cancellation with a failed
// condition is an answer, not a collision.
func collided(err error) bool {
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		busy := false
		for _, r := range tce.CancellationReasons {
			switch code := deref(r.Code); code {
			case "", "None":
			case "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded":
				busy = true
			default:
				return false
			}
		}
		return busy
	}
	var tc *types.TransactionConflictException
	var pt *types.ProvisionedThroughputExceededException
	var rl *types.RequestLimitExceeded
	if errors.As(err, &tc) || errors.As(err, &pt) || errors.As(err, &rl) {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "ThrottlingException" || ae.ErrorCode() == "TransactionInProgressException")
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// retrying runs a write until it succeeds, fails for a reason other than
// a collision, or runs out of tries (then the last error is returned,
// wrapped in ErrBusy).
func (s *Store) retrying(ctx context.Context, write func(context.Context) error) error {
	r := s.retry
	var err error
	for try := 0; ; try++ {
		if err = write(ctx); err == nil || !collided(err) {
			return err
		}
		if try+1 >= r.Tries {
			return fmt.Errorf("%w after %d tries: %w", ErrBusy, try+1, err)
		}
		ceil := r.Cap
		if try < 30 && r.Base<<try < ceil {
			ceil = r.Base << try
		}
		if err := s.sleep(ctx, rand.N(ceil+1)); err != nil {
			return err
		}
	}
}

// ErrBusy reports a write that kept colliding with others on the same
// item for all its tries.
var ErrBusy = errors.New("item busy")

// transact writes a transaction, retrying collisions.
func (s *Store) transact(ctx context.Context, t *txn) error {
	if len(t.items) == 0 {
		return nil
	}
	return s.retrying(ctx, func(ctx context.Context) error {
		_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: t.items})
		return err
	})
}

// putItem and updateItem are single writes, retrying collisions.
func (s *Store) putItem(ctx context.Context, in *dynamodb.PutItemInput) error {
	return s.retrying(ctx, func(ctx context.Context) error {
		_, err := s.db.PutItem(ctx, in)
		return err
	})
}

func (s *Store) updateItem(ctx context.Context, in *dynamodb.UpdateItemInput) (*dynamodb.UpdateItemOutput, error) {
	var out *dynamodb.UpdateItemOutput
	err := s.retrying(ctx, func(ctx context.Context) error {
		var err error
		out, err = s.db.UpdateItem(ctx, in)
		return err
	})
	return out, err
}
