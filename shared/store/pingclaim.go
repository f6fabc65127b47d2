package store

import (
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/leadrelay/leadrelay/shared/lead"
)

// PingClaim is a lead's claim on a ping's bids: one lead per ping_id.
type PingClaim struct {
	// ID names the ping_id (pingtoken.ClaimID).
	ID string
	// Expires is when the ping's bids stop being valid; the claim item
	// is kept a day longer (an expired ping_id is refused anyway).
	Expires time.Time
}

// ErrPingClaimed reports a ping_id another lead already claimed.
var ErrPingClaimed = errors.New("ping already claimed")

// claimItem is the conditional put of a ping's claim in PutLead's
// transaction. A test lead only checks that the ping is unclaimed: it
// claims nothing, so it writes nothing.
func (s *Store) claimItem(rec *lead.Record, c *PingClaim, now time.Time) types.TransactWriteItem {
	pk, sk := pingClaimKey(c.ID)
	if rec.Test {
		return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
			TableName: aws.String(s.table), Key: key(pk, sk),
			ConditionExpression: aws.String("attribute_not_exists(pk)"),
		}}
	}
	it := key(pk, sk)
	it["lead_id"] = str(rec.ID)
	it["claimed_at"] = num(now.Unix())
	it[attrExpires] = expiry(c.Expires.Add(24 * time.Hour))
	return types.TransactWriteItem{Put: &types.Put{
		TableName: aws.String(s.table), Item: it,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	}}
}
