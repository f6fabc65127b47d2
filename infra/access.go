package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"
)

// What each function may do on the table, item by item.
//
// One table holds everything (shared/store/keys.go): leads and their
// contacts (PII), the configuration with the buyers' webhook secrets, caps,
// the ledger. A function's role names the partitions it may touch with the
// IAM condition key dynamodb:LeadingKeys (ForAllValues:StringLike on the
// partition key, "pk"), one statement per action: the ping function, which
// calls buyer-controlled URLs, can read the configuration and the breakers
// and nothing else, no lead among them.
//
// How IAM evaluates the condition:
//
//   - GetItem, PutItem, UpdateItem and ConditionCheckItem carry the item's
//     partition key; BatchGetItem every key it reads; a Query on the table
//     the partition its key condition names. TransactWriteItems has no
//     action of its own: each of its items is authorized as the PutItem,
//     UpdateItem or ConditionCheckItem it is, key and all.
//   - ForAllValues is true when the request carries no partition key at all
//     (Scan, DescribeTable, PartiQL): no statement below grants such an
//     action, and infra/iam_test.go holds every DynamoDB statement of a
//     function role to the item-level actions.
//   - A Query on a global secondary index names the index's partition key
//     (gsi1pk), not the table's: that value is the only one the request
//     carries, and it is what dynamodb:LeadingKeys holds for the index ARN.
//     AWS documents the key as "the partition key" and shows it on a table
//     and a local secondary index (which shares the table's partition key);
//     it says nothing of a global one. The index statements below are
//     written for that reading (CAMPAIGN#…, DUE#…, gsi1's partitions) and
//     cannot break the queries under another: if the key were absent,
//     ForAllValues would hold. They grant Query on gsi1 only, whose
//     projection is the keys and the lead's source (no PII); reading a lead
//     found there needs the table grant on LEAD#… as well.
//
// The keys each function touches are what its handler's Store interface
// (shared/<handler>) calls in shared/store; infra/access_test.go runs those
// store methods against a recording fake of DynamoDB and holds the grants
// below to exactly what they do. A store change that touches another
// partition fails there first, not on AWS: LocalStack and moto do not
// enforce IAM.

// Partition key patterns (dynamodb:LeadingKeys, StringLike) of the table's
// items (shared/store/keys.go).
const (
	pkConfig      = "CONFIG"        // the configuration (buyers' secrets among it)
	pkBreaker     = "BREAKER"       // the buyers' circuit breakers
	pkAudit       = "AUDIT"         // configuration audit records
	pkSweep       = "SWEEP"         // the sweeper's cursor
	pkCheckpoint  = "CKPT#ledger"   // the ledger's per-shard checkpoints
	pkLead        = "LEAD#*"        // leads: rounds, notes, returns (PII)
	pkValue       = "VAL#*"         // phone/email items: suppression, dedupe, leads carrying it
	pkFind        = "FIND#*"        // overflow lookups of a phone/email
	pkDedupe      = "DEDUPE#*"      // campaign dedupe claims on other fields
	pkDuplicate   = "DUP#*"         // refused duplicates (ledger records)
	pkIdempotency = "IDEM#*"        // Idempotency-Key records
	pkRate        = "RATE#*"        // sources' rate windows
	pkCap         = "CAP#*"         // cap counters
	pkBuyerDedupe = "BUYERDEDUPE#*" // a buyer's dedupe claims
	pkRotation    = "ROT#*"         // round-robin/weighted rotation counters
	pkLedger      = "LEDGER#*"      // the P&L's day aggregates
	pkPingClaim   = "PINGCLAIM#*"   // ping_id claims
	pkModel       = "MODEL#*"       // campaigns' scoring models, versioned
	pkSpend       = "SPEND#*"       // each day's ad spend figures, by origin, source and campaign
	pkBalance     = "BALANCE#*"     // prepaid buyers' balances
	pkTopUp       = "TOPUP#*"       // payments credited to a balance, once each
	pkBill        = "BILL#*"        // invoiced buyers' charges, by buyer and month
	pkSlot        = "SLOT#*"        // buyers' concurrency slots for calls
	pkSession     = "SESSION#*"     // the console's sessions and sign-ins under way

	// gsi1's partitions (gsi1pk): each campaign's leads by creation, and
	// the rounds due for the sweeper.
	gsiCampaign = "CAMPAIGN#*"
	gsiDue      = "DUE#*"
	// The lead stages queued for Meta's Conversions API, and the charges
	// queued for Stripe.
	gsiConversion = "CONV#*"
	gsiCharge     = "BILLQ#*"
)

// indexGSI1 is the table's one global secondary index (store.GSI1).
const indexGSI1 = "gsi1"

