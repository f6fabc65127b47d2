package store

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
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
	// RateLimit is the source's leads per second (0: none).
	RateLimit int
	// Claim is the ping the lead claims (pingclaim.go): claimed once.
	Claim *PingClaim
	// Contacts are the lead's phone numbers and email addresses
	// (contacts.go): each gets a lookup item for lead search and is
	// checked against the suppression lists.
	Contacts []Contact
}

// PutLead writes a new lead with its dedupe keys, idempotency record, rate
// window and ledger counts, all or nothing. It returns *ReplayError when the
// idempotency key was used before, *DuplicateError when a dedupe key is
// taken, *SuppressedError when a contact is on a suppression list, and
// ErrRateLimited when the source is over its rate.
func (s *Store) PutLead(ctx context.Context, in NewLead) error {
	now := s.now()
	rec := in.Record
	item, err := leadItem(rec)
	if err != nil {
		return err
	}
	items := []types.TransactWriteItem{{Put: &types.Put{
		TableName:           aws.String(s.table),
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	}}}
	notTaken := "attribute_not_exists(pk) OR expires_at < :now"
	nowVal := map[string]types.AttributeValue{":now": num(now.Unix())}
	idemAt := -1
	if in.Idempotency != nil {
		pk, sk := idempotencyKey(rec.Source, in.Idempotency.Key)
		it := key(pk, sk)
		it["lead_id"] = str(rec.ID)
		it["response"] = &types.AttributeValueMemberB{Value: in.Idempotency.Response}
		it[attrExpires] = expiry(now.Add(in.Idempotency.TTL))
		idemAt = len(items)
		items = append(items, types.TransactWriteItem{Put: &types.Put{
			TableName: aws.String(s.table), Item: it,
			ConditionExpression:                 aws.String(notTaken),
			ExpressionAttributeValues:           nowVal,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}})
	}
	dedupeAt := len(items)
	for _, d := range in.Dedupe {
		pk, sk := dedupeKey(rec.Campaign, d.Field, d.Value)
		if rec.Test {
			// A test lead is checked against the window but claims nothing.
			items = append(items, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
				TableName: aws.String(s.table), Key: key(pk, sk),
				ConditionExpression:                 aws.String(notTaken),
				ExpressionAttributeValues:           nowVal,
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
			}})
			continue
		}
		it := key(pk, sk)
		it["lead_id"] = str(rec.ID)
		it["field"] = str(d.Field)
		it[attrExpires] = expiry(now.Add(d.Window))
		items = append(items, types.TransactWriteItem{Put: &types.Put{
			TableName: aws.String(s.table), Item: it,
			ConditionExpression:                 aws.String(notTaken),
			ExpressionAttributeValues:           nowVal,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}})
	}
	claimAt := -1
	if in.Claim != nil {
		claimAt = len(items)
		items = append(items, s.claimItem(rec, in.Claim, now))
	}
	finds, checks, checked := s.contactItems(rec, in.Contacts)
	items = append(items, finds...)
	suppressAt := len(items)
	items = append(items, checks...)
	rateAt := -1
	if in.RateLimit > 0 {
		pk, sk := rateKey(rec.Source, now)
		rateAt = len(items)
		items = append(items, types.TransactWriteItem{Update: &types.Update{
			TableName:           aws.String(s.table),
			Key:                 key(pk, sk),
			UpdateExpression:    aws.String("ADD n :one SET expires_at = :exp"),
			ConditionExpression: aws.String("attribute_not_exists(n) OR n < :limit"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":one": num(1), ":limit": num(int64(in.RateLimit)), ":exp": expiry(now.Add(time.Minute)),
			},
		}})
	}
	if !rec.Test {
		items = append(items, s.ledger(s.day(ctx, rec.CreatedAt), map[string]string{DimCampaign: rec.Campaign, DimSource: rec.Source}, counts{"leads": 1, "accepted": 1})...)
	}
	err = s.transact(ctx, items)
	reasons := cancellation(err)
	if reasons == nil {
		if err != nil {
			return fmt.Errorf("put lead %s: %w", rec.ID, err)
		}
		return nil
	}
	if idemAt >= 0 && idemAt < len(reasons) && failed(reasons[idemAt]) {
		var old struct {
			LeadID   string `dynamodbav:"lead_id"`
			Response []byte `dynamodbav:"response"`
		}
		if err := attributevalue.UnmarshalMap(reasons[idemAt].Item, &old); err != nil {
			return fmt.Errorf("decode idempotency record: %w", err)
		}
		return &ReplayError{LeadID: old.LeadID, Response: old.Response}
	}
	if err := suppressedBy(reasons, suppressAt, checked); err != nil {
		return err
	}
	if claimAt >= 0 && claimAt < len(reasons) && failed(reasons[claimAt]) {
		return ErrPingClaimed
	}
	for i, d := range in.Dedupe {
		if j := dedupeAt + i; j < len(reasons) && failed(reasons[j]) {
			var old struct {
				LeadID string `dynamodbav:"lead_id"`
			}
			_ = attributevalue.UnmarshalMap(reasons[j].Item, &old)
			return &DuplicateError{Field: d.Field, Of: old.LeadID}
		}
	}
	if rateAt >= 0 && rateAt < len(reasons) && failed(reasons[rateAt]) {
		return ErrRateLimited
	}
	return fmt.Errorf("put lead %s: %w", rec.ID, err)
}

