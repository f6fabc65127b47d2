package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/leadrelay/leadrelay/shared/admin"
	"github.com/leadrelay/leadrelay/shared/aggregate"
	"github.com/leadrelay/leadrelay/shared/app/models"
	"github.com/leadrelay/leadrelay/shared/breaker"
	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/console"
	"github.com/leadrelay/leadrelay/shared/delivery"
	"github.com/leadrelay/leadrelay/shared/ingest"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/ping"
	"github.com/leadrelay/leadrelay/shared/queue"
	"github.com/leadrelay/leadrelay/shared/ratelimit"
	"github.com/leadrelay/leadrelay/shared/returns"
	"github.com/leadrelay/leadrelay/shared/router"
	"github.com/leadrelay/leadrelay/shared/store"
	"github.com/leadrelay/leadrelay/shared/sweeper"
)

// The table grants (access.go) and the queue grants (stack.go) are held
// to what the functions do: each handler's dependencies (its Store, Queue,
// Configs, Breakers... fields) are run, method by method, over the real
// adapters (shared/store, shared/breaker, shared/queue) wired to recording
// fakes of DynamoDB and SQS, the way shared/app wires them. Every request
// they make must be granted to the function, and every table grant must be
// used by one of them. LocalStack and moto do not enforce IAM: a missing
// grant would otherwise show first on AWS.

// ddbCall is one item-level DynamoDB authorization: the IAM action, the
// index ("" for the table) and the partition key value it carries.
type ddbCall struct {
	action, index, pk string
}

func (c ddbCall) String() string {
	on := "table"
	if c.index != "" {
		on = "index " + c.index
	}
	return fmt.Sprintf("%s on %s, pk %q", c.action, on, c.pk)
}

// recordingDB is store.DB answering every read empty (but for canned
// items) and every write done, recording what IAM would authorize.
type recordingDB struct {
	mu    sync.Mutex
	calls []ddbCall
	errs  []string
	// failOnce makes the conditions of the writes to these partitions fail,
	// once (a stale round, a full value item...).
	failOnce func(pk string) bool
	// canned answers a GetItem or Query by the partition key's prefix.
	canned func(index, pk string) []map[string]ddbtypes.AttributeValue
}

func (r *recordingDB) record(action, index, pk string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, ddbCall{action, index, pk})
}

func (r *recordingDB) errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// failing reports (and uses up) a failure of the write to pk.
func (r *recordingDB) failing(pks ...string) []bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]bool, len(pks))
	if r.failOnce == nil {
		return out
	}
	any := false
	for i, pk := range pks {
		out[i] = r.failOnce(pk)
		any = any || out[i]
	}
	if any {
		r.failOnce = nil
	}
	return out
}

func (r *recordingDB) cannedItems(index, pk string) []map[string]ddbtypes.AttributeValue {
	if r.canned == nil {
		return nil
	}
	return r.canned(index, pk)
}

func keyPK(key map[string]ddbtypes.AttributeValue) string {
	if s, ok := key["pk"].(*ddbtypes.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

func (r *recordingDB) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	pk := keyPK(in.Key)
	r.record(ddbGetItem, "", pk)
	out := &dynamodb.GetItemOutput{}
	if items := r.cannedItems("", pk); len(items) > 0 {
		out.Item = items[0]
	}
	return out, nil
}

func (r *recordingDB) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	pk := keyPK(in.Item)
	r.record(ddbPutItem, "", pk)
	if r.failing(pk)[0] {
		return nil, &ddbtypes.ConditionalCheckFailedException{Message: aws.String("fake")}
	}
	return &dynamodb.PutItemOutput{}, nil
}

func (r *recordingDB) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	pk := keyPK(in.Key)
	r.record(ddbUpdateItem, "", pk)
	if r.failing(pk)[0] {
		return nil, &ddbtypes.ConditionalCheckFailedException{Message: aws.String("fake")}
	}
	return &dynamodb.UpdateItemOutput{}, nil
}

// Query records the partition its key condition names: the table's "pk",
// or gsi1's "gsi1pk" on the index.
func (r *recordingDB) Query(_ context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	index, want := "", "pk"
	if in.IndexName != nil {
		index, want = *in.IndexName, "gsi1pk"
	}
	first, _, _ := strings.Cut(aws.ToString(in.KeyConditionExpression), " AND ")
	name, placeholder, ok := strings.Cut(first, "=")
	name, placeholder = strings.TrimSpace(name), strings.TrimSpace(placeholder)
	if alias, isAlias := in.ExpressionAttributeNames[name]; isAlias {
		name = alias
	}
	v, _ := in.ExpressionAttributeValues[placeholder].(*ddbtypes.AttributeValueMemberS)
	if !ok || name != want || v == nil {
		r.errorf("query %q on index %q: no equality on %s first", aws.ToString(in.KeyConditionExpression), index, want)
		return &dynamodb.QueryOutput{}, nil
	}
	r.record(ddbQuery, index, v.Value)
	return &dynamodb.QueryOutput{Items: r.cannedItems(index, v.Value)}, nil
}

