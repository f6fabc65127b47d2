package store

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/leadrelay/leadrelay/shared/lead"
)

func TestLedgerEntriesRoundTrip(t *testing.T) {
	es := entries("2026-12-01", map[string]string{DimCampaign: "auto", DimSource: "fb-1", DimBuyer: ""}, counts{"revenue": 2500, "cost": -400, "sold": 1})
	if len(es) != 2 {
		t.Fatalf("entries: %v (an empty id is skipped)", es)
	}
	s := es[0].String()
	if s != "2026-12-01|campaign|auto|cost:-400,revenue:2500,sold:1" {
		t.Fatalf("encoded %q", s)
	}
	e, err := parseEntry(s)
	if err != nil || e.day != "2026-12-01" || e.dim != DimCampaign || e.id != "auto" || e.add["cost"] != -400 || e.add["revenue"] != 2500 || len(e.add) != 3 {
		t.Fatalf("parsed %+v, %v", e, err)
	}
	for _, bad := range []string{"", "a|b|c", "d|campaign|x|n", "d|campaign|x|n:1x", "|campaign|x|n:1"} {
		if _, err := parseEntry(bad); !errors.Is(err, errBadEntry) {
			t.Errorf("parseEntry(%q) = %v, want errBadEntry", bad, err)
		}
	}
}

func TestSeqAfter(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{"1", "", true},
		{"", "1", false},
		{"1100000000017454423010", "1100000000017454423009", true},
		{"999", "1000", false},
		{"1000", "999", true},
		{"42", "42", false},
		{"0042", "41", true},
	}
	for _, c := range cases {
		if got := seqAfter(c.a, c.b); got != c.want {
			t.Errorf("seqAfter(%q, %q) = %v", c.a, c.b, got)
		}
	}
}

func TestFoldChunkNeverSplitsARecordAndBoundsItems(t *testing.T) {
	var recs []StreamRecord
	var parsed [][]entry
	// 60 records, each touching 4 aggregates of its own: 24 records fill
	// 96 items, the 25th would pass 99.
	for i := range 60 {
		es := entries("2026-12-01", map[string]string{DimCampaign: fmt.Sprint("c", i), DimSource: fmt.Sprint("s", i), DimBuyer: fmt.Sprint("b", i), DimBuyerSource: fmt.Sprint("bs", i)}, counts{"sales": 1})
		recs = append(recs, StreamRecord{Seq: fmt.Sprint(100 + i)})
		parsed = append(parsed, es)
	}
	end, sums := foldChunk(recs, parsed, 0)
	if end != 24 || len(sums) != 96 {
		t.Fatalf("first chunk ends at %d with %d items, want 24 and 96", end, len(sums))
	}
	end2, _ := foldChunk(recs, parsed, end)
	if end2 != 48 {
		t.Fatalf("second chunk ends at %d", end2)
	}
	// Records on the same aggregates fold into one item each.
	same := make([][]entry, 500)
	for i := range same {
		same[i] = entries("2026-12-01", map[string]string{DimCampaign: "auto"}, counts{"leads": 1})
	}
	end, sums = foldChunk(make([]StreamRecord, 500), same, 0)
	if end != 500 || len(sums) != 1 || sums[[3]string{"2026-12-01", DimCampaign, "auto"}]["leads"] != 500 {
		t.Fatalf("500 records on one aggregate: end %d, sums %v", end, sums)
	}
}

func reasons(codes ...string) error {
	r := make([]types.CancellationReason, len(codes))
	for i, c := range codes {
		r[i] = types.CancellationReason{Code: aws.String(c)}
	}
	return fmt.Errorf("wrapped: %w", &types.TransactionCanceledException{CancellationReasons: r})
}

