package store

import (
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// A source's rate limit counts its leads of each second on
// rateShards(limit) items, never one: a lead takes a unit of one shard
// picked at random, whose own limit is its share of the source's. The sum
// of the shares is the limit exactly, so the source is never let through
// faster; near the limit a lead may be refused while another shard still
// has room (a full shard refuses, 429 with Retry-After: 1). Each shard
// takes at most perRateShard leads a second, so the items stay far from
// DynamoDB's per-item rates and rarely collide.
const perRateShard = 10

func rateShards(limit int) int { return max(1, (limit+perRateShard-1)/perRateShard) }

// rateShare is shard i's share of limit over n shards.
func rateShare(limit, n, i int) int {
	share := limit / n
	if i < limit%n {
		share++
	}
	return share
}

// rateUpdate takes a unit of a random shard of the source's count for the
// second of now, on the condition that the shard has room.
func (s *Store) rateUpdate(source string, limit int, now time.Time) *types.Update {
	n := rateShards(limit)
	i := rand.IntN(n)
	pk, sk := rateKey(source, now, i)
	return &types.Update{
		TableName:           aws.String(s.table),
		Key:                 key(pk, sk),
		UpdateExpression:    aws.String("ADD n :one SET expires_at = :exp"),
		ConditionExpression: aws.String("attribute_not_exists(n) OR n < :limit"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one": num(1), ":limit": num(int64(rateShare(limit, n, i))), ":exp": expiry(now.Add(time.Minute)),
		},
	}
}
