package store

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/leadrelay/leadrelay/shared/lead"
)

// DedupeKey is one value a new lead claims for its campaign's window.
type DedupeKey struct {
	Field  string
	Value  string
	Window time.Duration
}

// Idempotency is the record of an Idempotency-Key: the same key again is
// answered with the same response.
type Idempotency struct {
	Key      string
	Response []byte
	TTL      time.Duration
}

// NewLead is what ingest writes for an accepted lead, in one transaction.
type NewLead struct {
	Record      *lead.Record
	Dedupe      []DedupeKey
	Idempotency *Idempotency
	// Claim is the ping the lead claims (pingclaim.go): claimed once.
	Claim *PingClaim
	// Contacts are the lead's phone numbers and email addresses
	// (contacts.go): each is checked against the suppression lists and
	// makes the lead findable by it. A dedupe key on a contact's field is
	// claimed on the contact's own item. Each counts the lead in its
	// item's velocity buckets (velocity.go).
	Contacts []Contact
	// Recent is what RecentLeads read of the contacts before the lead was
	// scored: the buckets it found expired are removed.
	Recent []Recent
}

// Names of the items of PutLead's transaction.
const (
	itemLead = "lead"
	itemIdem = "idempotency"
	itemPing = "ping"
	// itemConversion is a conversion queued with the write that reaches
	// its stage (conversions.go).
	itemConversion = "conversion"
	// itemOwn is the one item of a write a conversion joins (a return, a
	// buyer's report).
	itemOwn = "own"
)

// PutLead writes a new lead (its round 0) with its dedupe claims,
// idempotency record and contact values, all or nothing. It returns
// *ReplayError when the idempotency key was used before, *DuplicateError
// when a dedupe key is taken, *SuppressedError when a contact is on a
// suppression list, and ErrPingClaimed. (A source's rate is counted
// before, on every post: package ratelimit.)
func (s *Store) PutLead(ctx context.Context, in NewLead) error {
	now := s.now()
	rec := in.Record
	var overflow map[string]bool
	// At most twice: a value item too full to list one more lead gets the
	// lead written again, with a lookup item there instead.
	for try := 0; ; try++ {
		t, contacts, err := s.newLeadTxn(ctx, in, now, overflow)
		if err != nil {
			return err
		}
		err = s.transact(ctx, t)
		f := t.failures(err)
		if f == nil {
			if err != nil {
				return fmt.Errorf("put lead %s: %w", rec.ID, err)
			}
			return nil
		}
		if refused := refusal(f, in, contacts, now); refused != nil {
			return refused
		}
		full := contacts.full(f)
		if len(full) == 0 || try > 0 {
			return fmt.Errorf("put lead %s: %w", rec.ID, err)
		}
		overflow = full
	}
}

// refusal reads a cancelled new lead's failed conditions: the answer to
// the source, in order of precedence, or nil if only value items too full
// to list the lead stood in the way.
func refusal(f Failed, in NewLead, contacts *contactClaims, now time.Time) error {
	if old, ok := f[itemIdem]; ok {
		var o struct {
			LeadID   string `dynamodbav:"lead_id"`
			Response []byte `dynamodbav:"response"`
		}
		if err := attributevalue.UnmarshalMap(old, &o); err != nil {
			return fmt.Errorf("decode idempotency record: %w", err)
		}
		return &ReplayError{LeadID: o.LeadID, Response: o.Response}
	}
	if _, ok := f[itemLead]; ok {
		return fmt.Errorf("put lead %s: the lead id is taken", in.Record.ID)
	}
	if err := contacts.suppressed(f); err != nil {
		return err
	}
	if _, ok := f[itemPing]; ok {
		return ErrPingClaimed
	}
	if err := contacts.duplicate(f, in.Record.Campaign, now); err != nil {
		return err
	}
	for _, d := range in.Dedupe {
		if old, ok := f[dedupeName(d.Field)]; ok {
			var o struct {
				LeadID string `dynamodbav:"lead_id"`
			}
			_ = attributevalue.UnmarshalMap(old, &o)
			return &DuplicateError{Field: d.Field, Of: o.LeadID}
		}
	}
	return nil
}