func (r *recordingDB) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	pks := make([]string, len(in.TransactItems))
	for i, it := range in.TransactItems {
		switch {
		case it.Put != nil:
			pks[i] = keyPK(it.Put.Item)
			r.record(ddbPutItem, "", pks[i])
		case it.Update != nil:
			pks[i] = keyPK(it.Update.Key)
			r.record(ddbUpdateItem, "", pks[i])
		case it.ConditionCheck != nil:
			pks[i] = keyPK(it.ConditionCheck.Key)
			r.record(ddbConditionCheckItem, "", pks[i])
		case it.Delete != nil:
			pks[i] = keyPK(it.Delete.Key)
			r.record("dynamodb:DeleteItem", "", pks[i])
		}
	}
	failed := r.failing(pks...)
	if !slices.Contains(failed, true) {
		return &dynamodb.TransactWriteItemsOutput{}, nil
	}
	reasons := make([]ddbtypes.CancellationReason, len(failed))
	for i, f := range failed {
		code := "None"
		if f {
			code = "ConditionalCheckFailed"
		}
		reasons[i] = ddbtypes.CancellationReason{Code: aws.String(code)}
	}
	return nil, &ddbtypes.TransactionCanceledException{Message: aws.String("fake"), CancellationReasons: reasons}
}

func (r *recordingDB) BatchWriteItem(_ context.Context, in *dynamodb.BatchWriteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	for _, reqs := range in.RequestItems {
		for _, w := range reqs {
			switch {
			case w.PutRequest != nil:
				r.record("dynamodb:BatchWriteItem", "", keyPK(w.PutRequest.Item))
			case w.DeleteRequest != nil:
				r.record("dynamodb:BatchWriteItem", "", keyPK(w.DeleteRequest.Key))
			}
		}
	}
	return &dynamodb.BatchWriteItemOutput{}, nil
}

func (r *recordingDB) BatchGetItem(_ context.Context, in *dynamodb.BatchGetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	for _, ka := range in.RequestItems {
		for _, k := range ka.Keys {
			r.record(ddbBatchGetItem, "", keyPK(k))
		}
	}
	return &dynamodb.BatchGetItemOutput{}, nil
}

func (r *recordingDB) CreateTable(context.Context, *dynamodb.CreateTableInput, ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error) {
	r.record("dynamodb:CreateTable", "", "")
	return &dynamodb.CreateTableOutput{}, nil
}

func (r *recordingDB) UpdateTimeToLive(context.Context, *dynamodb.UpdateTimeToLiveInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error) {
	r.record("dynamodb:UpdateTimeToLive", "", "")
	return &dynamodb.UpdateTimeToLiveOutput{}, nil
}

// sqsCall is one SQS request: the IAM action and the queue (its name in
// testQueueURLs).
type sqsCall struct{ action, queue string }

// recordingSQS is the SQS client of queue.Sender and queue.Redriver; a
// receive gets one message from each queue, once.
type recordingSQS struct {
	mu       sync.Mutex
	calls    []sqsCall
	received map[string]bool
}

// testQueueURLs names each queue by its URL.
var testQueueURLs = queue.URLs{Routing: "routing", RoutingDLQ: "routing-dlq", Delivery: "delivery", DeliveryDLQ: "delivery-dlq",
	Meta: "meta", MetaDLQ: "meta-dlq"}

func (q *recordingSQS) record(action string, url *string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.calls = append(q.calls, sqsCall{action, aws.ToString(url)})
}

func (q *recordingSQS) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	q.record("sqs:SendMessage", in.QueueUrl)
	return &sqs.SendMessageOutput{MessageId: aws.String("m")}, nil
}

func (q *recordingSQS) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	q.record("sqs:ChangeMessageVisibility", in.QueueUrl)
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

func (q *recordingSQS) ReceiveMessage(_ context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	q.record("sqs:ReceiveMessage", in.QueueUrl)
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.received == nil {
		q.received = map[string]bool{}
	}
	if q.received[aws.ToString(in.QueueUrl)] {
		return &sqs.ReceiveMessageOutput{}, nil
	}
	q.received[aws.ToString(in.QueueUrl)] = true
	return &sqs.ReceiveMessageOutput{Messages: []sqstypes.Message{{MessageId: aws.String("m"), Body: aws.String("{}"), ReceiptHandle: aws.String("r")}}}, nil
}

func (q *recordingSQS) GetQueueAttributes(_ context.Context, in *sqs.GetQueueAttributesInput, _ ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	q.record("sqs:GetQueueAttributes", in.QueueUrl)
	return &sqs.GetQueueAttributesOutput{Attributes: map[string]string{"ApproximateNumberOfMessages": "1"}}, nil
}

func (q *recordingSQS) DeleteMessage(_ context.Context, in *sqs.DeleteMessageInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	q.record("sqs:DeleteMessage", in.QueueUrl)
	return &sqs.DeleteMessageOutput{}, nil
}

// accessEnv is one function's adapters over the recorders, wired as
// shared/app wires them (the ledger counted in the configuration's
// timezone, so a write with ledger entries reads the configuration).
type accessEnv struct {
	db       *recordingDB
	sqs      *recordingSQS
	store    *store.Store
	configs  *store.ConfigCache
	breakers *breaker.Breakers
	queue    *queue.Sender
	redriver *queue.Redriver
}

var (
	accessNow   = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	accessPhone = "+15555550100"
	accessCap   = store.CapKey("order:acme/auto", "daily", "2026-05-01")
)

func newAccessEnv() *accessEnv {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db := &recordingDB{}
	st := store.New(db, "leadrelay", func() time.Time { return accessNow })
	st.RetryWith(store.Retry{Tries: 1})
	configs := store.NewConfigCache(st, time.Minute, log)
	st.CountLedgerIn(configs.LedgerLocation)
	q := &recordingSQS{}
	return &accessEnv{
		db: db, sqs: q, store: st, configs: configs,
		breakers: breaker.New(st, time.Minute, func() time.Time { return accessNow }, log),
		queue:    queue.NewSender(q, testQueueURLs),
		redriver: queue.NewRedriver(q, testQueueURLs),
	}
}

