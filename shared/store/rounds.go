package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/money"
)

// CapCounter is one cap bucket a reservation takes a unit of.
type CapCounter struct {
	Key     string // CapKey(scope, period, bucket)
	Limit   int64  // count cap, 0 = none
	Budget  money.Amount
	Price   money.Amount // what this sale adds to the bucket's money
	Expires time.Time
}

// BuyerDedupeKey is a value (phone, email) a buyer may buy once per window.
type BuyerDedupeKey struct {
	Buyer  string
	Field  string
	Value  string
	Window time.Duration
}

// Reservation offers a lead to one order: the lead moves to the next round
// with the assignment, and every cap counter takes a unit, all or nothing.
type Reservation struct {
	LeadID string
	Seq    int
	// Status is the lead's status while offered: routing, or sold for a
	// shared lead that already has a sale.
	Status     lead.Status
	Assignment lead.Assignment
	Caps       []CapCounter
	// BuyerDedupe keys must be free (checked, not written: the sale writes them).
	BuyerDedupe []BuyerDedupeKey
	// Rotation counts the offer for round robin and weighted distribution.
	Rotation *Rotation
	Events   []lead.Event
	// Test marks a test lead's offer: the lead's state moves, but no cap,
	// buyer dedupe check or rotation is touched.
	Test bool
}

// Rotation names an order's rotation counter. Strict makes the
// reservation fail with ErrRotationMoved if the counter is no longer at N
// (another worker served the order since it was read), so that round
// robin and weighted shares hold exactly under concurrency.
type Rotation struct {
	Campaign string
	Order    string // buyer/order
	Strict   bool
	N        int64 // the count read
}

// Rot is an order's rotation counter: how many leads it was offered, and
// when last (unix nanoseconds).
type Rot struct {
	N    int64
	Last int64
}

// ErrRotationMoved reports a strict rotation counter that moved since it
// was read: read the counters again and decide again.
var ErrRotationMoved = errors.New("rotation moved")

// roundCondition is the condition every lead state change checks: the
// lead is in the round the message speaks of.
func roundCondition(seq int, statuses ...lead.Status) expression.ConditionBuilder {
	var ops []expression.OperandBuilder
	for _, st := range statuses[1:] {
		ops = append(ops, expression.Value(st))
	}
	cond := expression.Name("seq").Equal(expression.Value(seq))
	return cond.And(expression.Name("status").In(expression.Value(statuses[0]), ops...))
}

func (s *Store) leadUpdate(id string, cond expression.ConditionBuilder, upd expression.UpdateBuilder) (types.TransactWriteItem, error) {
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(upd).Build()
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("lead %s expression: %w", id, err)
	}
	pk, sk := leadKey(id)
	return types.TransactWriteItem{Update: &types.Update{
		TableName:                           aws.String(s.table),
		Key:                                 key(pk, sk),
		ConditionExpression:                 expr.Condition(),
		UpdateExpression:                    expr.Update(),
		ExpressionAttributeNames:            expr.Names(),
		ExpressionAttributeValues:           expr.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}, nil
}

func appendEvents(upd expression.UpdateBuilder, events []lead.Event) (expression.UpdateBuilder, error) {
	if len(events) == 0 {
		return upd, nil
	}
	av, err := attributevalue.Marshal(events)
	if err != nil {
		return upd, fmt.Errorf("encode events: %w", err)
	}
	return upd.Set(expression.Name("events"),
		expression.ListAppend(expression.IfNotExists(expression.Name("events"), expression.Value(&types.AttributeValueMemberL{})), expression.Value(av))), nil
}