// newLeadTxn builds PutLead's transaction; overflow names the contact
// values whose items are too full to list the lead (it gets lookup items
// there instead).
func (s *Store) newLeadTxn(ctx context.Context, in NewLead, now time.Time, overflow map[string]bool) (*txn, *contactClaims, error) {
	rec := in.Record
	item, err := s.leadItem(ctx, rec)
	if err != nil {
		return nil, nil, err
	}
	t := &txn{}
	t.put(itemLead, &types.Put{
		TableName: aws.String(s.table), Item: item,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	notTaken := "attribute_not_exists(pk) OR expires_at < :now"
	nowVal := map[string]types.AttributeValue{":now": num(now.Unix())}
	if in.Idempotency != nil {
		pk, sk := idempotencyKey(rec.Source, in.Idempotency.Key)
		it := key(pk, sk)
		it["lead_id"] = str(rec.ID)
		it["response"] = &types.AttributeValueMemberB{Value: in.Idempotency.Response}
		it[attrExpires] = expiry(now.Add(in.Idempotency.TTL))
		t.put(itemIdem, &types.Put{
			TableName: aws.String(s.table), Item: it,
			ConditionExpression:                 aws.String(notTaken),
			ExpressionAttributeValues:           nowVal,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
	}
	contacts := claimContacts(in.Contacts, in.Dedupe)
	contacts.expire(in.Recent)
	if err := contacts.add(t, s, rec, now, overflow); err != nil {
		return nil, nil, err
	}
	// Dedupe keys on fields that are not contacts have items of their own.
	for _, d := range in.Dedupe {
		if contacts.claims(d.Field) {
			continue
		}
		pk, sk := dedupeKey(rec.Campaign, d.Field, d.Value)
		if rec.Test {
			// A test lead is checked against the window but claims nothing.
			t.check(dedupeName(d.Field), &types.ConditionCheck{
				TableName: aws.String(s.table), Key: key(pk, sk),
				ConditionExpression:                 aws.String(notTaken),
				ExpressionAttributeValues:           nowVal,
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
			})
			continue
		}
		it := key(pk, sk)
		it["lead_id"] = str(rec.ID)
		it["field"] = str(d.Field)
		it[attrExpires] = expiry(now.Add(d.Window))
		t.put(dedupeName(d.Field), &types.Put{
			TableName: aws.String(s.table), Item: it,
			ConditionExpression:                 aws.String(notTaken),
			ExpressionAttributeValues:           nowVal,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
	}
	if in.Claim != nil {
		t.add(itemPing, s.claimItem(rec, in.Claim, now))
	}
	return t, contacts, nil
}

func dedupeName(field string) string { return "dedupe:" + field }

// leadItem is a new lead's round 0 item: the lead, its status and events,
// its listing key and (unless a test lead) its ledger entries.
func (s *Store) leadItem(ctx context.Context, rec *lead.Record) (map[string]types.AttributeValue, error) {
	item, err := attributevalue.MarshalMap(rec.Lead)
	if err != nil {
		return nil, fmt.Errorf("encode lead %s: %w", rec.ID, err)
	}
	rd, err := attributevalue.MarshalMap(round{Seq: 0, Status: rec.Status, At: rec.CreatedAt, Event: rec.Events})
	if err != nil {
		return nil, fmt.Errorf("encode lead %s: %w", rec.ID, err)
	}
	maps.Copy(item, rd)
	if rec.ScoreDetail != nil {
		sd, err := attributevalue.Marshal(compactScore(rec.ScoreDetail))
		if err != nil {
			return nil, fmt.Errorf("encode score of lead %s: %w", rec.ID, err)
		}
		item[attrScoreDetail] = sd
	}
	pk, sk := roundKey(rec.ID, 0)
	item[attrPK], item[attrSK] = str(pk), str(sk)
	gpk, gsk := listingKey(rec.Campaign, rec.ID, rec.CreatedAt)
	item[attrGSI1PK], item[attrGSI1SK] = str(gpk), str(gsk)
	if !rec.Test {
		lg := entries(s.day(ctx, rec.CreatedAt), leadDims(rec.Lead), counts{"leads": 1, "accepted": 1})
		for i := range lg {
			if lg[i].dim == DimCampaign { // its hour, for the hourly chart
				lg[i].add = maps.Clone(lg[i].add)
				lg[i].add[HourCounter(rec.CreatedAt.In(s.location(ctx)).Hour())] = 1
			}
		}
		item[attrLedger] = ledgerValue(lg)
	}
	return item, nil
}

// CampaignLeads lists a campaign's newest leads, at most limit.
func (s *Store) CampaignLeads(ctx context.Context, campaign string, limit int32) ([]*lead.Record, error) {
	page, err := s.SearchLeads(ctx, LeadSearch{Campaign: campaign, Limit: int(limit)})
	if err != nil {
		return nil, err
	}
	return page.Leads, nil
}

// exprItem builds the parts of an update from the expression builder.
func exprUpdate(table string, k map[string]types.AttributeValue, cond *expression.ConditionBuilder, upd expression.UpdateBuilder) (*types.Update, error) {
	b := expression.NewBuilder().WithUpdate(upd)
	if cond != nil {
		b = b.WithCondition(*cond)
	}
	expr, err := b.Build()
	if err != nil {
		return nil, err
	}
	u := &types.Update{
		TableName: aws.String(table), Key: k,
		UpdateExpression:          expr.Update(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}
	if cond != nil {
		u.ConditionExpression = expr.Condition()
		u.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
	}
	return u, nil
}
