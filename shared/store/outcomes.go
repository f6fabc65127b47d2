package store

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/leadrelay/leadrelay/shared/lead"
)

// reported is an outcome item: a buyer's report and its timeline event.
type reported struct {
	Report lead.Report  `dynamodbav:"report"`
	Events []lead.Event `dynamodbav:"events,omitempty"`
}

// PutReport records a buyer's report of a lead, once per buyer and event:
// a repeat (a buyer's retry) changes nothing and reports no error, so the
// first report stands. conv, when set, is queued with the report.
func (s *Store) PutReport(ctx context.Context, id string, r lead.Report, ev lead.Event, conv *lead.Conversion) error {
	item, err := attributevalue.MarshalMap(reported{Report: r, Events: []lead.Event{ev}})
	if err != nil {
		return fmt.Errorf("encode report of lead %s: %w", id, err)
	}
	pk, sk := outcomeKey(id, r.Buyer, r.Event)
	item[attrPK], item[attrSK] = str(pk), str(sk)
	_, err = s.putWith(ctx, id, &types.Put{
		TableName: aws.String(s.table), Item: item,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	}, conv)
	if err != nil {
		return fmt.Errorf("put report of lead %s: %w", id, err)
	}
	return nil
}