// Reserve offers the lead to an order. It returns *CapFullError when a cap
// has no room or a buyer dedupe key is taken, and *StaleError when the lead
// is no longer in round Seq.
func (s *Store) Reserve(ctx context.Context, r Reservation) error {
	if r.Test {
		r.Caps, r.BuyerDedupe, r.Rotation = nil, nil, nil
	}
	now := s.now()
	asg, err := attributevalue.Marshal(r.Assignment)
	if err != nil {
		return fmt.Errorf("encode assignment: %w", err)
	}
	tried, _ := attributevalue.Marshal([]string{r.Assignment.Buyer + "/" + r.Assignment.Order})
	status := r.Status
	if status == "" {
		status = lead.Routing
	}
	upd := expression.Set(expression.Name("status"), expression.Value(status)).
		Set(expression.Name("seq"), expression.Value(r.Seq+1)).
		Set(expression.Name("assignment"), expression.Value(asg)).
		Set(expression.Name("tried"), expression.ListAppend(expression.IfNotExists(expression.Name("tried"), expression.Value(&types.AttributeValueMemberL{})), expression.Value(tried))).
		Set(expression.Name("updated_at"), expression.Value(now))
	if upd, err = appendEvents(upd, r.Events); err != nil {
		return err
	}
	li, err := s.leadUpdate(r.LeadID, roundCondition(r.Seq, lead.Received, lead.Routing, lead.Sold), upd)
	if err != nil {
		return err
	}
	items := []types.TransactWriteItem{li}
	for _, c := range r.Caps {
		cond := "attribute_not_exists(pk)"
		vals := map[string]types.AttributeValue{
			":one": num(1), ":price": num(int64(c.Price)), ":exp": expiry(c.Expires.Add(35 * 24 * time.Hour)),
		}
		var limits []string
		if c.Limit > 0 {
			limits = append(limits, "n < :limit")
			vals[":limit"] = num(c.Limit)
		}
		if c.Budget > 0 {
			if c.Price > c.Budget {
				return &CapFullError{Index: len(items) - 1, Key: c.Key}
			}
			limits = append(limits, "amt <= :room")
			vals[":room"] = num(int64(c.Budget - c.Price))
		}
		if len(limits) > 0 {
			cond = "attribute_not_exists(pk) OR ("
			for i, l := range limits {
				if i > 0 {
					cond += " AND "
				}
				cond += l
			}
			cond += ")"
		}
		items = append(items, types.TransactWriteItem{Update: &types.Update{
			TableName:                 aws.String(s.table),
			Key:                       key(c.Key, "CAP"),
			UpdateExpression:          aws.String("ADD n :one, amt :price SET expires_at = :exp"),
			ConditionExpression:       aws.String(cond),
			ExpressionAttributeValues: vals,
		}})
	}
	dedupeAt := len(items)
	for _, d := range r.BuyerDedupe {
		pk, sk := buyerDedupeKey(d.Buyer, d.Field, d.Value)
		items = append(items, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
			TableName:                 aws.String(s.table),
			Key:                       key(pk, sk),
			ConditionExpression:       aws.String("attribute_not_exists(pk) OR expires_at < :now"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(now.Unix())},
		}})
	}
	rotationAt := -1
	if r.Rotation != nil {
		pk, sk := rotationKey(r.Rotation.Campaign, r.Rotation.Order)
		u := &types.Update{
			TableName:                 aws.String(s.table),
			Key:                       key(pk, sk),
			UpdateExpression:          aws.String("ADD n :one SET #last = :now"),
			ExpressionAttributeNames:  map[string]string{"#last": "last"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":one": num(1), ":now": num(now.UnixNano())},
		}
		if r.Rotation.Strict {
			u.ConditionExpression = aws.String("attribute_not_exists(n) AND :n = :zero OR n = :n")
			u.ExpressionAttributeValues[":n"] = num(r.Rotation.N)
			u.ExpressionAttributeValues[":zero"] = num(0)
		}
		rotationAt = len(items)
		items = append(items, types.TransactWriteItem{Update: u})
	}
	err = s.transact(ctx, items)
	reasons := cancellation(err)
	if reasons == nil {
		if err != nil {
			return fmt.Errorf("reserve lead %s for %s/%s: %w", r.LeadID, r.Assignment.Buyer, r.Assignment.Order, err)
		}
		return nil
	}
	if len(reasons) > 0 && failed(reasons[0]) {
		return staleFrom(reasons[0])
	}
	for i, c := range r.Caps {
		if 1+i < len(reasons) && failed(reasons[1+i]) {
			return &CapFullError{Index: i, Key: c.Key}
		}
	}
	for i, d := range r.BuyerDedupe {
		if j := dedupeAt + i; j < len(reasons) && failed(reasons[j]) {
			return &CapFullError{Index: -1, Key: d.Field, Dedupe: true}
		}
	}
	if rotationAt >= 0 && rotationAt < len(reasons) && failed(reasons[rotationAt]) {
		return ErrRotationMoved
	}
	return fmt.Errorf("reserve lead %s: %w", r.LeadID, err)
}