func accessRecord(test bool) *lead.Record {
	return &lead.Record{
		Lead: lead.Lead{ID: "l-1", Campaign: "auto", Source: "fb", Fields: map[string]any{"phone": accessPhone, "zip": "94105"},
			Test: test, CreatedAt: accessNow},
		Status: lead.Unsold, Seq: 1,
		Sales: []lead.Sale{{Buyer: "acme", Order: "auto", Price: 2500, Payout: 400, At: accessNow}},
	}
}

func newLead(test bool) store.NewLead {
	return store.NewLead{
		Record:      accessRecord(test),
		Dedupe:      []store.DedupeKey{{Field: "phone", Value: accessPhone, Window: time.Hour}, {Field: "zip", Value: "94105", Window: time.Hour}},
		Idempotency: &store.Idempotency{Key: "k", Response: []byte("{}"), TTL: time.Hour},
		Claim:       &store.PingClaim{ID: "c", Expires: accessNow.Add(time.Minute)},
		Contacts:    []store.Contact{{Field: "phone", Kind: "phone", Value: accessPhone}},
	}
}

func stale(pk string) bool { return strings.HasPrefix(pk, "LEAD#") }

// scenario runs one dependency method over an env, every path of it that
// reaches DynamoDB or SQS (a failed condition, a stale round).
type scenario func(ctx context.Context, e *accessEnv)

// failing runs s with the conditions of the first write to a partition
// that fail matches failing.
func failing(fail func(pk string) bool, s scenario) scenario {
	return func(ctx context.Context, e *accessEnv) {
		e.db.failOnce = fail
		s(ctx, e)
	}
}

