package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/leadrelay/leadrelay/shared/money"
)

// A prepaid buyer's balance is one item, like its caps: BALANCE#<buyer>.
// "bal" is what the buyer can still spend, in cents. An offer takes the
// lead's price from it in the reservation's transaction, on the condition
// that it covers the price — so a balance never goes below zero, and two
// leads offered at once cannot both spend its last dollars —; a buyer who
// refuses the lead gets it back with the caps (Release), a return credits
// it, and a top-up adds to it once per payment (TOPUP#<payment id>).

// balanceSK is the sort key of a balance item.
const balanceSK = "BALANCE"

// BalanceKey is the key of a buyer's balance, as an assignment's cap hold
// names it (lead.CapHold.Key): Release gives its amount back.
func BalanceKey(buyer string) string { return "BALANCE#" + buyer }

// isBalanceKey reports whether a cap hold is a balance's.
func isBalanceKey(k string) bool { return strings.HasPrefix(k, "BALANCE#") }

// topUpKey names the record of a payment credited to a balance.
func topUpKey(payment string) (string, string) { return "TOPUP#" + payment, "TOPUP" }

// BalanceHold is the price an offer takes from a prepaid buyer's balance.
type BalanceHold struct {
	Buyer  string
	Amount money.Amount
}

// BalanceError reports a prepaid balance that cannot pay for the lead.
type BalanceError struct {
	Buyer   string
	Price   money.Amount
	Balance money.Amount // as it was when the offer was refused
}

func (e *BalanceError) Error() string {
	return fmt.Sprintf("the prepaid balance of %s (%s) cannot pay %s", e.Buyer, e.Balance, e.Price)
}

// itemBalance names a reservation's balance update.
const itemBalance = "balance"

// balanceTake takes an offer's price from the buyer's balance, on the
// condition that the balance covers it; the balance as it was comes back
// with a refusal.
func (s *Store) balanceTake(h BalanceHold) *types.Update {
	return &types.Update{
		TableName:                           aws.String(s.table),
		Key:                                 key(BalanceKey(h.Buyer), balanceSK),
		UpdateExpression:                    aws.String("ADD bal :neg"),
		ConditionExpression:                 aws.String("bal >= :amt"),
		ExpressionAttributeValues:           map[string]types.AttributeValue{":neg": num(-int64(h.Amount)), ":amt": num(int64(h.Amount))},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
}

// balanceCredit gives an amount back to a buyer's balance (a refused
// offer, a return).
func (s *Store) balanceCredit(buyer string, amt money.Amount) *types.Update {
	return &types.Update{
		TableName:                 aws.String(s.table),
		Key:                       key(BalanceKey(buyer), balanceSK),
		UpdateExpression:          aws.String("ADD bal :amt"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":amt": num(int64(amt))},
	}
}

// Balance is a prepaid buyer's balance item.
type Balance struct {
	Buyer string `dynamodbav:"-" json:"buyer"`
	// Amount is what the buyer can spend; Funded what its top-ups added
	// in all.
	Amount money.Amount `dynamodbav:"bal" json:"balance"`
	Funded money.Amount `dynamodbav:"funded" json:"funded"`
	// LastTopUp is when the last top-up was credited.
	LastTopUp time.Time `dynamodbav:"last_topup_at,omitempty" json:"last_topup_at,omitzero"`
	// Notified is the last low-balance notice sent since the last top-up
	// ("low", "empty"), so that each is sent once a crossing.
	Notified string `dynamodbav:"notified,omitempty" json:"-"`
	// Recharge is when an automatic recharge was started and not yet
	// credited (zero: none in flight).
	Recharge int64 `dynamodbav:"recharge_at,omitempty" json:"-"`
}

// Balance reads a buyer's balance (strongly consistent); a buyer never
// funded has a zero balance.
func (s *Store) Balance(ctx context.Context, buyer string) (Balance, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: key(BalanceKey(buyer), balanceSK), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Balance{}, fmt.Errorf("read balance of %s: %w", buyer, err)
	}
	b := Balance{}
	if out.Item != nil {
		if err := attributevalue.UnmarshalMap(out.Item, &b); err != nil {
			return Balance{}, fmt.Errorf("decode balance of %s: %w", buyer, err)
		}
	}
	b.Buyer = buyer
	return b, nil
}

// TopUp credits a payment to a buyer's balance, once per payment id (a
// Stripe PaymentIntent): applied is false when it was credited before.
func (s *Store) TopUp(ctx context.Context, buyer, payment string, amt money.Amount, at time.Time) (applied bool, err error) {
	if amt <= 0 {
		return false, fmt.Errorf("top-up of %s: amount %s is not positive", buyer, amt)
	}
	pk, sk := topUpKey(payment)
	rec := key(pk, sk)
	rec["buyer"], rec["amount"], rec["at"] = str(buyer), num(int64(amt)), str(sortTime(at))
	t := &txn{}
	t.put(itemOwn, &types.Put{TableName: aws.String(s.table), Item: rec, ConditionExpression: aws.String("attribute_not_exists(pk)")})
	t.update(itemBalance, &types.Update{
		TableName: aws.String(s.table),
		Key:       key(BalanceKey(buyer), balanceSK),
		// A top-up starts a new crossing: the notices may be sent again,
		// and a recharge in flight is over.
		UpdateExpression:          aws.String("ADD bal :amt, funded :amt SET last_topup_at = :at REMOVE notified, recharge_at"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":amt": num(int64(amt)), ":at": str(at.UTC().Format(time.RFC3339Nano))},
	})
	err = s.transact(ctx, t)
	if _, ok := t.failures(err)[itemOwn]; ok {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("top up %s: %w", buyer, err)
	}
	return true, nil
}

// MarkBalanceNotice records that the notice level ("low", "empty") was
// sent for the balance's current crossing: false when it was already.
func (s *Store) MarkBalanceNotice(ctx context.Context, buyer, level string) (bool, error) {
	_, err := s.updateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(BalanceKey(buyer), balanceSK),
		UpdateExpression:          aws.String("SET notified = :l"),
		ConditionExpression:       aws.String("attribute_not_exists(notified) OR notified <> :l"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":l": str(level)},
	})
	if errors.As(err, new(*types.ConditionalCheckFailedException)) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("mark balance notice of %s: %w", buyer, err)
	}
	return true, nil
}

// StartRecharge claims the buyer's automatic recharge: false when one is
// in flight (started after stale and not yet credited). started names
// the recharge (the charge's idempotency key is made of it), so a run
// that retries after a failure charges no second time.
func (s *Store) StartRecharge(ctx context.Context, buyer string, now time.Time, stale time.Duration) (started int64, ok bool, err error) {
	started = now.UnixNano()
	_, err = s.updateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(BalanceKey(buyer), balanceSK),
		UpdateExpression:          aws.String("SET recharge_at = :now"),
		ConditionExpression:       aws.String("attribute_not_exists(recharge_at) OR recharge_at < :stale"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(started), ":stale": num(now.Add(-stale).UnixNano())},
	})
	if errors.As(err, new(*types.ConditionalCheckFailedException)) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("start recharge of %s: %w", buyer, err)
	}
	return started, true, nil
}
