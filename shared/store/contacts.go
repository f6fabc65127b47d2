package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/leadrelay/leadrelay/shared/lead"
)

// Kinds of contact: the campaign field types a lead can be found by and
// suppressed on.
const (
	ContactPhone = "phone"
	ContactEmail = "email"
	// ContactIP is a consumer's IP address: counted for velocity and
	// findable, never a suppression list's.
	ContactIP = "ip"
)

// Contact is one phone number or email address of a lead, or of a
// suppression list, normalised as ingest normalises it (E.164 phone
// numbers; email addresses with their domain lower-cased). Values are
// hashed lower-cased (keys.go), so an email address matches whatever the
// case of its local part.
type Contact struct {
	// Field is the lead's field that holds the value (empty for a
	// suppression list's value).
	Field string
	Kind  string
	Value string
}

// A phone number or email address has one item (valueKey) that a new lead
// carrying it updates in its transaction, at no more cost than the check
// of a suppression list alone:
//
//   - "sup" names the suppression list holding the value: the update's
//     condition refuses the lead;
//   - "dl:<campaign>:<field>" and "dx:<campaign>:<field>" are a campaign's
//     dedupe claim on the value (the lead, and when the window ends):
//     the condition refuses a second lead inside the window;
//   - "leads" lists the newest leads that carry it (lead search), up to
//     MaxListedLeads; a value with more gets a lookup item per further
//     lead (findKey) instead.
//
// The item is small (under 1 KB) so each update costs what a condition
// check would.

// MaxListedLeads bounds the leads a value's item lists.
const MaxListedLeads = 8

// Attributes of a value item.
const (
	attrSuppressed = "sup"
	attrListed     = "leads"
)

func claimLeadAttr(campaign, field string) string   { return "dl:" + campaign + ":" + field }
func claimExpiryAttr(campaign, field string) string { return "dx:" + campaign + ":" + field }

// SuppressedError reports a lead refused because one of its phone numbers
// or email addresses is on a suppression list.
type SuppressedError struct {
	Field string
	Kind  string
	// List is the suppression list that holds the value.
	List string
}

func (e *SuppressedError) Error() string {
	return fmt.Sprintf("%s %s is on suppression list %q", e.Kind, e.Field, e.List)
}

// contactValue is one distinct value among a new lead's contacts.
type contactValue struct {
	Contact
	name    string      // its item's name in the transaction
	dedupe  []DedupeKey // the dedupe keys claimed on it
	expired []string    // velocity buckets to remove
}

// contactClaims are a new lead's distinct contact values: a value held by
// two fields is one item, touched once (a transaction may touch an item
// only once).
type contactClaims struct {
	values  []*contactValue
	byField map[string]*contactValue
}

func claimContacts(contacts []Contact, dedupe []DedupeKey) *contactClaims {
	cc := &contactClaims{byField: map[string]*contactValue{}}
	byKey := map[string]*contactValue{}
	for _, c := range contacts {
		pk, _ := valueKey(c.Kind, c.Value)
		v := byKey[pk]
		if v == nil {
			v = &contactValue{Contact: c, name: "contact:" + pk}
			byKey[pk] = v
			cc.values = append(cc.values, v)
		}
		cc.byField[c.Field] = v
	}
	for _, d := range dedupe {
		if v := cc.byField[d.Field]; v != nil && hash(v.Value) == hash(d.Value) {
			v.dedupe = append(v.dedupe, d)
		} else {
			delete(cc.byField, d.Field)
		}
	}
	return cc
}

// expire notes the velocity buckets the lead's read found expired, to be
// removed with its update.
func (cc *contactClaims) expire(recent []Recent) {
	for _, r := range recent {
		pk, _ := valueKey(r.Kind, r.Value)
		for _, v := range cc.values {
			if v.name == "contact:"+pk {
				v.expired = append(v.expired, r.expired...)
			}
		}
	}
}

// claims reports whether the dedupe key on field is claimed on a contact
// value's item.
func (cc *contactClaims) claims(field string) bool {
	v := cc.byField[field]
	if v == nil {
		return false
	}
	for _, d := range v.dedupe {
		if d.Field == field {
			return true
		}
	}
	return false
}