// storeScenarios are the store methods the handlers call.
var storeScenarios = map[string][]scenario{
	"LoadConfig": {func(ctx context.Context, e *accessEnv) { _, _ = e.store.LoadConfig(ctx) }},
	"SaveConfig": {func(ctx context.Context, e *accessEnv) { _, _, _ = e.store.SaveConfig(ctx, &config.Config{}, -1) }},
	"ApplyConfig": {func(ctx context.Context, e *accessEnv) {
		_, _, _ = e.store.ApplyConfig(ctx, &config.Config{}, &config.Config{}, store.AuditRecord{Actor: "ops", Action: "apply config"})
	}},
	"Audit":    {func(ctx context.Context, e *accessEnv) { _, _ = e.store.Audit(ctx, 10) }},
	"Breakers": {func(ctx context.Context, e *accessEnv) { _, _ = e.store.Breakers(ctx) }},
	"CapCounts": {func(ctx context.Context, e *accessEnv) {
		_, _ = e.store.CapCounts(ctx, []string{store.CapKey("order:acme/auto", "day", "2026-05-01"), store.CapKey("buyer:acme", "month", "2026-05")})
	}},
	"BreakerFailure": {func(ctx context.Context, e *accessEnv) { _, _ = e.store.BreakerFailure(ctx, "acme") }},
	"OpenBreaker": {func(ctx context.Context, e *accessEnv) {
		_, _ = e.store.OpenBreaker(ctx, "acme", "l-1", time.Time{}, accessNow.Add(time.Minute))
	}},
	"ClaimBreakerTrial": {func(ctx context.Context, e *accessEnv) {
		_, _, _ = e.store.ClaimBreakerTrial(ctx, "acme", accessNow.Add(-time.Minute), accessNow, accessNow.Add(time.Minute))
	}},
	"CloseBreaker": {func(ctx context.Context, e *accessEnv) { _, _ = e.store.CloseBreaker(ctx, "acme") }},
	"PutLead": {
		func(ctx context.Context, e *accessEnv) { _ = e.store.PutLead(ctx, newLead(false)) },
		func(ctx context.Context, e *accessEnv) { _ = e.store.PutLead(ctx, newLead(true)) },
		// A phone's item too full to list one more lead: a lookup item.
		failing(func(pk string) bool { return strings.HasPrefix(pk, "VAL#") }, func(ctx context.Context, e *accessEnv) {
			nl := newLead(false)
			nl.Idempotency, nl.Claim = nil, nil
			_ = e.store.PutLead(ctx, nl)
		}),
	},
	"GetLead": {func(ctx context.Context, e *accessEnv) { _, _ = e.store.GetLead(ctx, "l-1", true) }},
	"CountDuplicate": {func(ctx context.Context, e *accessEnv) {
		_ = e.store.CountDuplicate(ctx, "l-2", "auto", "fb", accessNow)
	}},
	"Return": {func(ctx context.Context, e *accessEnv) {
		_ = e.store.Return(ctx, returns.Decision{Lead: accessRecord(false), Sale: 0, Return: lead.Return{At: accessNow}})
	}, func(ctx context.Context, e *accessEnv) { // a Meta lead's return, its conversion queued with it
		_ = e.store.Return(ctx, returns.Decision{Lead: accessRecord(false), Sale: 0, Return: lead.Return{At: accessNow}, Final: true, Conversion: accessConversion})
	}, func(ctx context.Context, e *accessEnv) { // a prepaid buyer's return credits its balance
		_ = e.store.Return(ctx, returns.Decision{Lead: accessRecord(false), Sale: 0, Return: lead.Return{At: accessNow}, CreditBalance: true})
	}, func(ctx context.Context, e *accessEnv) { // an invoiced buyer's return queues its credit
		_ = e.store.Return(ctx, returns.Decision{Lead: accessRecord(false), Sale: 0, Return: lead.Return{At: accessNow}, Charge: accessCharge})
	}},
	"TopUp": {func(ctx context.Context, e *accessEnv) {
		_, _ = e.store.TopUp(ctx, "acme", "pi_1", 5000, accessNow)
	}},
	"Reserve": reroutable(func(ctx context.Context, e *accessEnv) {
		_ = e.store.Reserve(ctx, store.Reservation{
			LeadID: "l-1", Seq: 1, Assignment: lead.Assignment{Buyer: "acme", Order: "auto", Price: 2500},
			Caps:        []store.CapCounter{{Key: accessCap, Limit: 10, Expires: accessNow}},
			BuyerDedupe: []store.BuyerDedupeKey{{Buyer: "acme", Field: "phone", Value: accessPhone, Window: time.Hour}},
			Rotation:    &store.Rotation{Campaign: "auto", Order: "acme/auto"},
			Balance:     &store.BalanceHold{Buyer: "acme", Amount: 2500},
			Slot:        &store.SlotHold{Buyer: "acme", Index: 1, Holder: "l-1", Expires: accessNow},
		})
	}),
	"EndCall": reroutable(func(ctx context.Context, e *accessEnv) {
		rec := accessRecord(false)
		rec.Assignment = &lead.Assignment{Buyer: "acme", Order: "auto", Price: 2500}
		_ = e.store.EndCall(ctx, rec, 1, []lead.CapHold{{Key: accessCap, Amount: 2500}, {Key: store.BalanceKey("acme"), Amount: 2500}}, nil, &store.CallDial{Seconds: 60})
	}),
	"ReleaseSlot": {func(ctx context.Context, e *accessEnv) { _ = e.store.ReleaseSlot(ctx, store.SlotKey("acme", 1), "l-1") }},
	"NoteOnce":    {func(ctx context.Context, e *accessEnv) { _ = e.store.NoteOnce(ctx, "l-1", 1, "call:CA1:ringing", nil) }},
	"Finish": reroutable(func(ctx context.Context, e *accessEnv) {
		_ = e.store.Finish(ctx, "l-1", 1, lead.Unsold, accessRecord(false), nil)
	}),
	"Sell": reroutable(func(ctx context.Context, e *accessEnv) {
		rec := accessRecord(false)
		_ = e.store.Sell(ctx, store.SaleInput{Lead: &rec.Lead, Seq: 1, Sale: rec.Sales[0], First: true, More: true,
			BuyerDedupe: []store.BuyerDedupeKey{{Buyer: "acme", Field: "phone", Value: accessPhone, Window: time.Hour}},
			Conversion:  accessConversion, Charge: accessCharge})
	}),
	"Release": reroutable(func(ctx context.Context, e *accessEnv) {
		_ = e.store.Release(ctx, "l-1", 1, lead.Routing, []lead.CapHold{{Key: accessCap, Amount: 2500}, {Key: store.BalanceKey("acme"), Amount: 2500}}, nil)
	}),
	"Rotations":    {func(ctx context.Context, e *accessEnv) { _, _ = e.store.Rotations(ctx, "auto") }},
	"AppendEvents": {func(ctx context.Context, e *accessEnv) { _ = e.store.AppendEvents(ctx, "l-1", 1, nil) }},
	"Note":         {func(ctx context.Context, e *accessEnv) { _ = e.store.Note(ctx, "l-1", 1, nil, accessNow) }},
	"Reroute": reroutable(func(ctx context.Context, e *accessEnv) {
		_ = e.store.Reroute(ctx, accessRecord(false), nil)
	}),
	"SearchLeads": {
		func(ctx context.Context, e *accessEnv) {
			_, _ = e.store.SearchLeads(ctx, store.LeadSearch{Contact: &store.Contact{Kind: "phone", Value: accessPhone}, Limit: 10})
		},
		func(ctx context.Context, e *accessEnv) {
			_, _ = e.store.SearchLeads(ctx, store.LeadSearch{Campaign: "auto", Limit: 10})
		},
	},
	"Suppress": {func(ctx context.Context, e *accessEnv) {
		_, _ = e.store.Suppress(ctx, "dnc", []store.Contact{{Kind: "phone", Value: accessPhone}})
	}},
	"Unsuppress": {func(ctx context.Context, e *accessEnv) {
		_, _ = e.store.Unsuppress(ctx, []store.Contact{{Kind: "phone", Value: accessPhone}})
	}},
	"LedgerDays": {func(ctx context.Context, e *accessEnv) { _, _ = e.store.LedgerDays(ctx, []string{"2026-05-01"}) }},
	"SetSpend": {func(ctx context.Context, e *accessEnv) {
		_, _ = e.store.SetSpend(ctx, []store.Spend{{Source: "fb", Campaign: "auto", Day: "2026-05-01", Amount: 100}})
	}},
	"FoldLedger": {func(ctx context.Context, e *accessEnv) {
		_, _ = e.store.FoldLedger(ctx, "shard-1", []store.StreamRecord{{Seq: "100", Ledger: []string{"2026-05-01|campaign|auto|leads:1"}}})
	}},
	"PutReport": {func(ctx context.Context, e *accessEnv) {
		_ = e.store.PutReport(ctx, "l-1", lead.Report{Buyer: "acme", Event: lead.ReportConverted, At: accessNow}, lead.Event{At: accessNow}, nil)
	}, func(ctx context.Context, e *accessEnv) {
		_ = e.store.PutReport(ctx, "l-1", lead.Report{Buyer: "acme", Event: lead.ReportConverted, At: accessNow}, lead.Event{At: accessNow}, accessConversion)
	}},
	"ClaimConversions": {func(ctx context.Context, e *accessEnv) {
		_, _ = e.store.ClaimConversions(ctx, "run-1", 10, time.Minute)
	}},
	"ConversionSent": {func(ctx context.Context, e *accessEnv) {
		_ = e.store.ConversionSent(ctx, "run-1", accessQueuedConversion(), accessNow)
	}},
	"ConversionFailed": {func(ctx context.Context, e *accessEnv) {
		_ = e.store.ConversionFailed(ctx, "run-1", accessQueuedConversion(), "refused")
	}},
	// The billing task and the admin API's balances and statements.
	"Balance": {func(ctx context.Context, e *accessEnv) { _, _ = e.store.Balance(ctx, "acme") }},
	"MarkBalanceNotice": {func(ctx context.Context, e *accessEnv) {
		_, _ = e.store.MarkBalanceNotice(ctx, "acme", "low")
	}},
	"StartRecharge": {func(ctx context.Context, e *accessEnv) {
		_, _, _ = e.store.StartRecharge(ctx, "acme", accessNow, time.Hour)
	}},
	"ClaimCharges": {func(ctx context.Context, e *accessEnv) {
		_, _ = e.store.ClaimCharges(ctx, "run-1", 10, time.Minute)
	}},
	"ChargeSent": {func(ctx context.Context, e *accessEnv) {
		_ = e.store.ChargeSent(ctx, "run-1", *accessCharge, accessNow)
	}},
	"ChargeFailed": {func(ctx context.Context, e *accessEnv) {
		_ = e.store.ChargeFailed(ctx, "run-1", *accessCharge, "refused")
	}},
	"Charges": {func(ctx context.Context, e *accessEnv) { _, _ = e.store.Charges(ctx, "acme", "2026-05") }},
	"PutSession": {func(ctx context.Context, e *accessEnv) {
		_ = e.store.PutSession(ctx, "cookie-id", store.Session{Kind: store.SessionOperator, Who: "token", Created: accessNow, Expires: accessNow.Add(time.Hour)})
	}},
	"Session":    {func(ctx context.Context, e *accessEnv) { _, _ = e.store.Session(ctx, "cookie-id") }},
	"EndSession": {func(ctx context.Context, e *accessEnv) { _ = e.store.EndSession(ctx, "cookie-id") }},
	"RecentLeads": {func(ctx context.Context, e *accessEnv) {
		_, _ = e.store.RecentLeads(ctx, []store.Contact{{Field: "phone", Kind: "phone", Value: accessPhone}, {Field: "ip", Kind: "ip", Value: "203.0.113.9"}}, time.Hour, accessNow)
	}},
	"PutModel": {func(ctx context.Context, e *accessEnv) {
		_ = e.store.PutModel(ctx, store.Model{Campaign: "auto", Version: 1, At: accessNow, Blob: []byte{1}})
	}},
	"LatestModel":     {func(ctx context.Context, e *accessEnv) { _, _ = e.store.LatestModel(ctx, "auto") }},
	"LoadSweepCursor": {func(ctx context.Context, e *accessEnv) { _, _ = e.store.LoadSweepCursor(ctx) }},
	"SaveSweepCursor": {func(ctx context.Context, e *accessEnv) {
		_ = e.store.SaveSweepCursor(ctx, store.SweepCursor{Due: accessNow})
	}},
	"CreatedBetween": {func(ctx context.Context, e *accessEnv) {
		_, _ = e.store.CreatedBetween(ctx, "auto", accessNow.Add(-time.Hour), accessNow)
	}},
	"DueBetween": {func(ctx context.Context, e *accessEnv) {
		_, _ = e.store.DueBetween(ctx, accessNow.Add(-time.Hour), accessNow)
	}},
	"RoundsExist": {func(ctx context.Context, e *accessEnv) {
		_, _ = e.store.RoundsExist(ctx, []store.RoundRef{{LeadID: "l-1", Seq: 2}})
	}},
}

