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

// A buyer's concurrency cap on calls is held in slot items, one per call
// it may take at once: SLOT#<buyer>#<i> / SLOT, with the lead holding it
// and when the hold expires. A reservation takes one by a conditional put
// in its transaction (free: absent, or expired); the end of the dial
// frees it (ReleaseSlot). A slot whose release never came (a lost
// callback) expires on its own, so a buyer is never blocked for good.
// Each slot is its own item: calls to one buyer contend for N items,
// not one counter (DESIGN.md, "DynamoDB at scale").

// ErrSlotTaken is a reservation refused because its slot is held.
var ErrSlotTaken = errors.New("the buyer's concurrency slot is held by another call")

// SlotHold is the concurrency slot a call reservation takes.
type SlotHold struct {
	Buyer  string
	Index  int
	Holder string // the lead id
	// Expires frees the slot if no release comes.
	Expires time.Time
}

const itemSlot = "slot"

// SlotKey is the partition key of a buyer's slot i.
func SlotKey(buyer string, i int) string { return fmt.Sprintf("SLOT#%s#%d", buyer, i) }

const slotSK = "SLOT"

// slotPut takes a slot, on the condition that it is free.
func (s *Store) slotPut(h SlotHold, now time.Time) *types.Put {
	it := key(SlotKey(h.Buyer, h.Index), slotSK)
	it["holder"] = str(h.Holder)
	it[attrExpires] = expiry(h.Expires)
	return &types.Put{
		TableName: aws.String(s.table), Item: it,
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR expires_at < :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(now.Unix())},
	}
}

// ReleaseSlot frees the slot slotKey (SlotKey) if holder still holds it
// (a slot that expired and was taken by another call is left alone);
// releasing twice is harmless.
func (s *Store) ReleaseSlot(ctx context.Context, slotKey, holder string) error {
	_, err := s.updateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(slotKey, slotSK),
		UpdateExpression:          aws.String("SET expires_at = :zero REMOVE holder"),
		ConditionExpression:       aws.String("holder = :h"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":h": str(holder), ":zero": num(0)},
	})
	if err == nil || errors.As(err, new(*types.ConditionalCheckFailedException)) {
		return nil
	}
	return fmt.Errorf("release slot %s: %w", slotKey, err)
}