// add puts the values' updates (a test lead: their conditions only) in
// the transaction; overflow names the values to find the lead by a lookup
// item instead of the value's list.
func (cc *contactClaims) add(t *txn, s *Store, rec *lead.Record, now time.Time, overflow map[string]bool) error {
	for _, v := range cc.values {
		cond := expression.AttributeNotExists(expression.Name(attrSuppressed))
		for _, d := range v.dedupe {
			x := expression.NameNoDotSplit(claimExpiryAttr(rec.Campaign, d.Field))
			cond = cond.And(expression.Or(x.AttributeNotExists(), x.LessThan(expression.Value(now.Unix()))))
		}
		pk, sk := valueKey(v.Kind, v.Value)
		if rec.Test {
			expr, err := expression.NewBuilder().WithCondition(cond).Build()
			if err != nil {
				return fmt.Errorf("contact condition: %w", err)
			}
			t.check(v.name, &types.ConditionCheck{
				TableName: aws.String(s.table), Key: key(pk, sk),
				ConditionExpression:                 expr.Condition(),
				ExpressionAttributeNames:            expr.Names(),
				ExpressionAttributeValues:           expr.Values(),
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
			})
			continue
		}
		upd := expression.Set(expression.Name("kind"), expression.Value(v.Kind))
		upd = countVelocity(upd, rec.Source, now, v.expired)
		for _, d := range v.dedupe {
			upd = upd.Set(expression.NameNoDotSplit(claimLeadAttr(rec.Campaign, d.Field)), expression.Value(rec.ID)).
				Set(expression.NameNoDotSplit(claimExpiryAttr(rec.Campaign, d.Field)), expression.Value(now.Add(d.Window).Unix()))
		}
		if overflow[v.name] {
			fpk, fsk := findKey(v.Kind, v.Value, rec.CreatedAt, rec.ID)
			it := key(fpk, fsk)
			it["lead_id"] = str(rec.ID)
			t.put("find:"+fpk, &types.Put{TableName: aws.String(s.table), Item: it})
		} else {
			listed := expression.Name(attrListed)
			upd = upd.Set(listed, expression.ListAppend(expression.IfNotExists(listed, expression.Value([]string{})), expression.Value([]string{rec.ID})))
			cond = cond.And(expression.Or(listed.AttributeNotExists(), expression.Size(listed).LessThan(expression.Value(MaxListedLeads))))
		}
		u, err := exprUpdate(s.table, key(pk, sk), &cond, upd)
		if err != nil {
			return fmt.Errorf("contact update: %w", err)
		}
		t.update(v.name, u)
	}
	return nil
}

// suppressed reads the values' failed conditions for a suppression list.
func (cc *contactClaims) suppressed(f Failed) error {
	for _, v := range cc.values {
		if sup, ok := f[v.name][attrSuppressed].(*types.AttributeValueMemberS); ok {
			return &SuppressedError{Field: v.Field, Kind: v.Kind, List: sup.Value}
		}
	}
	return nil
}

// duplicate reads the values' failed conditions for a campaign's dedupe
// claim still inside its window.
func (cc *contactClaims) duplicate(f Failed, campaign string, now time.Time) error {
	for _, v := range cc.values {
		old, ok := f[v.name]
		if !ok {
			continue
		}
		for _, d := range v.dedupe {
			x, _ := old[claimExpiryAttr(campaign, d.Field)].(*types.AttributeValueMemberN)
			if x == nil {
				continue
			}
			if exp, err := strconv.ParseInt(x.Value, 10, 64); err == nil && exp >= now.Unix() {
				dup := &DuplicateError{Field: d.Field}
				if of, ok := old[claimLeadAttr(campaign, d.Field)].(*types.AttributeValueMemberS); ok {
					dup.Of = of.Value
				}
				return dup
			}
		}
	}
	return nil
}

// full names the values whose condition failed for none of the reasons
// above: their items list MaxListedLeads leads already.
func (cc *contactClaims) full(f Failed) map[string]bool {
	var out map[string]bool
	for _, v := range cc.values {
		if _, ok := f[v.name]; ok {
			if out == nil {
				out = map[string]bool{}
			}
			out[v.name] = true
		}
	}
	return out
}

// valueLeads reads the leads a phone number or email address lists, and
// those of its lookup items, newest first.
func (s *Store) valueLeads(ctx context.Context, c Contact) ([]string, error) {
	pk, sk := valueKey(c.Kind, c.Value)
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key(pk, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("read %s value: %w", c.Kind, err)
	}
	var v struct {
		Leads []string `dynamodbav:"leads"`
	}
	if err := attributevalue.UnmarshalMap(out.Item, &v); err != nil {
		return nil, fmt.Errorf("decode %s value: %w", c.Kind, err)
	}
	var ids []string
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(findPartition(c.Kind, c.Value))},
		ScanIndexForward:          aws.Bool(false),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("read %s lookups: %w", c.Kind, err)
		}
		for _, it := range page.Items {
			if id, ok := it["lead_id"].(*types.AttributeValueMemberS); ok {
				ids = append(ids, id.Value)
			}
		}
	}
	// The listed leads came first; newest last.
	for i := len(v.Leads) - 1; i >= 0; i-- {
		ids = append(ids, v.Leads[i])
	}
	return ids, nil
}
