package runner

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/money"
)

func hammerYAML(url string) string {
	return fmt.Sprintf(`
campaigns:
  - id: solar
    fields:
      phone: {type: phone, required: true}
      state: {type: us_state}
sources:
  - id: src
    campaigns: [solar]
    api_key_sha256: %[1]q
    payout: {type: revshare, percent: 50}
buyers:
  - id: b1
    timezone: America/Los_Angeles
    caps: {daily: 60}
    delivery: {type: webhook, url: %[2]q, secret: %[3]q}
    orders:
      - {campaign: solar, price: 10.00, priority: 2, caps: {hourly: 40}}
  - id: b2
    timezone: America/New_York
    delivery: {type: webhook, url: %[2]q, secret: %[3]q}
    orders:
      - {campaign: solar, price: 20.00, priority: 1, caps: {daily: 50, daily_budget: 800}}
  - id: b3
    timezone: Europe/London
    delivery: {type: webhook, url: %[2]q, secret: %[3]q}
    orders:
      - {campaign: solar, price: 5.00, priority: 3, caps: {weekly: 70, monthly: 80, monthly_budget: 300}}
  - id: b4
    delivery: {type: webhook, url: %[2]q, secret: %[3]q}
    caps: {monthly: 30}
    orders:
      - {campaign: solar, price: 7.00, priority: 4}
`, sourceHash, url, secret)
}

// Invariants 1–4 under load: 500 leads, 8 router and 8 delivery workers,
// every batch delivered twice, caps of every kind on four buyers in four
// timezones.
func TestCapsHoldUnderLoadAndRedelivery(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	b := newBuyer(t)
	e := start(t, hammerYAML(b.srv.URL), func(o *Options) {
		o.Pollers, o.Redeliver, o.Visibility = 8, true, 30*time.Second
	})
	const n = 500
	ids := make([]string, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			body := fmt.Sprintf(`{"campaign":"solar","fields":{"phone":%q}}`, phone(1000+i))
			r := e.do("POST", "/v1/leads", "application/json", body, map[string]string{"X-API-Key": sourceKey})
			if r.Status != 202 {
				t.Errorf("post %d: %d %v", i, r.Status, r.Body)
				return
			}
			ids[i] = r.Body["lead_id"].(string)
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	ctx := context.Background()
	a := e.r.App
	sales := map[string]int{}
	var revenue, cost money.Amount
	sold, unsold := 0, 0
	deadline := time.Now().Add(4 * time.Minute)
	for _, id := range ids {
		var rec *lead.Record
		for {
			var err error
			rec, err = a.Store.GetLead(ctx, id, true)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Status == lead.Sold || rec.Status == lead.Unsold {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("lead %s still %s", id, rec.Status)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if rec.Status == lead.Sold {
			sold++
		} else {
			unsold++
		}
		if rec.Status == lead.Sold && len(rec.Sales) != 1 || rec.Status == lead.Unsold && len(rec.Sales) != 0 {
			t.Fatalf("lead %s: %s with %d sales", id, rec.Status, len(rec.Sales))
		}
		for _, s := range rec.Sales {
			sales[s.Buyer]++
			revenue += s.Price
			cost += s.Payout
		}
	}
	total := 0
	for _, n := range sales {
		total += n
	}
	if total != sold || sold+unsold != n || len(b.received()) != sold {
		t.Fatalf("sold %d, unsold %d, per-buyer sum %d, posts received %d", sold, unsold, total, len(b.received()))
	}
	// Every bucket's counter is within its cap, and the units the counters
	// hold add up to the sales: caps held in every hour, day, week and month
	// the run touched (a run may cross an hour's end in some timezone).
	held := checkCounters(t, e, map[string]int64{
		"order:b1/solar#hour": 40, "buyer:b1#day": 60, "order:b2/solar#day": 50, "order:b3/solar#week": 70,
		"order:b3/solar#month": 80, "buyer:b4#month": 30,
	})
	for key, units := range held {
		if strings.HasSuffix(key, "#buckets") {
			continue
		}
		buyer := strings.TrimPrefix(strings.SplitN(strings.SplitN(key, "#", 2)[0], "/", 2)[0], "order:")
		buyer = strings.TrimPrefix(buyer, "buyer:")
		if units != int64(sales[buyer]) {
			t.Errorf("cap counters %s hold %d units; %s bought %d leads", key, units, buyer, sales[buyer])
		}
	}
	// Budgets: b2 spends 20.00 a lead against 800.00 a day, b3 5.00 against
	// 300.00 a month.
	if sales["b2"] > 40*max(1, countBuckets(held, "order:b2/solar#day")) || sales["b3"] > 60 {
		t.Errorf("budgets exceeded: %v", sales)
	}
	// The ledger is the sum over the lead records, to the cent.
	var ledgerRev, ledgerCost, ledgerSold int64
	e.settle()
	for _, day := range []string{time.Now().UTC().Add(-time.Hour).Format(time.DateOnly), time.Now().UTC().Format(time.DateOnly)} {
		rows, err := a.Store.Ledger(ctx, day)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if r.Dimension == "campaign" {
				ledgerRev += r.Counts["revenue"]
				ledgerCost += r.Counts["cost"]
				ledgerSold += r.Counts["sold"]
			}
		}
		if time.Now().UTC().Add(-time.Hour).Format(time.DateOnly) == time.Now().UTC().Format(time.DateOnly) {
			break
		}
	}
	if ledgerRev != int64(revenue) || ledgerCost != int64(cost) || ledgerSold != int64(sold) {
		t.Fatalf("ledger revenue %d cost %d sold %d; lead records %d %d %d", ledgerRev, ledgerCost, ledgerSold, revenue, cost, sold)
	}
	t.Logf("%d sold (%v), %d unsold; revenue %s, cost %s", sold, sales, unsold, revenue, cost)
}

func checkCounters(t *testing.T, e *env, limits map[string]int64) map[string]int64 {
	t.Helper()
	db := dynamodb.NewFromConfig(e.cfg)
	out, err := db.Scan(context.Background(), &dynamodb.ScanInput{
		TableName:                 aws.String(e.r.App.Settings.Table),
		FilterExpression:          aws.String("begins_with(pk, :cap)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":cap": &types.AttributeValueMemberS{Value: "CAP#"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	held := map[string]int64{} // scope#period → units over all its buckets
	buckets := map[string]int64{}
	for _, it := range out.Items {
		var row struct {
			PK string `dynamodbav:"pk"`
			N  int64  `dynamodbav:"n"`
		}
		if err := attributevalue.UnmarshalMap(it, &row); err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(row.PK, "#") // CAP#scope#period#bucket
		key := parts[1] + "#" + parts[2]
		lim, ok := limits[key]
		if !ok {
			continue
		}
		held[key] += row.N
		buckets[key+"#buckets"]++
		if row.N > lim || row.N < 0 {
			t.Errorf("cap counter %s holds %d units; cap %d", row.PK, row.N, lim)
		}
	}
	if len(held) < len(limits) {
		t.Errorf("found %d of %d cap counters", len(held), len(limits))
	}
	for k, v := range buckets {
		held[k] = v
	}
	return held
}

// countBuckets is how many buckets of a scope#period the run touched.
func countBuckets(held map[string]int64, key string) int {
	return int(held[key+"#buckets"])
}
