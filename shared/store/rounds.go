package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/leadrelay/leadrelay/shared/config"
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

// BuyerDedupeKeys are the values of a lead's fields that an order's
// buyer dedupe (d, nil: none) names — one key per field the lead has, for
// d's window. The router's offer checks them (Reservation) and the sale
// claims them (SaleInput): both build them here.
func BuyerDedupeKeys(buyer string, d *config.Dedupe, fields map[string]any) []BuyerDedupeKey {
	if d == nil {
		return nil
	}
	var out []BuyerDedupeKey
	for _, f := range d.Fields {
		if v, ok := fields[f]; ok {
			out = append(out, BuyerDedupeKey{Buyer: buyer, Field: f, Value: fmt.Sprint(v), Window: d.Window.D()})
		}
	}
	return out
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
	// Due is when the sweeper may send the delivery message again if the
	// round is still waiting for it (zero: RoutingDue from now).
	Due time.Time
	// Balance, for a prepaid buyer, takes the price from its balance
	// (balance.go); the assignment holds it (BalanceKey) like a cap.
	Balance *BalanceHold
	// Slot, for a call, takes one of the buyer's concurrency slots
	// (slot.go): ErrSlotTaken if another call holds it.
	Slot *SlotHold
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

// RoutingDue is how long a round that sent the lead back to the router
// may wait for it before the sweeper sends the routing message again.
const RoutingDue = 5 * time.Minute

// roundPut is the conditional put of a lead's round: it exists once. A
// round that waits for a message carries its due time, and from round 2
// on is in the index the sweeper reads by it (round 1 is checked from the
// campaign's listing instead, which costs the lead no index write: see
// package sweeper). Ledger entries go to the aggregate function.
func (s *Store) roundPut(id string, rd round, due time.Time, lg []entry) (*types.Put, error) {
	if !due.IsZero() {
		rd.Due = due.Unix()
	}
	item, err := attributevalue.MarshalMap(rd)
	if err != nil {
		return nil, fmt.Errorf("encode round %d of lead %s: %w", rd.Seq, id, err)
	}
	pk, sk := roundKey(id, rd.Seq)
	item[attrPK], item[attrSK] = str(pk), str(sk)
	if !due.IsZero() && rd.Seq >= 2 {
		gpk, gsk := dueKey(id, rd.Seq, due)
		item[attrGSI1PK], item[attrGSI1SK] = str(gpk), str(gsk)
	}
	if len(lg) > 0 {
		item[attrLedger] = ledgerValue(lg)
	}
	return &types.Put{
		TableName: aws.String(s.table), Item: item,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	}, nil
}

// commitRound writes a round's transaction: a taken round is a
// *StaleError with the lead as it is now.
func (s *Store) commitRound(ctx context.Context, id string, t *txn) (Failed, error) {
	err := s.transact(ctx, t)
	f := t.failures(err)
	if _, ok := f[itemLead]; ok {
		return f, s.staleAt(ctx, id)
	}
	return f, err
}

// Reserve offers the lead to an order. It returns *CapFullError when a cap
// has no room or a buyer dedupe key is taken, ErrRotationMoved, and
// *StaleError when the lead is no longer in round Seq.
func (s *Store) Reserve(ctx context.Context, r Reservation) error {
	if r.Test {
		r.Caps, r.BuyerDedupe, r.Rotation, r.Balance, r.Slot = nil, nil, nil, nil, nil
	}
	a := r.Assignment
	t, err := s.reserveTxn(ctx, r, s.now())
	if err != nil {
		return err
	}
	f, err := s.commitRound(ctx, r.LeadID, t)
	if f == nil || errors.As(err, new(*StaleError)) {
		if err != nil && !errors.As(err, new(*StaleError)) {
			return fmt.Errorf("reserve lead %s for %s/%s: %w", r.LeadID, a.Buyer, a.Order, err)
		}
		return err
	}
	if refused := reserveRefusal(f, r); refused != nil {
		return refused
	}
	return fmt.Errorf("reserve lead %s: %w", r.LeadID, err)
}

// reserveTxn is Reserve's transaction: the lead's next round with the
// assignment, a unit on every cap counter (conditioned on room), the
// buyer dedupe checks and the rotation count.
func (s *Store) reserveTxn(ctx context.Context, r Reservation, now time.Time) (*txn, error) {
	status := r.Status
	if status == "" {
		status = lead.Routing
	}
	a := r.Assignment
	rd := round{Seq: r.Seq + 1, Status: status, At: now, Assignment: &a, Tried: a.Buyer + "/" + a.Order, Event: r.Events}
	due := r.Due
	if due.IsZero() {
		due = now.Add(RoutingDue)
	}
	var lg []entry
	if !r.Test { // the order's offers, for its acceptance rate (package feedback)
		lg = entries(s.day(ctx, now), map[string]string{DimOrder: a.Buyer + "/" + a.Order}, counts{"offered": 1})
	}
	put, err := s.roundPut(r.LeadID, rd, due, lg)
	if err != nil {
		return nil, err
	}
	t := &txn{}
	t.put(itemLead, put)
	for i, c := range r.Caps {
		if c.Budget > 0 && c.Price > c.Budget {
			return nil, &CapFullError{Index: i, Key: c.Key}
		}
		t.update(capName(i), capUpdate(s.table, c))
	}
	for i, d := range r.BuyerDedupe {
		pk, sk := buyerDedupeKey(d.Buyer, d.Field, d.Value)
		t.check(buyerDedupeName(i), &types.ConditionCheck{
			TableName:                 aws.String(s.table),
			Key:                       key(pk, sk),
			ConditionExpression:       aws.String("attribute_not_exists(pk) OR expires_at < :now"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(now.Unix())},
		})
	}
	if r.Rotation != nil {
		t.update(itemRotation, s.rotationUpdate(r.Rotation, now))
	}
	if r.Balance != nil {
		t.update(itemBalance, s.balanceTake(*r.Balance))
	}
	if r.Slot != nil {
		t.put(itemSlot, s.slotPut(*r.Slot, now))
	}
	return t, nil
}

// rotationUpdate counts an offer on an order's rotation counter; a strict
// rotation's only if the counter is still where it was read.
func (s *Store) rotationUpdate(rot *Rotation, now time.Time) *types.Update {
	pk, sk := rotationKey(rot.Campaign, rot.Order)
	u := &types.Update{
		TableName:                 aws.String(s.table),
		Key:                       key(pk, sk),
		UpdateExpression:          aws.String("ADD n :one SET #last = :now"),
		ExpressionAttributeNames:  map[string]string{"#last": "last"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": num(1), ":now": num(now.UnixNano())},
	}
	if rot.Strict {
		u.ConditionExpression = aws.String("attribute_not_exists(n) AND :n = :zero OR n = :n")
		u.ExpressionAttributeValues[":n"] = num(rot.N)
		u.ExpressionAttributeValues[":zero"] = num(0)
	}
	return u
}

// reserveRefusal reads a cancelled reservation's failed conditions: a
// cap without room or a buyer dedupe key taken (*CapFullError), or the
// rotation moved (ErrRotationMoved); nil if none of them failed.
func reserveRefusal(f Failed, r Reservation) error {
	for i, c := range r.Caps {
		if _, ok := f[capName(i)]; ok {
			return &CapFullError{Index: i, Key: c.Key}
		}
	}
	for i, d := range r.BuyerDedupe {
		if _, ok := f[buyerDedupeName(i)]; ok {
			return &CapFullError{Index: -1, Key: d.Field, Dedupe: true}
		}
	}
	if _, ok := f[itemRotation]; ok {
		return ErrRotationMoved
	}
	if _, ok := f[itemSlot]; ok {
		return ErrSlotTaken
	}
	if old, ok := f[itemBalance]; ok {
		e := &BalanceError{Buyer: r.Balance.Buyer, Price: r.Balance.Amount}
		if n, ok := old["bal"].(*types.AttributeValueMemberN); ok {
			var v int64
			fmt.Sscan(n.Value, &v)
			e.Balance = money.Amount(v)
		}
		return e
	}
	return nil
}

const itemRotation = "rotation"

func capName(i int) string         { return fmt.Sprintf("cap:%d", i) }
func buyerDedupeName(i int) string { return fmt.Sprintf("buyerdedupe:%d", i) }
func buyerDedupePut(i int) string  { return fmt.Sprintf("buyerdedupe-put:%d", i) }
func releaseName(i int) string     { return fmt.Sprintf("release:%d", i) }

// capUpdate takes one unit (and the price) of a cap counter, on the
// condition that it has room.
func capUpdate(table string, c CapCounter) *types.Update {
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
		limits = append(limits, "amt <= :room")
		vals[":room"] = num(int64(c.Budget - c.Price))
	}
	if len(limits) > 0 {
		cond = "attribute_not_exists(pk) OR (" + strings.Join(limits, " AND ") + ")"
	}
	return &types.Update{
		TableName:                 aws.String(table),
		Key:                       key(c.Key, "CAP"),
		UpdateExpression:          aws.String("ADD n :one, amt :price SET expires_at = :exp"),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeValues: vals,
	}
}

// Finish ends a lead's routing without a sale (unsold or rejected), or with
// the sales it has (sold), from round Seq.
func (s *Store) Finish(ctx context.Context, id string, seq int, status lead.Status, rec *lead.Record, events []lead.Event) error {
	now := s.now()
	var lg []entry
	if !rec.Test && status != lead.Sold {
		lg = entries(s.day(ctx, now), leadDims(rec.Lead), counts{string(status): 1})
	}
	put, err := s.roundPut(id, round{Seq: seq + 1, Status: status, At: now, Event: events}, time.Time{}, lg)
	if err != nil {
		return err
	}
	t := &txn{}
	t.put(itemLead, put)
	if _, err := s.commitRound(ctx, id, t); err != nil {
		if errors.As(err, new(*StaleError)) {
			return err
		}
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
	// Conversion, when set, queues the sale's report to the ad platform
	// the lead came from, in the sale's transaction (conversions.go).
	Conversion *lead.Conversion
	// Charge, when set, queues the sale's bill to an invoiced buyer, in
	// the sale's transaction (charges.go).
	Charge *lead.Charge
	// Call, for a call billed, counts its dial's figures (slot.go).
	Call *CallDial
}

// Sell marks the assignment of round Seq sold, with its ledger entries, in
// the next round. The lead is sold from the first sale on.
func (s *Store) Sell(ctx context.Context, in SaleInput) error {
	now := s.now()
	sale := in.Sale
	var lg []entry
	if !in.Lead.Test {
		// The sale counts on the day of its time (Sale.At), in the agency's zone.
		day := s.day(ctx, cmp.Or(in.Sale.At, now))
		c := counts{"revenue": int64(sale.Price), "cost": int64(sale.Payout), "sales": 1}
		if in.First {
			c["sold"] = 1
		}
		bc := counts{"revenue": int64(sale.Price), "cost": int64(sale.Payout), "sales": 1, "sold": 1}
		if in.Call != nil {
			maps.Copy(c, in.Call.counts())
			maps.Copy(bc, in.Call.counts())
		}
		lg = entries(day, leadDims(*in.Lead), c)
		lg = append(lg, entries(day, map[string]string{DimBuyer: sale.Buyer, DimBuyerSource: BuyerSourceID(sale.Buyer, in.Lead.Source),
			DimOrder: sale.Buyer + "/" + sale.Order}, bc)...)
	}
	// The attempt that sold the lead: its buyer's response time.
	lg = append(lg, s.responseEntries(ctx, in.Events)...)
	var due time.Time
	if in.More {
		due = now.Add(RoutingDue)
	}
	put, err := s.roundPut(in.Lead.ID, round{Seq: in.Seq + 1, Status: lead.Sold, At: now, Sale: &sale, Event: in.Events}, due, lg)
	if err != nil {
		return err
	}
	t := &txn{}
	t.put(itemLead, put)
	if !in.Lead.Test {
		for i, d := range in.BuyerDedupe {
			pk, sk := buyerDedupeKey(d.Buyer, d.Field, d.Value)
			it := key(pk, sk)
			it["lead_id"] = str(in.Lead.ID)
			it[attrExpires] = expiry(now.Add(d.Window))
			t.put(buyerDedupePut(i), &types.Put{TableName: aws.String(s.table), Item: it})
		}
	}
	if in.Conversion != nil {
		p, err := s.conversionPut(in.Lead.ID, in.Conversion)
		if err != nil {
			return err
		}
		t.put(itemConversion, p)
	}
	if in.Charge != nil && !in.Lead.Test {
		p, err := s.chargePut(in.Charge)
		if err != nil {
			return err
		}
		t.put(itemCharge, p)
	}
	if _, err := s.commitRound(ctx, in.Lead.ID, t); err != nil {
		if errors.As(err, new(*StaleError)) {
			return err
		}
		return fmt.Errorf("sell lead %s: %w", in.Lead.ID, err)
	}
	return nil
}

// Release gives back the caps of round Seq's assignment after the buyer
// refused the lead (or delivery gave up), and moves the lead to the next
// round, with status (routing, or sold for a shared lead with a sale), for
// the router.
func (s *Store) Release(ctx context.Context, id string, seq int, status lead.Status, holds []lead.CapHold, events []lead.Event) error {
	now := s.now()
	// A refusing attempt among the events: its buyer's response time.
	lg := s.responseEntries(ctx, events)
	put, err := s.roundPut(id, round{Seq: seq + 1, Status: status, At: now, Event: events}, now.Add(RoutingDue), lg)
	if err != nil {
		return err
	}
	t := &txn{}
	t.put(itemLead, put)
	s.releaseHolds(t, holds)
	if _, err := s.commitRound(ctx, id, t); err != nil {
		if errors.As(err, new(*StaleError)) {
			return err
		}
		return fmt.Errorf("release lead %s: %w", id, err)
	}
	return nil
}

// releaseHolds adds to t the return of an assignment's holds: a unit and
// the price back on each cap counter, the price back on a prepaid balance.
func (s *Store) releaseHolds(t *txn, holds []lead.CapHold) {
	for i, h := range holds {
		if isBalanceKey(h.Key) {
			t.update(releaseName(i), s.balanceCredit(strings.TrimPrefix(h.Key, "BALANCE#"), h.Amount))
			continue
		}
		t.update(releaseName(i), &types.Update{
			TableName:        aws.String(s.table),
			Key:              key(h.Key, "CAP"),
			UpdateExpression: aws.String("ADD n :minus, amt :amt"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":minus": num(-1), ":amt": num(-int64(h.Amount)),
			},
		})
	}
}

// Rotations reads a campaign's rotation counters (order key → counter) in
// one query.
func (s *Store) Rotations(ctx context.Context, campaign string) (map[string]Rot, error) {
	pk, _ := rotationKey(campaign, "")
	out := map[string]Rot{}
	err := s.partition(ctx, pk, true, func(it map[string]types.AttributeValue) error {
		var row struct {
			SK   string `dynamodbav:"sk"`
			N    int64  `dynamodbav:"n"`
			Last int64  `dynamodbav:"last"`
		}
		if err := attributevalue.UnmarshalMap(it, &row); err == nil {
			out[row.SK] = Rot{N: row.N, Last: row.Last}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rotations of %s: %w", campaign, err)
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

// AppendEvents adds events to round Seq of a lead without changing it (a
// failed delivery attempt that will be retried): a note, whatever round
// the lead has reached since.
func (s *Store) AppendEvents(ctx context.Context, id string, seq int, events []lead.Event) error {
	return s.Note(ctx, id, seq, events, time.Time{})
}

// Note adds events to round Seq of a lead; a due time puts the note in the
// sweeper's index, so that the round is checked again then.
func (s *Store) Note(ctx context.Context, id string, seq int, events []lead.Event, due time.Time) error {
	now := s.now()
	item, err := attributevalue.MarshalMap(note{Events: events})
	if err != nil {
		return fmt.Errorf("encode note of lead %s: %w", id, err)
	}
	pk, sk := noteKey(id, seq, strconv.FormatInt(now.UnixNano(), 36)+"-"+strconv.FormatUint(rand.Uint64()%1e6, 36))
	item[attrPK], item[attrSK] = str(pk), str(sk)
	if !due.IsZero() {
		gpk, gsk := dueKey(id, seq, due)
		item[attrGSI1PK], item[attrGSI1SK] = str(gpk), str(gsk)
	}
	// A retried attempt's note: its buyer's response time (responses.go).
	if lg := s.responseEntries(ctx, events); len(lg) > 0 {
		item[attrLedger] = ledgerValue(lg)
	}
	if err := s.putItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item}); err != nil {
		return fmt.Errorf("note on lead %s: %w", id, err)
	}
	return nil
}

// NoteOnce adds events to round Seq of a lead once per name: a repeat of
// the same name (a webhook retried) changes nothing.
func (s *Store) NoteOnce(ctx context.Context, id string, seq int, name string, events []lead.Event) error {
	item, err := attributevalue.MarshalMap(note{Events: events})
	if err != nil {
		return fmt.Errorf("encode note of lead %s: %w", id, err)
	}
	pk, sk := noteKey(id, seq, "ONCE#"+name)
	item[attrPK], item[attrSK] = str(pk), str(sk)
	err = s.putItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")})
	if err == nil || errors.As(err, new(*types.ConditionalCheckFailedException)) {
		return nil
	}
	return fmt.Errorf("note on lead %s: %w", id, err)
}

// Reroute puts a lead back into routing (an operator's decision after a
// configuration change): an unsold or rejected lead, or one still waiting
// for routing (received) whose message was lost. A new round, with no order
// counted as tried.
func (s *Store) Reroute(ctx context.Context, rec *lead.Record, events []lead.Event) error {
	now := s.now()
	var lg []entry
	if !rec.Test && (rec.Status == lead.Unsold || rec.Status == lead.Rejected) {
		// The lead is no longer unsold (or rejected): take it out of that
		// count, on the day of the re-route, so the ledger stays the sum
		// of the lead records.
		lg = entries(s.day(ctx, now), leadDims(rec.Lead), counts{string(rec.Status): -1})
	}
	put, err := s.roundPut(rec.ID, round{Seq: rec.Seq + 1, Status: lead.Routing, At: now, Untry: true, Event: events}, now.Add(RoutingDue), lg)
	if err != nil {
		return err
	}
	t := &txn{}
	t.put(itemLead, put)
	if _, err := s.commitRound(ctx, rec.ID, t); err != nil {
		if errors.As(err, new(*StaleError)) {
			return err
		}
		return fmt.Errorf("reroute lead %s: %w", rec.ID, err)
	}
	return nil
}
