package store

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// The table layout. Every item has a partition key "pk" and a sort key
// "sk"; items that expire carry "expires_at" (unix seconds, the table's TTL
// attribute). TTL deletion lags by up to days (and moto never deletes), so
// every condition that relies on expiry also checks expires_at itself.
//
//	item                pk                                        sk                 gsi1pk / gsi1sk
//	lead                LEAD#<id>                                 LEAD               CAMPAIGN#<campaign> / <created RFC3339>#<id>
//	campaign dedupe     DEDUPE#<campaign>#<field>#<sha256(value)> DEDUPE
//	idempotency         IDEM#<source>#<sha256(key)>               IDEM
//	rate window         RATE#<source>#<unix second>               RATE
//	cap counter         CAP#<scope>#<period>#<bucket>             CAP
//	buyer dedupe        BUYERDEDUPE#<buyer>#<field>#<sha256>      BUYERDEDUPE
//	rotation counter    ROT#<campaign>                            <buyer/order>
//	configuration       CONFIG                                    CURRENT
//	buyer breaker       BREAKER                                   <buyer>
//	config audit record AUDIT                                     <version, 20 digits>
//	ledger aggregate    LEDGER#<YYYY-MM-DD>                       <dimension>#<id>
//	ping claim          PINGCLAIM#<claim id: hex MAC of ping_id>  PINGCLAIM
//	contact lookup      FIND#<phone|email>#<sha256(value)>        <created RFC3339Nano>#<lead id>
//	suppression         SUPPRESS#<phone|email>#<sha256(value)>    SUPPRESS
//
// Ledger days are dates in the agency's timezone (config timezone); the
// dimensions are campaign, source, buyer and buyer_source (id
// "<buyer>/<source>": a buyer's sales and returns per source).
const (
	attrPK      = "pk"
	attrSK      = "sk"
	attrGSI1PK  = "gsi1pk"
	attrGSI1SK  = "gsi1sk"
	attrExpires = "expires_at"

	// GSI1 is the index that lists a campaign's leads by time.
	GSI1 = "gsi1"
)

func leadKey(id string) (string, string) { return "LEAD#" + id, "LEAD" }

func dedupeKey(campaign, field, value string) (string, string) {
	return "DEDUPE#" + campaign + "#" + field + "#" + hash(value), "DEDUPE"
}

func idempotencyKey(source, key string) (string, string) {
	return "IDEM#" + source + "#" + hash(key), "IDEM"
}

func rateKey(source string, at time.Time) (string, string) {
	return fmt.Sprintf("RATE#%s#%d", source, at.Unix()), "RATE"
}

// CapKey names a cap counter: scope ("order:acme/auto"), period and bucket.
func CapKey(scope, period, bucket string) string {
	return "CAP#" + scope + "#" + period + "#" + bucket
}

func buyerDedupeKey(buyer, field, value string) (string, string) {
	return "BUYERDEDUPE#" + buyer + "#" + field + "#" + hash(value), "BUYERDEDUPE"
}

func rotationKey(campaign, order string) (string, string) { return "ROT#" + campaign, order }

func configKey() (string, string) { return "CONFIG", "CURRENT" }

// pingClaimKey names the one claim of a ping_id (pingclaim.go).
func pingClaimKey(id string) (string, string) { return "PINGCLAIM#" + id, "PINGCLAIM" }

// findKey names a lead's contact lookup item (contacts.go): one partition
// per phone number or email address, its leads sorted by time.
func findKey(kind, value string, created time.Time, id string) (string, string) {
	return findPartition(kind, value), created.UTC().Format(time.RFC3339Nano) + "#" + id
}

func findPartition(kind, value string) string { return "FIND#" + kind + "#" + hash(value) }

// suppressKey names a phone number's or email address's suppression
// (suppress.go): one item per value, whatever list put it there.
func suppressKey(kind, value string) (string, string) {
	return "SUPPRESS#" + kind + "#" + hash(value), "SUPPRESS"
}

// breakerKey names a buyer's circuit breaker: one partition, so a single
// Query reads every buyer's breaker.
func breakerKey(buyer string) (string, string) { return "BREAKER", buyer }

// auditKey names the audit record of the change that made a configuration
// version: one partition, sorted by version (newest last).
func auditKey(version int64) (string, string) { return "AUDIT", fmt.Sprintf("%020d", version) }

// Ledger dimensions.
const (
	DimCampaign = "campaign"
	DimSource   = "source"
	DimBuyer    = "buyer"
	// DimBuyerSource counts a buyer's sales and returns per source: id
	// BuyerSourceID(buyer, source).
	DimBuyerSource = "buyer_source"
)

// BuyerSourceID is the ledger id of a buyer's figures for one source.
func BuyerSourceID(buyer, source string) string { return buyer + "/" + source }

func ledgerKey(day, dim, id string) (string, string) { return "LEDGER#" + day, dim + "#" + id }

func hash(v string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(v))))
	return hex.EncodeToString(sum[:])
}
