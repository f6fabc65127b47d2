package store

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/leadrelay/leadrelay/shared/lead"
)

// The table layout. Every item has a partition key "pk" and a sort key
// "sk"; items that expire carry "expires_at" (unix seconds, the table's TTL
// attribute). TTL deletion lags by up to days (and moto never deletes), so
// every condition that relies on expiry also checks expires_at itself.
//
//	item                pk                                        sk                       gsi1pk / gsi1sk
//	lead, round 0       LEAD#<id>                                 R#000000                 CAMPAIGN#<campaign>#<shard> / <created>#<id>
//	lead, round n       LEAD#<id>                                 R#<n, 6 digits>          DUE#<shard> / <due>#<id>#<n> while waiting, n ≥ 2
//	lead, note          LEAD#<id>                                 R#<n>#N#<suffix>         DUE#… for a sweeper's recheck
//	lead, return        LEAD#<id>                                 X#RET#<sale, 3 digits>
//	contact value       VAL#<phone|email>#<sha256(value)>         VAL
//	contact overflow    FIND#<phone|email>#<sha256(value)>        <created>#<lead id>
//	campaign dedupe     DEDUPE#<campaign>#<field>#<sha256(value)> DEDUPE
//	duplicate refused   DUP#<lead id>                             DUP
//	idempotency         IDEM#<source>#<sha256(key)>               IDEM
//	rate window         RATE#<kind>:<source>#<window start, unix> RATE
//	cap counter         CAP#<scope>#<period>#<bucket>             CAP
//	buyer dedupe        BUYERDEDUPE#<buyer>#<field>#<sha256>      BUYERDEDUPE
//	rotation counter    ROT#<campaign>                            <buyer/order>
//	configuration       CONFIG                                    CURRENT
//	buyer breaker       BREAKER                                   <buyer>
//	config audit record AUDIT                                     <version, 20 digits>
//	ledger aggregate    LEDGER#<YYYY-MM-DD>                       <dimension>#<id>
//	ledger checkpoint   CKPT#ledger                               <stream shard id>
//	sweeper cursor      SWEEP                                     CURSOR
//	ping claim          PINGCLAIM#<claim id: sha256 of ping_id>   PINGCLAIM
//	lead, outcome       LEAD#<id>                                 X#OUT#<buyer>#<event>
//	lead, conversion    LEAD#<id>                                 X#CONV#<stage>#<key>     CONV#<shard> / <at>#<id>#<stage>#<key> while queued
//	call slot           SLOT#<buyer>#<i>                          SLOT                     (slot.go: a buyer's concurrent calls)
//	scoring model       MODEL#<campaign>                          V#<version, 10 digits>
//	ad spend figure     SPEND#<YYYY-MM-DD>                        <origin>#<source>#<campaign>
//	console session     SESSION#<sha256 hex of the cookie's id>   SESSION                  (sessions.go: an operator's, or a sign-in under way)
//
// A lead is a partition of immutable items (rounds.go): round 0 holds what
// the source posted; every state change puts the next round, conditioned
// on its not existing, so a message about an old round changes nothing and
// no state change rewrites what came before. Items that change the P&L
// carry their ledger entries ("lg"); the table's stream feeds them to the
// aggregate function, which folds them into the day aggregates exactly once
// (aggregate.go). No item is written by every lead of a campaign or source:
// the lead's own items, its contact values, and the buyer's counters are
// all the per-lead writes.
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
	// attrLedger holds an item's ledger entries (ledger.go).
	attrLedger = LedgerAttribute
	// attrScoreDetail holds a lead's score detail on its round 0.
	attrScoreDetail = "score_detail"

	// GSI1 is the sparse index of leads by time: each campaign's leads by
	// creation (round 0 items), and rounds waiting for a message by the
	// time they are due (the sweeper's work list). Its projection is the
	// keys and "source".
	GSI1 = "gsi1"

	// IndexShards spreads each campaign's leads, and the due rounds, over
	// this many index partitions, so that no index partition takes every
	// lead of a campaign.
	IndexShards = 8
)

// LedgerAttribute is the attribute of an item that holds its ledger
// entries: what the aggregate function reads from the stream.
const LedgerAttribute = "lg"

// timeKey is the fixed-width form of an instant in sort keys: they sort as
// the instants do.
const timeKey = "2006-01-02T15:04:05.000000000Z"

func sortTime(t time.Time) string { return t.UTC().Format(timeKey) }

func leadPartition(id string) string { return "LEAD#" + id }

// roundKey names round n of a lead.
func roundKey(id string, n int) (string, string) { return leadPartition(id), fmt.Sprintf("R#%06d", n) }

// noteKey names a note added to round n of a lead (a delivery attempt, a
// sweeper's recovery): suffix makes it unique.
func noteKey(id string, n int, suffix string) (string, string) {
	pk, sk := roundKey(id, n)
	return pk, sk + "#N#" + suffix
}

// returnKey names the return of a lead's sale i: one item, put once.
func returnKey(id string, sale int) (string, string) {
	return leadPartition(id), fmt.Sprintf("X#RET#%03d", sale)
}

// shard picks one of IndexShards for a lead.
func shard(id string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return int(h.Sum32() % IndexShards)
}

// listingKey is a round 0 item's GSI1 key: the campaign's leads by time.
func listingKey(campaign, id string, created time.Time) (string, string) {
	return listingPartition(campaign, shard(id)), sortTime(created) + "#" + id
}

func listingPartition(campaign string, s int) string {
	return fmt.Sprintf("CAMPAIGN#%s#%d", campaign, s)
}