// Finish ends a lead's routing without a sale (unsold or rejected), or with
// the sales it has (sold), from round Seq.
func (s *Store) Finish(ctx context.Context, id string, seq int, status lead.Status, rec *lead.Record, events []lead.Event) error {
	now := s.now()
	upd := expression.Set(expression.Name("status"), expression.Value(status)).
		Set(expression.Name("seq"), expression.Value(seq+1)).
		Set(expression.Name("updated_at"), expression.Value(now)).
		Remove(expression.Name("assignment"))
	upd, err := appendEvents(upd, events)
	if err != nil {
		return err
	}
	li, err := s.leadUpdate(id, roundCondition(seq, lead.Received, lead.Routing, lead.Sold), upd)
	if err != nil {
		return err
	}
	items := []types.TransactWriteItem{li}
	if !rec.Test && status != lead.Sold {
		items = append(items, s.ledger(s.day(ctx, now), map[string]string{DimCampaign: rec.Campaign, DimSource: rec.Source}, counts{string(status): 1})...)
	}
	err = s.transact(ctx, items)
	if reasons := cancellation(err); len(reasons) > 0 && failed(reasons[0]) {
		return staleFrom(reasons[0])
	}
	if err != nil {
		return fmt.Errorf("finish lead %s: %w", id, err)
	}
	return nil
}

// SaleInput records a buyer's acceptance of the lead's current assignment.
type SaleInput struct {
	Lead *lead.Lead
	Seq  int
	Sale lead.Sale
	// First is the lead's first sale (the sold count goes up once a lead).
	First bool
	// More keeps the lead routing for further buyers (shared leads).
	More        bool
	BuyerDedupe []BuyerDedupeKey
	Events      []lead.Event
}

// Sell marks the assignment of round Seq sold and writes the ledger in the
// same transaction. The lead is sold from the first sale on.
func (s *Store) Sell(ctx context.Context, in SaleInput) error {
	now := s.now()
	sale, err := attributevalue.Marshal([]lead.Sale{in.Sale})
	if err != nil {
		return fmt.Errorf("encode sale: %w", err)
	}
	upd := expression.Set(expression.Name("status"), expression.Value(lead.Sold)).
		Set(expression.Name("seq"), expression.Value(in.Seq+1)).
		Set(expression.Name("updated_at"), expression.Value(now)).
		Set(expression.Name("sales"), expression.ListAppend(expression.IfNotExists(expression.Name("sales"), expression.Value(&types.AttributeValueMemberL{})), expression.Value(sale))).
		Remove(expression.Name("assignment"))
	if upd, err = appendEvents(upd, in.Events); err != nil {
		return err
	}
	cond := roundCondition(in.Seq, lead.Routing, lead.Sold).And(expression.AttributeExists(expression.Name("assignment")))
	li, err := s.leadUpdate(in.Lead.ID, cond, upd)
	if err != nil {
		return err
	}
	items := []types.TransactWriteItem{li}
	if !in.Lead.Test {
		// The sale counts on the day of its time (Sale.At), in the agency's zone.
		day := s.day(ctx, cmp.Or(in.Sale.At, now))
		c := counts{"revenue": int64(in.Sale.Price), "cost": int64(in.Sale.Payout), "sales": 1}
		if in.First {
			c["sold"] = 1
		}
		items = append(items, s.ledger(day, map[string]string{DimCampaign: in.Lead.Campaign, DimSource: in.Lead.Source}, c)...)
		bc := counts{"revenue": int64(in.Sale.Price), "cost": int64(in.Sale.Payout), "sales": 1, "sold": 1}
		items = append(items, s.ledger(day, map[string]string{DimBuyer: in.Sale.Buyer, DimBuyerSource: BuyerSourceID(in.Sale.Buyer, in.Lead.Source)}, bc)...)
		for _, d := range in.BuyerDedupe {
			pk, sk := buyerDedupeKey(d.Buyer, d.Field, d.Value)
			it := key(pk, sk)
			it["lead_id"] = str(in.Lead.ID)
			it[attrExpires] = expiry(now.Add(d.Window))
			items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.table), Item: it}})
		}
	}
	err = s.transact(ctx, items)
	if reasons := cancellation(err); len(reasons) > 0 && failed(reasons[0]) {
		return staleFrom(reasons[0])
	}
	if err != nil {
		return fmt.Errorf("sell lead %s: %w", in.Lead.ID, err)
	}
	return nil
}