// reroutable is a state change, once as written and once finding its
// round taken (the store then reads the lead as it is).
func reroutable(s scenario) []scenario { return []scenario{s, failing(stale, s)} }

// accessConversion is a Meta lead's stage, queued with the write that
// reaches it.
var accessConversion = &lead.Conversion{Stage: lead.StageSold, PlatformLeadID: "1234567890", At: accessNow, Key: "R1"}

// accessCharge is an invoiced buyer's charge, queued with its sale.
var accessCharge = &lead.Charge{Kind: lead.ChargeSale, Buyer: "acme", Customer: "cus_1", LeadID: "l-1", Amount: 2500, At: accessNow, ID: "l-1:R2", Period: "2026-05"}

// accessQueuedConversion is a conversion a run claimed: claimed from the
// canned index entry, so that its keys are the store's.
func accessQueuedConversion() store.QueuedConversion {
	return store.QueuedConversionOf("l-1", *accessConversion)
}

var acme = &config.Buyer{ID: "acme"}

// dependency kinds: a handler field's interface, whose methods have
// scenarios here.
var (
	configsScenarios = map[string][]scenario{
		"Get": {func(ctx context.Context, e *accessEnv) { _, _ = e.configs.Get(ctx) }},
	}
	// The breakers run over a half-open breaker (open until a minute ago),
	// which makes Exclude claim its trial.
	breakersScenarios = map[string][]scenario{
		"Exclude": {func(ctx context.Context, e *accessEnv) {
			_ = e.breakers.Exclude(ctx, []config.OrderRef{{Buyer: acme, Order: &config.Order{ID: "auto"}}})
		}},
		"ExcludeQuoting": {func(ctx context.Context, e *accessEnv) {
			_ = e.breakers.ExcludeQuoting(ctx, []config.OrderRef{{Buyer: acme, Order: &config.Order{ID: "auto"}}})
		}},
		"Failure": {func(ctx context.Context, e *accessEnv) { _, _ = e.breakers.Failure(ctx, acme, "l-1") }},
		"Success": {func(ctx context.Context, e *accessEnv) {
			_, _ = e.breakers.Failure(ctx, acme, "l-1")
			_, _ = e.breakers.Success(ctx, "acme", "l-1")
		}},
	}
	queueScenarios = map[string][]scenario{
		"Route": {func(ctx context.Context, e *accessEnv) {
			_ = e.queue.Route(ctx, queue.Route{Lead: lead.Lead{ID: "l-1"}})
		}},
		"Deliver": {func(ctx context.Context, e *accessEnv) {
			_ = e.queue.Deliver(ctx, queue.Deliver{Lead: lead.Lead{ID: "l-1"}})
		}},
		"DeliverLater": {func(ctx context.Context, e *accessEnv) {
			_ = e.queue.DeliverLater(ctx, queue.Deliver{Lead: lead.Lead{ID: "l-1"}})
		}},
		"DeadLetter": {func(ctx context.Context, e *accessEnv) {
			_ = e.queue.DeadLetter(ctx, queue.Deliver{Lead: lead.Lead{ID: "l-1"}}, "gave up")
		}},
		"DeadLetterRoute": {func(ctx context.Context, e *accessEnv) {
			_ = e.queue.DeadLetterRoute(ctx, queue.Route{Lead: lead.Lead{ID: "l-1"}}, "gave up")
		}},
		// The Meta webhook queues the leads it is notified of.
		"Meta": {func(ctx context.Context, e *accessEnv) {
			_ = e.queue.Meta(ctx, queue.Meta{LeadgenID: "g-1", PageID: "p-1", FormID: "f-1"})
		}},
		// Delivery backs off the messages of its own queue (Handler.QueueURL).
		"Delay": {func(ctx context.Context, e *accessEnv) {
			_ = e.queue.Delay(ctx, testQueueURLs.Delivery, "r", time.Minute)
		}},
	}
	// A source's rate: a lease of its window, then (the count spent) a
	// single request.
	limitsScenarios = map[string][]scenario{
		"Allow": {func(ctx context.Context, e *accessEnv) {
			l := &ratelimit.Limiter{Counter: e.store, Now: func() time.Time { return accessNow }}
			_, _ = l.Allow(ctx, ratelimit.Leads+":fb", 10)
		}},
	}
	// A campaign's model, read through the functions' cache.
	modelsScenarios = map[string][]scenario{
		"Model": {func(ctx context.Context, e *accessEnv) {
			_, _ = (&models.Cache{Store: e.store, Now: func() time.Time { return accessNow }}).Model(ctx, "auto")
		}},
	}
	redriverScenarios = map[string][]scenario{
		"Redrive": {func(ctx context.Context, e *accessEnv) {
			_, _ = e.redriver.Redrive(ctx, queue.NameRouting, 1)
			_, _ = e.redriver.Redrive(ctx, queue.NameDelivery, 1)
			_, _ = e.redriver.Redrive(ctx, queue.NameMeta, 1)
		}},
		"Depths": {func(ctx context.Context, e *accessEnv) { _, _ = e.redriver.Depths(ctx) }},
	}
)

