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

// A campaign's scoring models are versioned items of one partition
// (modelKey), each written once: training puts version n+1 only if it does
// not exist, so two trainings at once cannot both claim a version. The
// newest version is the campaign's model.

// ErrModelVersionTaken reports a model version another training wrote
// first.
var ErrModelVersionTaken = errors.New("model version already written")

// Model is a stored model: its encoding (package scoring's) and when it
// was written.
type Model struct {
	Campaign string
	Version  int
	At       time.Time
	Blob     []byte
}

// PutModel writes a model version, once.
func (s *Store) PutModel(ctx context.Context, m Model) error {
	pk, sk := modelKey(m.Campaign, m.Version)
	it := key(pk, sk)
	it["blob"] = &types.AttributeValueMemberB{Value: m.Blob}
	it["at"] = str(m.At.UTC().Format(time.RFC3339Nano))
	err := s.putItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table), Item: it,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	if errors.As(err, new(*types.ConditionalCheckFailedException)) {
		return ErrModelVersionTaken
	}
	if err != nil {
		return fmt.Errorf("put model %s v%d: %w", m.Campaign, m.Version, err)
	}
	return nil
}

// LatestModel reads a campaign's newest model; ErrNotFound when it has
// none yet.
func (s *Store) LatestModel(ctx context.Context, campaign string) (*Model, error) {
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(modelPartition(campaign))},
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(1),
	})
	if err != nil {
		return nil, fmt.Errorf("read model of %s: %w", campaign, err)
	}
	if len(out.Items) == 0 {
		return nil, ErrNotFound
	}
	it := out.Items[0]
	m := &Model{Campaign: campaign}
	if b, ok := it["blob"].(*types.AttributeValueMemberB); ok {
		m.Blob = b.Value
	}
	if at, ok := it["at"].(*types.AttributeValueMemberS); ok {
		m.At, _ = time.Parse(time.RFC3339Nano, at.Value)
	}
	sk, _ := it[attrSK].(*types.AttributeValueMemberS)
	if sk == nil {
		return nil, fmt.Errorf("model of %s without a version", campaign)
	}
	if _, err := fmt.Sscanf(sk.Value, "V#%d", &m.Version); err != nil {
		return nil, fmt.Errorf("model of %s: version %q: %w", campaign, sk.Value, err)
	}
	return m, nil
}
