package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/money"
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

// CallDial is what a connected call's dial adds to the P&L of the lead's
// campaign, source and the buyer: a connected call, billable or not, and
// its seconds (the report's average call duration is seconds over
// connected calls).
type CallDial struct {
	Seconds  int64
	Billable bool
	// Payout, for EndCall, is the source's payout for the connected call
	// not billed, when the source is paid per connected call: the
	// lead's CallPayout and a cost in the ledger, written with the round
	// that ends the call, so once however often Twilio retries. (Sell
	// takes a billed call's payout from its sale.)
	Payout money.Amount
}

// counts are the dial's ledger counts.
func (d CallDial) counts() counts {
	c := counts{"connected": 1, "call_seconds": d.Seconds}
	if d.Billable {
		c["billable"] = 1
	}
	return c
}

// EndCall ends a call that will not be billed, from round seq: the
// assignment's caps given back and the lead unsold, in one round (one
// transaction); a connected dial's figures (dial, when set) counted for
// the campaign, source and buyer, with the source's payout per connected
// call (dial.Payout) as their cost. A taken round is a *StaleError.
func (s *Store) EndCall(ctx context.Context, rec *lead.Record, seq int, holds []lead.CapHold, events []lead.Event, dial *CallDial) error {
	now := s.now()
	rd := round{Seq: seq + 1, Status: lead.Unsold, At: now, Event: events}
	if dial != nil && dial.Payout > 0 {
		rd.CallPayout = dial.Payout
	}
	var lg []entry
	if !rec.Test {
		day := s.day(ctx, now)
		c := counts{string(lead.Unsold): 1}
		var dc counts
		if dial != nil {
			dc = dial.counts()
			if rd.CallPayout > 0 {
				dc["cost"] = int64(rd.CallPayout)
			}
			maps.Copy(c, dc)
		}
		lg = entries(day, leadDims(rec.Lead), c)
		if dial != nil && rec.Assignment != nil {
			// The buyer's, as a sale's figures are: the buyer, the
			// buyer×source and the order.
			a := rec.Assignment
			lg = append(lg, entries(day, map[string]string{DimBuyer: a.Buyer, DimBuyerSource: BuyerSourceID(a.Buyer, rec.Source),
				DimOrder: a.Buyer + "/" + a.Order}, dc)...)
		}
	}
	put, err := s.roundPut(rec.ID, rd, time.Time{}, lg)
	if err != nil {
		return err
	}
	t := &txn{}
	t.put(itemLead, put)
	s.releaseHolds(t, holds)
	if _, err := s.commitRound(ctx, rec.ID, t); err != nil {
		if errors.As(err, new(*StaleError)) {
			return err
		}
		return fmt.Errorf("end call %s: %w", rec.ID, err)
	}
	return nil
}