// handlerDeps says, per function, its handler's type and which of its
// interface fields reach the table or the queues (and with which
// scenarios). Every other interface field must be in noTableOrQueue.
type handlerDeps struct {
	handler reflect.Type
	deps    map[string]map[string][]scenario
}

// moreHandlers are the other handlers a function runs besides its own:
// the admin function's console (its sessions).
func moreHandlers() map[string][]handlerDeps {
	return map[string][]handlerDeps{
		FnAdmin: {{reflect.TypeFor[console.Server](), map[string]map[string][]scenario{"Sessions": storeScenarios}}},
	}
}

func functionDeps() map[string]handlerDeps {
	return map[string]handlerDeps{
		FnIngest: {reflect.TypeFor[ingest.Handler](), map[string]map[string][]scenario{
			"Store": storeScenarios, "Queue": queueScenarios, "Configs": configsScenarios, "Limits": limitsScenarios,
			"Outcomes": storeScenarios, "Recents": storeScenarios, "Models": modelsScenarios, "MetaQueue": queueScenarios,
			"Balances": storeScenarios, "Calls": storeScenarios}},
		FnRouter: {reflect.TypeFor[router.Handler](), map[string]map[string][]scenario{
			"Store": storeScenarios, "Queue": queueScenarios, "Configs": configsScenarios, "Breakers": breakersScenarios}},
		FnDelivery: {reflect.TypeFor[delivery.Handler](), map[string]map[string][]scenario{
			"Store": storeScenarios, "Queue": queueScenarios, "Configs": configsScenarios, "Breakers": breakersScenarios}},
		FnAdmin: {reflect.TypeFor[admin.Handler](), map[string]map[string][]scenario{
			"Store": storeScenarios, "Queue": queueScenarios, "Redriver": redriverScenarios, "Ledger": storeScenarios,
			"Models": storeScenarios, "ConversionQueue": storeScenarios, "Balances": storeScenarios, "Charges": storeScenarios}},
		FnPing: {reflect.TypeFor[ping.Handler](), map[string]map[string][]scenario{
			"Configs": configsScenarios, "Breakers": breakersScenarios, "Limits": limitsScenarios}},
		FnAggregate: {reflect.TypeFor[aggregate.Handler](), map[string]map[string][]scenario{"Store": storeScenarios}},
		FnSweeper: {reflect.TypeFor[sweeper.Handler](), map[string]map[string][]scenario{
			"Store": storeScenarios, "Queue": queueScenarios, "Configs": configsScenarios}},
	}
}

