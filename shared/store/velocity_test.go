package store

import (
	"context"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/leadrelay/leadrelay/shared/lead"
)

// batchDB answers BatchGetItem from items by partition key.
type batchDB struct {
	DB
	items map[string]map[string]types.AttributeValue
}

func (d *batchDB) BatchGetItem(_ context.Context, in *dynamodb.BatchGetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	out := &dynamodb.BatchGetItemOutput{Responses: map[string][]map[string]types.AttributeValue{}}
	for table, ka := range in.RequestItems {
		for _, k := range ka.Keys {
			if it, ok := d.items[k[attrPK].(*types.AttributeValueMemberS).Value]; ok {
				out.Responses[table] = append(out.Responses[table], it)
			}
		}
	}
	return out, nil
}

// Velocity counts the hour buckets within the window, names their
// sources, and marks the buckets past MaxVelocityWindow for removal.
func TestRecentLeadsCountsTheWindow(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 30, 0, 0, time.UTC)
	h := velocityHour(now)
	n := func(v int) types.AttributeValue { return &types.AttributeValueMemberN{Value: strconv.Itoa(v)} }
	ss := func(v ...string) types.AttributeValue { return &types.AttributeValueMemberSS{Value: v} }
	at := func(hours int64) string { return strconv.FormatInt(h-hours, 10) }
	phone := Contact{Field: "phone", Kind: ContactPhone, Value: "+14158927310"}
	ppk, _ := valueKey(phone.Kind, phone.Value)
	db := &batchDB{items: map[string]map[string]types.AttributeValue{ppk: {
		attrPK: str(ppk), "sup": str("dnc"),
		"vh:" + at(0): n(2), "vs:" + at(0): ss("fb", "google"),
		"vh:" + at(23): n(1), "vs:" + at(23): ss("tiktok"),
		"vh:" + at(24): n(5), "vs:" + at(24): ss("old"), // outside a 24 h window, kept
		"vh:" + at(80): n(9), "vs:" + at(80): ss("ancient"), // past 72 h: removed
	}}}
	s := New(db, "t", func() time.Time { return now })
	email := Contact{Field: "email", Kind: ContactEmail, Value: "ada@example.com"}
	got, err := s.RecentLeads(context.Background(), []Contact{phone, email}, 24*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got[0].Sources)
	if got[0].Leads != 3 || !slices.Equal(got[0].Sources, []string{"fb", "google", "tiktok"}) {
		t.Fatalf("phone: %+v", got[0])
	}
	slices.Sort(got[0].expired)
	if !slices.Equal(got[0].expired, []string{"vh:" + at(80), "vs:" + at(80)}) {
		t.Fatalf("expired %v", got[0].expired)
	}
	if got[1].Leads != 0 || len(got[1].Sources) != 0 {
		t.Fatalf("an email never seen: %+v", got[1])
	}

	// The new lead's update counts it in the hour and removes what expired.
	upd := countVelocity(expression.Set(expression.Name("kind"), expression.Value("phone")), "fb", now, got[0].expired)
	expr, err := expression.NewBuilder().WithUpdate(upd).Build()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, v := range expr.Names() {
		names[v] = true
	}
	if !names["vh:"+at(0)] || !names["vs:"+at(0)] || !names["vh:"+at(80)] {
		t.Fatalf("update %s with %v", *expr.Update(), expr.Names())
	}
}

func TestScoreBandsAndSubIDKeys(t *testing.T) {
	for score, want := range map[int]string{0: "00-19", 19: "00-19", 20: "20-39", 59: "40-59", 79: "60-79", 80: "80-100", 100: "80-100", -3: "00-19"} {
		if got := ScoreBand(score); got != want {
			t.Errorf("ScoreBand(%d) = %s, want %s", score, got, want)
		}
	}
	if SubIDKey("fb", "aff-7") != "fb/aff-7" || SubIDKey("fb", "a|b") != "" || SubIDKey("fb", "") != "" {
		t.Fatal("SubIDKey")
	}
}

// A score's detail comes back from its compact form as it went in (but
// the signals' words, which are not kept).
func TestScoreDetailRoundTrip(t *testing.T) {
	d := &lead.ScoreDetail{Score: 41, Rule: 35, Signals: []lead.Signal{
		{Name: "phone_type", Value: "toll_free", Points: -15, Why: "not kept"}, {Name: "completeness", Value: "0.75", Points: 2.5},
	}, Model: &lead.ModelPart{Version: 3, Probability: 0.62, Blend: 0.4, Terms: []lead.Term{{Feature: "f:credit=poor", Weight: -0.7}}}}
	got := compactScore(d).detail()
	want := *d
	want.Signals = []lead.Signal{{Name: "phone_type", Value: "toll_free", Points: -15}, {Name: "completeness", Value: "0.75", Points: 2.5}}
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}