// DynamoDB actions the functions use. None of them deletes, scans or
// writes in batches.
const (
	ddbGetItem            = "dynamodb:GetItem"
	ddbBatchGetItem       = "dynamodb:BatchGetItem"
	ddbQuery              = "dynamodb:Query"
	ddbPutItem            = "dynamodb:PutItem"
	ddbUpdateItem         = "dynamodb:UpdateItem"
	ddbConditionCheckItem = "dynamodb:ConditionCheckItem"
)

// keyGrant allows one action on the partitions whose key matches one of
// keys.
type keyGrant struct {
	action string
	keys   []string
}

// tableAccess is one function's access to the table: on the table itself,
// and (Query only) on gsi1, whose keys are gsi1's partition keys.
type tableAccess struct {
	table []keyGrant
	index []keyGrant
}

// tableAccessOf is what each function may do on the table; the comments
// name the store methods (shared/store) behind each grant.
func tableAccessOf(fn string) tableAccess {
	switch fn {
	case FnPing:
		// The configuration (cache), the breakers to leave out buyers
		// whose breaker is open (breaker.ExcludeQuoting reads them, claims
		// nothing), and the sources' rate windows it counts pings in. No
		// lead.
		return tableAccess{table: []keyGrant{
			{ddbGetItem, []string{pkConfig}},  // LoadConfig
			{ddbQuery, []string{pkBreaker}},   // Breakers
			{ddbUpdateItem, []string{pkRate}}, // Limits: TakeRate
		}}
	case FnIngest:
		return tableAccess{table: []keyGrant{
			{ddbGetItem, []string{pkConfig}}, // LoadConfig (cache; the ledger's timezone)
			// GetLead: GET /v1/leads/{id}, returns, outcomes; LatestModel
			// (the scoring model, cached); Rotations (round robin and
			// weighted calls).
			{ddbQuery, []string{pkLead, pkModel, pkRotation}},
			{ddbBatchGetItem, []string{pkValue}}, // RecentLeads: velocity of the lead's contacts
			// PutLead (round 0, idempotency, value overflow, dedupe, ping
			// claim), CountDuplicate, Return (an invoiced buyer's credit
			// queued), PutReport; TopUp (the payment's record). Calls
			// (ingest/voice.go): Reserve, Release, Sell, Finish, NoteOnce
			// (the lead's rounds and notes), Sell's buyer dedupe and an
			// invoiced buyer's charge, Reserve's concurrency slot.
			{ddbPutItem, []string{pkLead, pkIdempotency, pkFind, pkDedupe, pkPingClaim, pkDuplicate, pkBill, pkTopUp, pkBuyerDedupe, pkSlot}},
			// PutLead: contacts; Limits: TakeRate; Return, TopUp: a prepaid
			// balance credited. Calls: Reserve and Release's caps and
			// prepaid balance, ReleaseSlot; Reserve's rotation counter (the
			// store method's, though calls count no rotation yet).
			{ddbUpdateItem, []string{pkValue, pkRate, pkBalance, pkCap, pkRotation, pkSlot}},
			// PutLead of a test lead: checks, claims nothing. Calls:
			// Reserve's buyer dedupe free.
			{ddbConditionCheckItem, []string{pkValue, pkDedupe, pkPingClaim, pkBuyerDedupe}},
		}}
	case FnRouter:
		return tableAccess{table: []keyGrant{
			{ddbGetItem, []string{pkConfig}}, // LoadConfig (cache; the ledger's timezone)
			// Rotations; Breakers; GetLead after a stale round.
			{ddbQuery, []string{pkLead, pkRotation, pkBreaker}},
			// Reserve, Finish: the lead's next round; Reserve: a call's
			// concurrency slot (the store method's; the router reserves
			// none: calls are reserved by the ingest function).
			{ddbPutItem, []string{pkLead, pkSlot}},
			// Reserve: caps, rotation, a prepaid balance; ClaimBreakerTrial.
			{ddbUpdateItem, []string{pkCap, pkRotation, pkBreaker, pkBalance}},
			{ddbConditionCheckItem, []string{pkBuyerDedupe}}, // Reserve: buyer dedupe free
		}}
	case FnDelivery:
		return tableAccess{table: []keyGrant{
			{ddbGetItem, []string{pkConfig}},        // LoadConfig (cache; the ledger's timezone)
			{ddbQuery, []string{pkLead, pkBreaker}}, // GetLead; Breakers
			// Sell, Release, AppendEvents; Sell's buyer dedupe and an
			// invoiced buyer's charge.
			{ddbPutItem, []string{pkLead, pkBuyerDedupe, pkBill}},
			// Release: caps and a prepaid balance back; BreakerFailure,
			// OpenBreaker, CloseBreaker.
			{ddbUpdateItem, []string{pkCap, pkBreaker, pkBalance}},
		}}
	case FnAdmin:
		// The operator API (AWS_IAM) and its console (its sessions):
		// configuration and its audit log,
		// lead timelines and search, re-routes, suppression lists,
		// operators' returns, the P&L and ad spend, prepaid balances and
		// billing statements, the buyers' health (breakers and cap
		// counters, read only); the scheduled scoring trainings, feedback
		// loops and billing (charges reported to Stripe, balances'
		// notices and recharges). Not: writing caps or breakers,
		// rotations, dedupe and idempotency records, rate windows, ping
		// claims, the ledger's checkpoints, the sweeper's cursor.
		return tableAccess{
			table: []keyGrant{
				// LoadConfig, SaveConfig; SearchLeads by contact; Balance;
				// Session (the console's).
				{ddbGetItem, []string{pkConfig, pkValue, pkBalance, pkSession}},
				// Audit; GetLead, SearchLeads; SearchLeads' overflow lookups;
				// LedgerDays (the P&L, the feedback loops, the buyers'
				// health); LatestModel; SetSpend (the day's figures);
				// Charges (a statement); Breakers (the buyers' health).
				{ddbQuery, []string{pkAudit, pkLead, pkFind, pkLedger, pkModel, pkSpend, pkBill, pkBreaker}},
				// CapCounts: the buyers' health, every cap's current bucket.
				{ddbBatchGetItem, []string{pkCap}},
				// SaveConfig, ApplyConfig (with its audit record, the loops'
				// changes too); Reroute, Return; PutModel (a training);
				// SetSpend (a figure replaced).
				// Return: an invoiced buyer's credit queued; TopUp (an
				// automatic recharge): the payment's record. PutSession: a
				// console sign-in.
				{ddbPutItem, []string{pkConfig, pkAudit, pkLead, pkModel, pkSpend, pkBill, pkTopUp, pkSession}},
				// Suppress, Unsuppress; SetSpend; ClaimConversions,
				// ConversionSent, ConversionFailed (the leads' stages
				// queued for Meta).
				// Return, TopUp: a prepaid balance credited;
				// MarkBalanceNotice, StartRecharge; ClaimCharges,
				// ChargeSent, ChargeFailed (the charges queued for Stripe).
				// EndSession: a console sign-out (the session expires at
				// once: no function deletes).
				{ddbUpdateItem, []string{pkValue, pkLedger, pkLead, pkBalance, pkBill, pkSession}},
			},
			// SearchLeads by campaign; ClaimConversions; ClaimCharges.
			index: []keyGrant{{ddbQuery, []string{gsiCampaign, gsiConversion, gsiCharge}}},
		}
	case FnAggregate:
		// The table's stream comes through its event source mapping; the
		// table itself only for the fold: the day aggregates (ADD, no
		// read) and the per-shard checkpoint.
		return tableAccess{table: []keyGrant{
			{ddbGetItem, []string{pkCheckpoint}}, // FoldLedger: the shard's checkpoint
			{ddbPutItem, []string{pkCheckpoint}}, // FoldLedger: the checkpoint moves on
			{ddbUpdateItem, []string{pkLedger}},  // FoldLedger: the day aggregates
		}}
	case FnSweeper:
		return tableAccess{
			table: []keyGrant{
				{ddbGetItem, []string{pkConfig, pkSweep}}, // LoadConfig (campaigns); LoadSweepCursor
				{ddbQuery, []string{pkLead}},              // GetLead
				{ddbBatchGetItem, []string{pkLead}},       // RoundsExist
				{ddbPutItem, []string{pkLead, pkSweep}},   // Note (recovery notes); SaveSweepCursor
			},
			// CreatedBetween (campaigns' leads), DueBetween (due rounds).
			index: []keyGrant{{ddbQuery, []string{gsiCampaign, gsiDue}}},
		}
	}
	return tableAccess{}
}

// grantTable gives fn its tableAccessOf(name).
func (s *LeadRelayStack) grantTable(fn awslambda.Function, a tableAccess) {
	add := func(resource string, g keyGrant) {
		fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings(g.action),
			Resources: jsii.Strings(resource),
			Conditions: &map[string]any{
				"ForAllValues:StringLike": map[string]any{"dynamodb:LeadingKeys": g.keys},
			},
		}))
	}
	for _, g := range a.table {
		add(*s.Table.TableArn(), g)
	}
	for _, g := range a.index {
		add(*s.Table.TableArn()+"/index/"+indexGSI1, g)
	}
}