// noTableOrQueue are handler dependencies that reach neither the table nor
// the queues: HTTP clients (buyers, sellers' postbacks, Slack) and SES
// (TestSendEmailScope). A postback sender reads the configuration through
// the function's own configuration cache. The Meta pages' tokens and the
// ad spend accounts' are SSM parameters (meta.go grants them).
var noTableOrQueue = map[string]bool{"Pinger": true, "Postbacks": true, "Webhook": true, "Slack": true, "Email": true,
	"Secrets":    true, // the configuration's secrets: KMS (stack.go grants it), not the table
	"PageTokens": true,
	"AdSpend":    true, // the ad platforms over HTTP, the accounts' tokens from SSM (meta.go grants them)
	// Meta's Conversions API over HTTP, the dataset's token from SSM
	// (meta.go grants it).
	"ConversionSender": true,
	// Stripe's API over HTTP, the account's key from SSM (grantSpendTokens
	// grants /leadrelay/*); Refs reads SSM parameters only.
	"Billing": true,
	"Refs":    true,
	// Google Sheets over HTTP, the service account's key from SSM (the
	// Parameters and Secrets extension, /leadrelay/*): a repeat reads the
	// sheet back, not the table.
	"Sheets": true,
	// The console's: the admin handler it calls in-process (whose own
	// dependencies are the admin function's row), and the identity
	// provider (Amazon Cognito's endpoints over HTTPS).
	"API":      true,
	"Identity": true,
}

// access is what one function's dependencies did.
type access struct {
	table []ddbCall
	sqs   []sqsCall
}

// functionAccess runs every method of every dependency of the function's
// handler, each in a fresh env.
func functionAccess(t *testing.T, fn string) access {
	t.Helper()
	hd, ok := functionDeps()[fn]
	if !ok {
		t.Fatalf("%s: no handler dependencies listed", fn)
	}
	var out access
	for _, h := range append([]handlerDeps{hd}, moreHandlers()[fn]...) {
		got := handlerAccess(t, fn, h)
		out.table = append(out.table, got.table...)
		out.sqs = append(out.sqs, got.sqs...)
	}
	return out
}

// handlerAccess runs every method of every dependency of one handler of
// the function.
func handlerAccess(t *testing.T, fn string, hd handlerDeps) access {
	t.Helper()
	var out access
	seenDeps := map[string]bool{}
	for i := range hd.handler.NumField() {
		f := hd.handler.Field(i)
		if !f.IsExported() || f.Type.Kind() != reflect.Interface {
			continue
		}
		scenarios, ok := hd.deps[f.Name]
		if !ok {
			if !noTableOrQueue[f.Name] {
				t.Errorf("%s: handler field %s (%s) is not known to reach neither the table nor the queues: list its scenarios in functionDeps", fn, f.Name, f.Type)
			}
			continue
		}
		seenDeps[f.Name] = true
		for m := range f.Type.NumMethod() {
			name := f.Type.Method(m).Name
			runs, ok := scenarios[name]
			if !ok {
				t.Errorf("%s: %s.%s has no scenario in infra/access_test.go: add one, and its grants to infra/access.go or stack.go", fn, f.Name, name)
				continue
			}
			for _, run := range runs {
				e := newAccessEnv()
				e.db.canned = cannedItems
				run(context.Background(), e)
				if len(e.db.errs) > 0 {
					t.Errorf("%s: %s.%s: %s", fn, f.Name, name, strings.Join(e.db.errs, "; "))
				}
				out.table = append(out.table, e.db.calls...)
				out.sqs = append(out.sqs, e.sqs.calls...)
			}
		}
	}
	for name := range hd.deps {
		if !seenDeps[name] {
			t.Errorf("%s: functionDeps lists %s, which the handler has no longer", fn, name)
		}
	}
	return out
}

// cannedItems make the reads that lead to further reads find something: a
// phone's item listing a lead, a campaign's listing holding it, a
// half-open breaker.
func cannedItems(index, pk string) []map[string]ddbtypes.AttributeValue {
	s := func(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }
	switch {
	case index == "" && strings.HasPrefix(pk, "VAL#"):
		return []map[string]ddbtypes.AttributeValue{{"pk": s(pk), "sk": s("VAL"), "leads": &ddbtypes.AttributeValueMemberL{Value: []ddbtypes.AttributeValue{s("l-1")}}}}
	case index == indexGSI1 && strings.HasPrefix(pk, "CONV#"):
		return []map[string]ddbtypes.AttributeValue{{"pk": s("LEAD#l-1"), "sk": s("X#CONV#sold#R1"), "gsi1pk": s(pk), "gsi1sk": s("2026-05-01T11:00:00.000000000Z#l-1#sold#R1")}}
	case index == indexGSI1 && strings.HasPrefix(pk, "BILLQ#"):
		return []map[string]ddbtypes.AttributeValue{{"pk": s("BILL#acme#2026-05"), "sk": s("2026-05-01T11:00:00.000000000Z#l-1:R2"), "gsi1pk": s(pk), "gsi1sk": s("2026-05-01T11:00:00.000000000Z#l-1:R2")}}
	case index == indexGSI1 && strings.HasPrefix(pk, "CAMPAIGN#"):
		return []map[string]ddbtypes.AttributeValue{{"pk": s("LEAD#l-1"), "sk": s("R#000000"), "gsi1pk": s(pk), "gsi1sk": s("2026-05-01T11:00:00.000000000Z#l-1")}}
	case index == "" && pk == "BREAKER":
		return []map[string]ddbtypes.AttributeValue{{"pk": s(pk), "sk": s("acme"), "failures": &ddbtypes.AttributeValueMemberN{Value: "5"},
			"open_until": &ddbtypes.AttributeValueMemberN{Value: fmt.Sprint(accessNow.Add(-time.Minute).UnixMilli())}}}
	}
	return nil
}

