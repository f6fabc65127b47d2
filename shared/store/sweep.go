package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// What the sweeper reads (package sweeper): leads are in GSI1 twice over,
// by creation (round 0, under their campaign) and, while a round waits
// for a message, by the time it is due. A round is stuck when its next
// round does not exist: one BatchGetItem tells that for a hundred rounds.

// RoundRef names one round of a lead.
type RoundRef struct {
	LeadID string
	Seq    int
}

// SweepCursor is how far the sweeper has looked: leads created up to
// Listed checked for their first round, up to Settled for their second,
// rounds due up to Due.
type SweepCursor struct {
	Listed  time.Time `dynamodbav:"listed"`
	Settled time.Time `dynamodbav:"settled"`
	Due     time.Time `dynamodbav:"due"`
}

// LoadSweepCursor reads the sweeper's cursor (zero times if none).
func (s *Store) LoadSweepCursor(ctx context.Context) (SweepCursor, error) {
	pk, sk := sweepKey()
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key(pk, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return SweepCursor{}, fmt.Errorf("read sweep cursor: %w", err)
	}
	var c SweepCursor
	if out.Item != nil {
		if err := attributevalue.UnmarshalMap(out.Item, &c); err != nil {
			return SweepCursor{}, fmt.Errorf("decode sweep cursor: %w", err)
		}
	}
	return c, nil
}

// SaveSweepCursor writes the sweeper's cursor.
func (s *Store) SaveSweepCursor(ctx context.Context, c SweepCursor) error {
	item, err := attributevalue.MarshalMap(c)
	if err != nil {
		return fmt.Errorf("encode sweep cursor: %w", err)
	}
	pk, sk := sweepKey()
	item[attrPK], item[attrSK] = str(pk), str(sk)
	if err := s.putItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item}); err != nil {
		return fmt.Errorf("save sweep cursor: %w", err)
	}
	return nil
}

// CreatedBetween lists the leads of a campaign created in (from, to].
func (s *Store) CreatedBetween(ctx context.Context, campaign string, from, to time.Time) ([]string, error) {
	var ids []string
	for i := range IndexShards {
		err := s.indexRange(ctx, listingPartition(campaign, i), from, to, func(pk, _ string) {
			ids = append(ids, strings.TrimPrefix(pk, "LEAD#"))
		})
		if err != nil {
			return nil, fmt.Errorf("leads of %s created by %s: %w", campaign, to.Format(time.RFC3339), err)
		}
	}
	return ids, nil
}

// DueBetween lists the rounds (and notes) due in (from, to].
func (s *Store) DueBetween(ctx context.Context, from, to time.Time) ([]RoundRef, error) {
	var refs []RoundRef
	for i := range IndexShards {
		err := s.indexRange(ctx, duePartition(i), from, to, func(_, gsk string) {
			// <due>#<lead id>#<seq>
			parts := strings.Split(gsk, "#")
			if len(parts) < 3 {
				return
			}
			n, err := strconv.Atoi(parts[len(parts)-1])
			if err != nil {
				return
			}
			refs = append(refs, RoundRef{LeadID: strings.Join(parts[1:len(parts)-1], "#"), Seq: n})
		})
		if err != nil {
			return nil, fmt.Errorf("rounds due by %s: %w", to.Format(time.RFC3339), err)
		}
	}
	return refs, nil
}

// indexRange reads a GSI1 partition's entries whose time is in (from, to].
func (s *Store) indexRange(ctx context.Context, partition string, from, to time.Time, each func(pk, gsk string)) error {
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName:              aws.String(s.table),
		IndexName:              aws.String(GSI1),
		KeyConditionExpression: aws.String("#pk = :pk AND #sk BETWEEN :lo AND :hi"),
		ExpressionAttributeNames: map[string]string{
			"#pk": attrGSI1PK, "#sk": attrGSI1SK,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(partition),
			// (from, to]: every key of from's instant sorts below "from#~".
			":lo": str(sortTime(from) + "#~"), ":hi": str(sortTime(to) + "#~"),
		},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, it := range page.Items {
			pk, _ := it[attrPK].(*types.AttributeValueMemberS)
			gsk, _ := it[attrGSI1SK].(*types.AttributeValueMemberS)
			if pk != nil && gsk != nil {
				each(pk.Value, gsk.Value)
			}
		}
	}
	return nil
}

// RoundsExist tells which of the rounds exist, a hundred a request.
func (s *Store) RoundsExist(ctx context.Context, refs []RoundRef) (map[RoundRef]bool, error) {
	keys := make([]map[string]types.AttributeValue, 0, len(refs))
	seen := map[RoundRef]bool{}
	for _, r := range refs {
		if seen[r] {
			continue
		}
		seen[r] = true
		pk, sk := roundKey(r.LeadID, r.Seq)
		keys = append(keys, key(pk, sk))
	}
	items, err := s.batchGet(ctx, keys, "pk, sk")
	if err != nil {
		return nil, fmt.Errorf("read rounds: %w", err)
	}
	out := make(map[RoundRef]bool, len(items))
	for _, it := range items {
		pk, _ := it[attrPK].(*types.AttributeValueMemberS)
		sk, _ := it[attrSK].(*types.AttributeValueMemberS)
		if pk == nil || sk == nil {
			continue
		}
		n, err := strconv.Atoi(strings.TrimPrefix(sk.Value, "R#"))
		if err != nil {
			continue
		}
		out[RoundRef{LeadID: strings.TrimPrefix(pk.Value, "LEAD#"), Seq: n}] = true
	}
	return out, nil
}
