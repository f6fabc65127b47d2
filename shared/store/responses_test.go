package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/leadrelay/leadrelay/shared/lead"
)

// writesDB keeps the ledger entries of the items written.
type writesDB struct {
	DB
	ledger []string
}

func (d *writesDB) keep(item map[string]types.AttributeValue) {
	if l, ok := item[attrLedger].(*types.AttributeValueMemberL); ok {
		for _, v := range l.Value {
			d.ledger = append(d.ledger, v.(*types.AttributeValueMemberS).Value)
		}
	}
}

func (d *writesDB) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	d.keep(in.Item)
	return &dynamodb.PutItemOutput{}, nil
}

func (d *writesDB) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	for _, it := range in.TransactItems {
		if it.Put != nil {
			d.keep(it.Put.Item)
		}
	}
	return &dynamodb.TransactWriteItemsOutput{}, nil
}

// The item that records a delivery attempt carries its response time in
// the order's ledger: a note (retried), a release (refused), a sale; an
// attempt that never reached the buyer carries none.
func TestAttemptsCarryResponseTimes(t *testing.T) {
	db := &writesDB{}
	now := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	s := New(db, "t", func() time.Time { return now })
	ny, _ := time.LoadLocation("America/New_York")
	s.CountLedgerIn(func(context.Context) *time.Location { return ny })
	attempt := func(data map[string]any) lead.Event {
		return lead.Event{At: now, Type: lead.EventAttempt, Buyer: "acme", Order: "auto", Data: data}
	}
	ctx := t.Context()

	// Answered with a status, or timed out after the post was written.
	if err := s.AppendEvents(ctx, "l-1", 1, []lead.Event{attempt(map[string]any{"status": 503, "latency_ms": int64(120)})}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendEvents(ctx, "l-1", 1, []lead.Event{attempt(map[string]any{"unknown": true, "latency_ms": int64(2000)})}); err != nil {
		t.Fatal(err)
	}
	// Refused before the post was written: nothing.
	if err := s.AppendEvents(ctx, "l-1", 1, []lead.Event{attempt(map[string]any{"reason": "connection", "latency_ms": int64(3)})}); err != nil {
		t.Fatal(err)
	}
	// Refused with a status: the release's round carries it.
	if err := s.Release(ctx, "l-1", 1, lead.Routing, nil, []lead.Event{attempt(map[string]any{"status": 400, "latency_ms": int64(80)}), {At: now, Type: lead.EventRejected}}); err != nil {
		t.Fatal(err)
	}
	// Accepted: the sale's round carries it with the sale's figures.
	sale := SaleInput{Lead: &lead.Lead{ID: "l-2", Campaign: "auto", Source: "fb"}, Seq: 1, First: true,
		Sale:   lead.Sale{Buyer: "acme", Order: "auto", Price: 2500, At: now},
		Events: []lead.Event{attempt(map[string]any{"status": 200, "latency_ms": int64(210)}), {At: now, Type: lead.EventAccepted}}}
	if err := s.Sell(ctx, sale); err != nil {
		t.Fatal(err)
	}

	var got []string
	for _, l := range db.ledger {
		if strings.Contains(l, "|order|") && strings.Contains(l, "response") {
			got = append(got, l)
		}
	}
	// 03:00 UTC is the day before in New York: the agency's ledger day.
	want := []string{
		"2026-11-30|order|acme/auto|response_ms:120,responses:1",
		"2026-11-30|order|acme/auto|response_ms:2000,responses:1",
		"2026-11-30|order|acme/auto|response_ms:80,responses:1",
		"2026-11-30|order|acme/auto|response_ms:210,responses:1",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("response entries:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !slices.Contains(db.ledger, "2026-11-30|order|acme/auto|cost:0,revenue:2500,sales:1,sold:1") {
		t.Fatalf("the sale's own order entry is gone: %v", db.ledger)
	}
}

func TestResponseMSReadsDecodedData(t *testing.T) {
	for _, c := range []struct {
		data map[string]any
		ms   int64
		ok   bool
	}{
		{map[string]any{"status": 200, "latency_ms": int64(5)}, 5, true},
		{map[string]any{"status": 200.0, "latency_ms": 7.0}, 7, true}, // as JSON decodes it
		{map[string]any{"status": 200}, 0, false},                     // no latency
		{map[string]any{"unknown": true, "latency_ms": 0}, 0, true},
		{map[string]any{"latency_ms": 9}, 0, false},
	} {
		ms, ok := responseMS(lead.Event{Type: lead.EventAttempt, Buyer: "b", Order: "o", Data: c.data})
		if ms != c.ms || ok != c.ok {
			t.Errorf("%v: %d %v, want %d %v", c.data, ms, ok, c.ms, c.ok)
		}
	}
	if ms, ok := responseMS(lead.Event{Type: lead.EventFailed, Buyer: "b", Order: "o", Data: map[string]any{"status": 503, "latency_ms": 4}}); !ok || ms != 4 {
		t.Error("the last attempt of a buyer given up on did not count")
	}
	if _, ok := responseMS(lead.Event{Type: lead.EventFailed, Buyer: "b", Order: "o", Detail: "the order is no longer configured"}); ok {
		t.Error("a failure without an attempt counted")
	}
	if _, ok := responseMS(lead.Event{Type: lead.EventAccepted, Buyer: "b", Order: "o", Data: map[string]any{"status": 200, "latency_ms": 1}}); ok {
		t.Error("an accepted event counted as a response")
	}
}

// unprocessedDB answers BatchGetItem from items, leaving the last key of
// each first request unprocessed, and counts the requests.
type unprocessedDB struct {
	batchDB
	requests []int
}

func (d *unprocessedDB) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	keys := in.RequestItems["t"].Keys
	d.requests = append(d.requests, len(keys))
	if len(keys) > 1 {
		out, _ := d.batchDB.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{"t": {Keys: keys[:len(keys)-1]}}})
		out.UnprocessedKeys = map[string]types.KeysAndAttributes{"t": {Keys: keys[len(keys)-1:]}}
		return out, nil
	}
	return d.batchDB.BatchGetItem(ctx, in, opts...)
}

// Cap counters are read a hundred keys a request, unprocessed keys sent
// again; a counter never written is missing (zero).
func TestCapCountsInBatches(t *testing.T) {
	items := map[string]map[string]types.AttributeValue{}
	var keys []string
	for i := range 150 {
		k := CapKey(fmt.Sprintf("order:b/o%d", i), "day", "2026-12-01")
		keys = append(keys, k)
		if i%2 == 0 {
			items[k] = map[string]types.AttributeValue{attrPK: str(k), attrSK: str("CAP"), "n": num(int64(i)), "amt": num(int64(i * 100))}
		}
	}
	db := &unprocessedDB{batchDB: batchDB{items: items}}
	s := New(db, "t", nil)
	s.sleep = func(context.Context, time.Duration) error { return nil }
	got, err := s.CapCounts(t.Context(), append(keys, keys[0]))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(db.requests, []int{100, 1, 50, 1}) {
		t.Fatalf("requests of %v keys", db.requests)
	}
	if len(got) != 75 || got[keys[148]] != (CapUse{N: 148, Amount: 14800}) {
		t.Fatalf("%d counters, %v", len(got), got[keys[148]])
	}
	if _, ok := got[keys[1]]; ok {
		t.Fatal("a counter never written is in the answer")
	}
}