// dueKey is the GSI1 key of a round (or note) that waits for a message
// until due: the sweeper reads the rounds that are due.
func dueKey(id string, n int, due time.Time) (string, string) {
	return duePartition(shard(id)), fmt.Sprintf("%s#%s#%d", sortTime(due), id, n)
}

func duePartition(s int) string { return fmt.Sprintf("DUE#%d", s) }

// valueKey names the item of one phone number or email address: its
// suppression, the campaigns' dedupe claims on it, and the newest leads
// that carry it (contacts.go).
func valueKey(kind, value string) (string, string) { return "VAL#" + kind + "#" + hash(value), "VAL" }

// findKey names a lead's lookup item for a value whose value item is full.
func findKey(kind, value string, created time.Time, id string) (string, string) {
	return findPartition(kind, value), sortTime(created) + "#" + id
}

func findPartition(kind, value string) string { return "FIND#" + kind + "#" + hash(value) }

func dedupeKey(campaign, field, value string) (string, string) {
	return "DEDUPE#" + campaign + "#" + field + "#" + hash(value), "DEDUPE"
}

// duplicateKey names the record of a lead refused as a duplicate: it
// carries the refusal's ledger entries to the aggregate function.
func duplicateKey(id string) (string, string) { return "DUP#" + id, "DUP" }

func idempotencyKey(source, key string) (string, string) {
	return "IDEM#" + source + "#" + hash(key), "IDEM"
}

// spendItemKey names one origin's ad spend figure of a day (spend.go).
func spendItemKey(day, sk string) (string, string) { return "SPEND#" + day, sk }

// modelKey names a version of a campaign's scoring model (models.go).
func modelKey(campaign string, version int) (string, string) {
	return modelPartition(campaign), fmt.Sprintf("V#%010d", version)
}

func modelPartition(campaign string) string { return "MODEL#" + campaign }

// outcomeKey names a buyer's report of what became of a lead it bought
// (outcomes.go): one item per buyer and event.
func outcomeKey(id, buyer, event string) (string, string) {
	return leadPartition(id), "X#OUT#" + buyer + "#" + event
}

// rateKey names the count of a rate window (rate.go): key is what is
// counted ("leads:<source>", "pings:<source>"), window the window's start.
func rateKey(key string, window time.Time) (string, string) {
	return fmt.Sprintf("RATE#%s#%d", key, window.Unix()), "RATE"
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

// breakerKey names a buyer's circuit breaker: one partition, so a single
// Query reads every buyer's breaker.
func breakerKey(buyer string) (string, string) { return "BREAKER", buyer }

// auditKey names the audit record of the change that made a configuration
// version: one partition, sorted by version (newest last).
func auditKey(version int64) (string, string) { return "AUDIT", fmt.Sprintf("%020d", version) }

// checkpointKey names the ledger's checkpoint in one stream shard.
func checkpointKey(shardID string) (string, string) { return "CKPT#ledger", shardID }

// sweepKey names the sweeper's cursor.
func sweepKey() (string, string) { return "SWEEP", "CURSOR" }

// sessionKey names a console session by the SHA-256 of its cookie's id:
// the table never holds the id a browser presents.
func sessionKey(id string) (string, string) {
	sum := sha256.Sum256([]byte(id))
	return "SESSION#" + hex.EncodeToString(sum[:]), "SESSION"
}

// Ledger dimensions.
const (
	DimCampaign = "campaign"
	DimSource   = "source"
	DimBuyer    = "buyer"
	// DimBuyerSource counts a buyer's sales and returns per source: id
	// BuyerSourceID(buyer, source).
	DimBuyerSource = "buyer_source"
	// DimScoreBand counts a campaign's leads by score band (ScoreBand).
	DimScoreBand = "score_band"
	// DimSubID counts a source's leads per sub-id: id SubIDKey(source, sub).
	DimSubID = "sub_id"
	// DimOrder counts each buyer order's offers, sales and returns: id
	// "<buyer>/<order>".
	DimOrder = "order"
)

// ScoreBand is the ledger id of a score's band: "00-19", "20-39",
// "40-59", "60-79", "80-100".
func ScoreBand(score int) string {
	switch {
	case score >= 80:
		return "80-100"
	case score < 0:
		return "00-19"
	}
	lo := score / 20 * 20
	return fmt.Sprintf("%02d-%02d", lo, lo+19)
}

// SubIDKey is the ledger id of a source's sub-id ("" when the sub-id
// cannot be one: empty, over 64 characters, or with characters other
// than letters, digits, "-", "_" and ".").
func SubIDKey(source, sub string) string {
	if sub == "" || len(sub) > 64 {
		return ""
	}
	for _, r := range sub {
		ok := r == '-' || r == '_' || r == '.' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !ok {
			return ""
		}
	}
	return source + "/" + sub
}

// leadDims are the dimensions a lead's own figures count in: its
// campaign, source, score band and sub-id.
func leadDims(l lead.Lead) map[string]string {
	d := map[string]string{DimCampaign: l.Campaign, DimSource: l.Source, DimScoreBand: ScoreBand(l.Score)}
	if sub, _ := l.Fields["sub_id"].(string); sub != "" {
		if k := SubIDKey(l.Source, sub); k != "" {
			d[DimSubID] = k
		}
	}
	return d
}

// BuyerSourceID is the ledger id of a buyer's figures for one source.
func BuyerSourceID(buyer, source string) string { return buyer + "/" + source }

func ledgerKey(day, dim, id string) (string, string) { return "LEDGER#" + day, dim + "#" + id }

func hash(v string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(v))))
	return hex.EncodeToString(sum[:])
}