// likeMatch is IAM's StringLike: "*" any run of characters, "?" any one.
func likeMatch(pattern, s string) bool {
	if pattern == "" {
		return s == ""
	}
	switch pattern[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if likeMatch(pattern[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return s != "" && likeMatch(pattern[1:], s[1:])
	}
	return s != "" && s[0] == pattern[0] && likeMatch(pattern[1:], s[1:])
}

func TestLikeMatch(t *testing.T) {
	for _, c := range []struct {
		p, s string
		want bool
	}{
		{"LEAD#*", "LEAD#l-1", true}, {"LEAD#*", "LEAD#", true}, {"LEAD#*", "LEADS", false},
		{"CONFIG", "CONFIG", true}, {"CONFIG", "CONFIGS", false}, {"CKPT#ledger", "CKPT#ledger", true},
		{"DUP#*", "DUE#3", false}, {"CAP#*", "CAMPAIGN#auto#1", false}, {"a?c", "abc", true},
	} {
		if got := likeMatch(c.p, c.s); got != c.want {
			t.Errorf("likeMatch(%q, %q) = %v", c.p, c.s, got)
		}
	}
}

func TestIndexName(t *testing.T) {
	if indexGSI1 != store.GSI1 {
		t.Errorf("the stack's index is %q, the store queries %q", indexGSI1, store.GSI1)
	}
}

// grantsCall reports whether a table grant covers a call.
func grantsCall(gs []keyGrant, c ddbCall) bool {
	for _, g := range gs {
		if g.action != c.action {
			continue
		}
		for _, k := range g.keys {
			if likeMatch(k, c.pk) {
				return true
			}
		}
	}
	return false
}

// Every request a function's handler makes of the table is granted to the
// function (tableAccessOf), and every grant is used: no function may touch
// a partition it does not.
func TestTableAccessIsWhatTheHandlersDo(t *testing.T) {
	for _, fn := range FunctionNames() {
		t.Run(fn, func(t *testing.T) {
			got := functionAccess(t, fn)
			want := tableAccessOf(fn)
			if len(want.table) == 0 {
				t.Fatalf("no table access for %s", fn)
			}
			var denied []string
			for _, c := range got.table {
				gs := want.table
				if c.index != "" {
					gs = want.index
				}
				if !grantsCall(gs, c) {
					denied = append(denied, c.String())
				}
			}
			slices.Sort(denied)
			if denied = slices.Compact(denied); len(denied) > 0 {
				t.Errorf("%s does, but may not (infra/access.go):\n  %s", fn, strings.Join(denied, "\n  "))
			}
			unused := func(gs []keyGrant, index string) {
				for _, g := range gs {
					for _, k := range g.keys {
						used := slices.ContainsFunc(got.table, func(c ddbCall) bool {
							return c.index == index && c.action == g.action && likeMatch(k, c.pk)
						})
						if !used {
							t.Errorf("%s may %s on %q (index %q), which no dependency of its handler does", fn, g.action, k, index)
						}
					}
				}
			}
			unused(want.table, "")
			unused(want.index, indexGSI1)
		})
	}
}

// Every message a function's handler sends, receives or delays is on a
// queue its role may use so.
func TestQueueAccessIsGranted(t *testing.T) {
	f := synthDefault(t)
	all := f.roleGrants(t)
	queueID := map[string]string{}
	for name, prefix := range map[string]string{
		testQueueURLs.Routing: "RoutingQueue", testQueueURLs.RoutingDLQ: "RoutingDLQ",
		testQueueURLs.Delivery: "DeliveryQueue", testQueueURLs.DeliveryDLQ: "DeliveryDLQ",
		testQueueURLs.Meta: "MetaQueue", testQueueURLs.MetaDLQ: "MetaDLQ",
	} {
		queueID[name], _ = f.onlyResource(t, "AWS::SQS::Queue", prefix)
	}
	for _, fn := range FunctionNames() {
		g := all[f.functionRole(t, fn)]
		var missing []string
		for _, c := range functionAccess(t, fn).sqs {
			id, ok := queueID[c.queue]
			if !ok {
				t.Errorf("%s: %s on unknown queue %q", fn, c.action, c.queue)
				continue
			}
			if !g.can(c.action, id) {
				missing = append(missing, fmt.Sprintf("%s on %s", c.action, c.queue))
			}
		}
		sort.Strings(missing)
		if missing = slices.Compact(missing); len(missing) > 0 {
			t.Errorf("%s does, but its role may not: %s", fn, strings.Join(missing, ", "))
		}
	}
}

// functionRole is the logical ID of a function's role.
func (f *fixture) functionRole(t *testing.T, fn string) string {
	t.Helper()
	_, res := f.onlyResource(t, "AWS::Lambda::Function", constructID(fn)+"Function")
	return refID(props(res)["Role"])
}