func leadItem(rec *lead.Record) (map[string]types.AttributeValue, error) {
	item, err := attributevalue.MarshalMap(rec)
	if err != nil {
		return nil, fmt.Errorf("encode lead %s: %w", rec.ID, err)
	}
	pk, sk := leadKey(rec.ID)
	item[attrPK] = str(pk)
	item[attrSK] = str(sk)
	item[attrGSI1PK] = str("CAMPAIGN#" + rec.Campaign)
	item[attrGSI1SK] = str(rec.CreatedAt.UTC().Format(time.RFC3339Nano) + "#" + rec.ID)
	return item, nil
}

// counts are ledger figures to add.
type counts map[string]int64

// ledger returns the updates that add figures to the day's aggregate of
// each dimension (day: see Store.day).
func (s *Store) ledger(day string, dims map[string]string, add counts) []types.TransactWriteItem {
	var upd expression.UpdateBuilder
	first := true
	for _, name := range slices.Sorted(maps.Keys(add)) {
		if first {
			upd = expression.Add(expression.Name(name), expression.Value(add[name]))
			first = false
		} else {
			upd = upd.Add(expression.Name(name), expression.Value(add[name]))
		}
	}
	expr, err := expression.NewBuilder().WithUpdate(upd).Build()
	if err != nil {
		// The names and values are ours: a build error is a programming error.
		panic(fmt.Sprintf("ledger expression: %v", err))
	}
	var items []types.TransactWriteItem
	for _, dim := range []string{DimCampaign, DimSource, DimBuyer, DimBuyerSource} {
		id, ok := dims[dim]
		if !ok || id == "" {
			continue
		}
		pk, sk := ledgerKey(day, dim, id)
		items = append(items, types.TransactWriteItem{Update: &types.Update{
			TableName:                 aws.String(s.table),
			Key:                       key(pk, sk),
			UpdateExpression:          expr.Update(),
			ExpressionAttributeNames:  expr.Names(),
			ExpressionAttributeValues: expr.Values(),
		}})
	}
	return items
}

// CampaignLeads lists a campaign's newest leads (GSI1), at most limit.
func (s *Store) CampaignLeads(ctx context.Context, campaign string, limit int32) ([]*lead.Record, error) {
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(GSI1),
		KeyConditionExpression:    aws.String("gsi1pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str("CAMPAIGN#" + campaign)},
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(limit),
	})
	if err != nil {
		return nil, fmt.Errorf("leads of campaign %s: %w", campaign, err)
	}
	recs := make([]*lead.Record, 0, len(out.Items))
	for _, it := range out.Items {
		r, err := decodeLead(it)
		if err != nil {
			return nil, err
		}
		recs = append(recs, r)
	}
	return recs, nil
}
