package store

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/leadrelay/leadrelay/shared/money"
)

// CapUse is what a cap counter holds: the leads it took and their money.
type CapUse struct {
	N      int64
	Amount money.Amount
}

// CapCounts reads cap counters (CapKey) by BatchGetItem, a hundred keys a
// request, eventually consistent: a view of the caps, not a reservation. A
// counter that does not exist (a bucket nothing was sold in yet) is
// missing from the answer, which is its zero.
func (s *Store) CapCounts(ctx context.Context, capKeys []string) (map[string]CapUse, error) {
	out := make(map[string]CapUse, len(capKeys))
	if len(capKeys) == 0 {
		return out, nil
	}
	seen := make(map[string]bool, len(capKeys))
	keys := make([]map[string]types.AttributeValue, 0, len(capKeys))
	for _, k := range capKeys {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, key(k, "CAP"))
		}
	}
	items, err := s.batchGet(ctx, keys, "")
	if err != nil {
		return nil, fmt.Errorf("read cap counters: %w", err)
	}
	for _, it := range items {
		var row struct {
			PK  string `dynamodbav:"pk"`
			N   int64  `dynamodbav:"n"`
			Amt int64  `dynamodbav:"amt"`
		}
		if err := attributevalue.UnmarshalMap(it, &row); err != nil {
			return nil, fmt.Errorf("decode cap counter: %w", err)
		}
		out[row.PK] = CapUse{N: row.N, Amount: money.Amount(row.Amt)}
	}
	return out, nil
}