func TestCollidedTellsCollisionsFromAnswers(t *testing.T) {
	yes := []error{
		reasons("None", "TransactionConflict"),
		reasons("TransactionConflict"),
		reasons("None", "ThrottlingError", "None"),
		&types.TransactionConflictException{},
		&types.ProvisionedThroughputExceededException{},
		&smithy.GenericAPIError{Code: "ThrottlingException"},
	}
	for _, err := range yes {
		if !collided(err) {
			t.Errorf("collided(%v) = false", err)
		}
	}
	no := []error{
		nil,
		errors.New("boom"),
		reasons("None", "None"),
		reasons("ConditionalCheckFailed", "TransactionConflict"),
		reasons("None", "ValidationError"),
		&types.ConditionalCheckFailedException{},
	}
	for _, err := range no {
		if collided(err) {
			t.Errorf("collided(%v) = true", err)
		}
	}
}

func TestFailuresAreReadByName(t *testing.T) {
	tx := &txn{}
	tx.put("lead", &types.Put{})
	tx.update("cap:0", &types.Update{})
	tx.check("contact:x", &types.ConditionCheck{})
	old := map[string]types.AttributeValue{"sup": &types.AttributeValueMemberS{Value: "dnc"}}
	err := &types.TransactionCanceledException{CancellationReasons: []types.CancellationReason{
		{Code: aws.String("None")}, {Code: aws.String("ConditionalCheckFailed")}, {Code: aws.String("ConditionalCheckFailed"), Item: old},
	}}
	f := tx.failures(err)
	if _, ok := f["lead"]; ok || len(f) != 2 || f["contact:x"]["sup"] == nil {
		t.Fatalf("failures: %v", f)
	}
	if tx.failures(reasons("None", "TransactionConflict", "None")) != nil || tx.failures(nil) != nil {
		t.Fatal("a collision or success has no failed conditions")
	}
}

func TestContactClaimsMergeValuesAndDedupe(t *testing.T) {
	cc := claimContacts([]Contact{
		{Field: "email", Kind: ContactEmail, Value: "a@example.com"},
		{Field: "phone", Kind: ContactPhone, Value: "+14155550100"},
		{Field: "phone2", Kind: ContactPhone, Value: "+14155550100"},
	}, []DedupeKey{{Field: "phone", Value: "+14155550100"}, {Field: "ssn", Value: "123"}})
	if len(cc.values) != 2 {
		t.Fatalf("values: %d, want 2 (one per distinct value)", len(cc.values))
	}
	if !cc.claims("phone") || cc.claims("phone2") || cc.claims("ssn") || cc.claims("email") {
		t.Fatal("only the phone dedupe key is claimed on its value's item")
	}
}

func TestFoldBuildsTheRecordFromItsRounds(t *testing.T) {
	s := New(nil, "t", nil)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	rec := &lead.Record{Lead: lead.Lead{ID: "L1", Campaign: "auto", Source: "src", Fields: map[string]any{"state": "CA"}, CreatedAt: now}, Status: lead.Received,
		Events: []lead.Event{{At: now, Type: lead.EventReceived}}}
	r0, err := s.leadItem(t.Context(), rec)
	if err != nil {
		t.Fatal(err)
	}
	a := lead.Assignment{Buyer: "acme", Order: "o1", Price: 2500}
	p1, _ := s.roundPut("L1", round{Seq: 1, Status: lead.Routing, At: now.Add(time.Second), Assignment: &a, Tried: "acme/o1", Event: []lead.Event{{Type: lead.EventRouted}}}, now.Add(time.Hour), nil)
	p2, _ := s.roundPut("L1", round{Seq: 2, Status: lead.Sold, At: now.Add(2 * time.Second), Sale: &lead.Sale{Buyer: "acme", Order: "o1", Price: 2500, Payout: 400}, Event: []lead.Event{{Type: lead.EventAccepted}}}, time.Time{}, nil)
	got, err := fold([]map[string]types.AttributeValue{r0, p1.Item, p2.Item})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != lead.Sold || got.Seq != 2 || got.Assignment != nil || len(got.Sales) != 1 || len(got.Tried) != 1 || len(got.Events) != 3 || got.Fields["state"] != "CA" {
		t.Fatalf("folded %+v", got)
	}
	if _, ok := p1.Item[attrGSI1PK]; ok || got.Due.IsZero() == false {
		t.Fatal("round 1 is checked from the listing: not in the index; a settled lead has no due time")
	}
	p3, _ := s.roundPut("L1", round{Seq: 3, Status: lead.Routing, At: now}, now.Add(time.Hour), nil)
	if _, ok := p3.Item[attrGSI1PK]; !ok {
		t.Fatal("a later round waiting for its message is in the sweeper's index")
	}
	if _, ok := p2.Item[attrGSI1PK]; ok {
		t.Fatal("a settled round is not in the sweeper's index")
	}
	if sz := ItemSize(r0); sz > 1024 {
		t.Fatalf("round 0 of a small lead is %d bytes", sz)
	}
	if !strings.HasPrefix(r0[attrGSI1PK].(*types.AttributeValueMemberS).Value, "CAMPAIGN#auto#") {
		t.Fatal("round 0 is listed under its campaign")
	}
}