// Release gives back the caps of round Seq's assignment after the buyer
// refused the lead (or delivery gave up), and moves the lead to the next
// round for the router.
func (s *Store) Release(ctx context.Context, id string, seq int, holds []lead.CapHold, events []lead.Event) error {
	now := s.now()
	upd := expression.Set(expression.Name("seq"), expression.Value(seq+1)).
		Set(expression.Name("updated_at"), expression.Value(now)).
		Remove(expression.Name("assignment"))
	upd, err := appendEvents(upd, events)
	if err != nil {
		return err
	}
	cond := roundCondition(seq, lead.Routing, lead.Sold).And(expression.AttributeExists(expression.Name("assignment")))
	li, err := s.leadUpdate(id, cond, upd)
	if err != nil {
		return err
	}
	items := []types.TransactWriteItem{li}
	for _, h := range holds {
		items = append(items, types.TransactWriteItem{Update: &types.Update{
			TableName:        aws.String(s.table),
			Key:              key(h.Key, "CAP"),
			UpdateExpression: aws.String("ADD n :minus, amt :amt"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":minus": num(-1), ":amt": num(-int64(h.Amount)),
			},
		}})
	}
	err = s.transact(ctx, items)
	if reasons := cancellation(err); len(reasons) > 0 && failed(reasons[0]) {
		return staleFrom(reasons[0])
	}
	if err != nil {
		return fmt.Errorf("release lead %s: %w", id, err)
	}
	return nil
}

// Rotations reads a campaign's rotation counters (order key → counter) in
// one query.
func (s *Store) Rotations(ctx context.Context, campaign string) (map[string]Rot, error) {
	pk, _ := rotationKey(campaign, "")
	out := map[string]Rot{}
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(pk)},
		ConsistentRead:            aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("rotations of %s: %w", campaign, err)
		}
		for _, it := range page.Items {
			var row struct {
				SK   string `dynamodbav:"sk"`
				N    int64  `dynamodbav:"n"`
				Last int64  `dynamodbav:"last"`
			}
			if err := attributevalue.UnmarshalMap(it, &row); err == nil {
				out[row.SK] = Rot{N: row.N, Last: row.Last}
			}
		}
	}
	return out, nil
}

// CapCount reads a cap counter: the units and money it holds.
func (s *Store) CapCount(ctx context.Context, capKey string) (int64, money.Amount, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: key(capKey, "CAP"), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return 0, 0, fmt.Errorf("read cap %s: %w", capKey, err)
	}
	var row struct {
		N   int64 `dynamodbav:"n"`
		Amt int64 `dynamodbav:"amt"`
	}
	if err := attributevalue.UnmarshalMap(out.Item, &row); err != nil {
		return 0, 0, fmt.Errorf("decode cap %s: %w", capKey, err)
	}
	return row.N, money.Amount(row.Amt), nil
}

