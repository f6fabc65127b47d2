package store

import (
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/leadrelay/leadrelay/shared/lead"
)

// Kinds of contact: the campaign field types a lead can be found by and
// suppressed on.
const (
	ContactPhone = "phone"
	ContactEmail = "email"
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

func (c Contact) partition() string { return findPartition(c.Kind, c.Value) }

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

// contactItems are what a new lead adds to PutLead's transaction for its
// contacts: a lookup item per distinct value (lead search finds the lead by
// it) and a condition per distinct value that it is on no suppression list.
// checked are the contacts of the conditions, in order. A value held by two
// fields counts once: a transaction may touch an item only once.
func (s *Store) contactItems(rec *lead.Record, contacts []Contact) (finds, checks []types.TransactWriteItem, checked []Contact) {
	seen := map[string]bool{}
	for _, c := range contacts {
		if seen[c.partition()] {
			continue
		}
		seen[c.partition()] = true
		pk, sk := findKey(c.Kind, c.Value, rec.CreatedAt, rec.ID)
		it := key(pk, sk)
		it["lead_id"] = str(rec.ID)
		it["campaign"] = str(rec.Campaign)
		it["source"] = str(rec.Source)
		it["status"] = str(string(rec.Status))
		it["field"] = str(c.Field)
		it["created_at"] = str(rec.CreatedAt.UTC().Format(time.RFC3339Nano))
		if rec.Test {
			it["test"] = &types.AttributeValueMemberBOOL{Value: true}
		}
		finds = append(finds, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.table), Item: it}})

		spk, ssk := suppressKey(c.Kind, c.Value)
		checks = append(checks, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
			TableName: aws.String(s.table), Key: key(spk, ssk),
			ConditionExpression:                 aws.String("attribute_not_exists(pk)"),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}})
		checked = append(checked, c)
	}
	return finds, checks, checked
}

// suppressedBy returns the *SuppressedError of the first failed
// suppression condition of a cancelled transaction (the conditions start
// at index at), or nil.
func suppressedBy(reasons []types.CancellationReason, at int, checked []Contact) error {
	for i, c := range checked {
		j := at + i
		if j >= len(reasons) || !failed(reasons[j]) {
			continue
		}
		var old struct {
			List string `dynamodbav:"list"`
		}
		_ = attributevalue.UnmarshalMap(reasons[j].Item, &old)
		return &SuppressedError{Field: c.Field, Kind: c.Kind, List: old.List}
	}
	return nil
}