func TestItemSizeAndWriteUnits(t *testing.T) {
	item := map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "LEAD#1"},                                                          // 2+6
		"n":  &types.AttributeValueMemberN{Value: "12345"},                                                           // 1+4
		"l":  &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "ab"}}}, // 1+3+1+2
		"b":  &types.AttributeValueMemberBOOL{Value: true},                                                           // 1+1
	}
	if got := ItemSize(item); got != 8+5+7+2 {
		t.Fatalf("size %d", got)
	}
	for _, c := range []struct {
		size int
		txn  bool
		want int
	}{{1, false, 1}, {1024, false, 1}, {1025, false, 2}, {1024, true, 2}, {3000, true, 6}} {
		if got := WriteUnits(c.size, c.txn); got != c.want {
			t.Errorf("WriteUnits(%d, %v) = %d, want %d", c.size, c.txn, got, c.want)
		}
	}
}

func TestNewLeadTransactionNamesItsParts(t *testing.T) {
	s := New(nil, "t", func() time.Time { return time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC) })
	rec := &lead.Record{Lead: lead.Lead{ID: "L1", Campaign: "auto", Source: "src", CreatedAt: s.now()}, Status: lead.Received}
	in := NewLead{
		Record:      rec,
		Dedupe:      []DedupeKey{{Field: "phone", Value: "+14155550100", Window: time.Hour}, {Field: "ssn", Value: "123", Window: time.Hour}},
		Idempotency: &Idempotency{Key: "k", Response: []byte("{}"), TTL: time.Hour},
		Contacts:    []Contact{{Field: "phone", Kind: ContactPhone, Value: "+14155550100"}, {Field: "email", Kind: ContactEmail, Value: "a@example.com"}},
	}
	tx, _, err := s.newLeadTxn(t.Context(), in, s.now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	names := strings.Join(tx.names, " ")
	pk, _ := valueKey(ContactPhone, "+14155550100")
	for _, want := range []string{itemLead, itemIdem, "contact:" + pk, dedupeName("ssn")} {
		if !strings.Contains(names, want) {
			t.Errorf("no %q among %s", want, names)
		}
	}
	if strings.Contains(names, dedupeName("phone")) {
		t.Error("the phone's dedupe key is claimed on its value's item, not an item of its own")
	}
	if len(tx.items) != 5 { // lead, idempotency, 2 values, ssn dedupe
		t.Fatalf("%d items: %s", len(tx.items), names)
	}
	// The phone's value item claims the dedupe window and lists the lead.
	for i, n := range tx.names {
		if n == "contact:"+pk {
			u := tx.items[i].Update
			attrs := map[string]bool{}
			for _, a := range u.ExpressionAttributeNames {
				attrs[a] = true
			}
			if !attrs[attrListed] || !attrs[attrSuppressed] || !attrs[claimExpiryAttr("auto", "phone")] || !attrs[claimLeadAttr("auto", "phone")] {
				t.Fatalf("phone value update names %v", u.ExpressionAttributeNames)
			}
		}
	}
	// A test lead writes nothing but itself: its values are checked.
	rec.Test, in.Idempotency = true, nil
	tx, _, _ = s.newLeadTxn(t.Context(), in, s.now(), nil)
	for i, it := range tx.items {
		if tx.names[i] != itemLead && it.ConditionCheck == nil {
			t.Errorf("a test lead writes %s", tx.names[i])
		}
	}
}