// AppendEvents adds events to the timeline of a lead still in round Seq
// (a failed delivery attempt that will be retried).
func (s *Store) AppendEvents(ctx context.Context, id string, seq int, events []lead.Event) error {
	upd := expression.Set(expression.Name("updated_at"), expression.Value(s.now()))
	upd, err := appendEvents(upd, events)
	if err != nil {
		return err
	}
	li, err := s.leadUpdate(id, expression.Name("seq").Equal(expression.Value(seq)), upd)
	if err != nil {
		return err
	}
	u := li.Update
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: u.TableName, Key: u.Key, ConditionExpression: u.ConditionExpression,
		UpdateExpression: u.UpdateExpression, ExpressionAttributeNames: u.ExpressionAttributeNames,
		ExpressionAttributeValues:           u.ExpressionAttributeValues,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		if ccf.Item == nil {
			return &StaleError{}
		}
		rec, derr := decodeLead(ccf.Item)
		if derr != nil {
			return derr
		}
		return &StaleError{Current: rec}
	}
	if err != nil {
		return fmt.Errorf("append events to lead %s: %w", id, err)
	}
	return nil
}

// LedgerRow is one day's figures for one campaign, source or buyer.
type LedgerRow struct {
	Day       string
	Dimension string
	ID        string
	Counts    map[string]int64
}

// Ledger reads one day's aggregates (a date YYYY-MM-DD in the agency's
// timezone): one query.
func (s *Store) Ledger(ctx context.Context, day string) ([]LedgerRow, error) {
	pk, _ := ledgerKey(day, "", "")
	var rows []LedgerRow
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(pk)},
		ConsistentRead:            aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("ledger of %s: %w", day, err)
		}
		for _, it := range page.Items {
			row := LedgerRow{Day: day, Counts: map[string]int64{}}
			for k, v := range it {
				switch k {
				case attrPK:
				case attrSK:
					sk := v.(*types.AttributeValueMemberS).Value
					row.Dimension, row.ID, _ = strings.Cut(sk, "#")
				default:
					if n, ok := v.(*types.AttributeValueMemberN); ok {
						row.Counts[k], _ = strconv.ParseInt(n.Value, 10, 64)
					}
				}
			}
			rows = append(rows, row)
		}
	}
	return rows, nil
}

// Reroute puts an unsold or rejected lead back into routing (an operator's
// decision after a configuration change): a new round, with no order
// counted as tried.
func (s *Store) Reroute(ctx context.Context, rec *lead.Record, events []lead.Event) error {
	upd := expression.Set(expression.Name("status"), expression.Value(lead.Routing)).
		Set(expression.Name("seq"), expression.Value(rec.Seq+1)).
		Set(expression.Name("tried"), expression.Value(&types.AttributeValueMemberL{})).
		Set(expression.Name("updated_at"), expression.Value(s.now()))
	upd, err := appendEvents(upd, events)
	if err != nil {
		return err
	}
	li, err := s.leadUpdate(rec.ID, roundCondition(rec.Seq, lead.Unsold, lead.Rejected), upd)
	if err != nil {
		return err
	}
	items := []types.TransactWriteItem{li}
	if !rec.Test {
		// The lead is no longer unsold (or rejected): take it out of that
		// count, on the day of the re-route, so the ledger stays the sum
		// of the lead records.
		items = append(items, s.ledger(s.day(ctx, s.now()), map[string]string{DimCampaign: rec.Campaign, DimSource: rec.Source}, counts{string(rec.Status): -1})...)
	}
	err = s.transact(ctx, items)
	if reasons := cancellation(err); len(reasons) > 0 && failed(reasons[0]) {
		return staleFrom(reasons[0])
	}
	if err != nil {
		return fmt.Errorf("reroute lead %s: %w", rec.ID, err)
	}
	return nil
}
