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
//	ledger aggregate    LEDGER#<YYYY-MM-DD>                       <dimension>#<id>
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

// Ledger dimensions.
const (
	DimCampaign = "campaign"
	DimSource   = "source"
	DimBuyer    = "buyer"
)

func ledgerKey(day, dim, id string) (string, string) { return "LEDGER#" + day, dim + "#" + id }

func hash(v string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(v))))
	return hex.EncodeToString(sum[:])
}
