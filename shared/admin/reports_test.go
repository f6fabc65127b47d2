package admin

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/leadrelay/leadrelay/shared/store"
)

func TestPnLQueryValidation(t *testing.T) {
	cases := []struct {
		q     map[string]string
		field string
		code  string
	}{
		{map[string]string{"from": "2025-01-01", "to": "2025-01-31", "group_by": "source"}, "", ""},
		{map[string]string{"from": "2025-01-01", "to": "2025-01-01"}, "", ""},
		{map[string]string{"from": "2024-01-01", "to": "2024-12-31", "group_by": "day"}, "", ""}, // 366 days (leap year)
		{map[string]string{"from": "2024-01-01", "to": "2025-01-01"}, "to", "range_too_long"},
		{map[string]string{"to": "2025-01-01"}, "from", "required"},
		{map[string]string{"from": "2025-01-01"}, "to", "required"},
		{map[string]string{"from": "2025-13-01", "to": "2025-12-31"}, "from", "invalid"},
		{map[string]string{"from": "2025-01-01", "to": "01/31/2025"}, "to", "invalid"},
		{map[string]string{"from": "2025-02-01", "to": "2025-01-31"}, "to", "invalid"},
		{map[string]string{"from": "2025-01-01", "to": "2025-01-31", "group_by": "order"}, "", ""},
		{map[string]string{"from": "2025-01-01", "to": "2025-01-31", "group_by": "score_band"}, "", ""},
		{map[string]string{"from": "2025-01-01", "to": "2025-01-31", "group_by": "orders"}, "group_by", "invalid"},
		{map[string]string{"from": "2025-01-01", "to": "2025-01-31", "format": "csv"}, "", ""},
		{map[string]string{"from": "2025-01-01", "to": "2025-01-31", "format": "json"}, "", ""},
		{map[string]string{"from": "2025-01-01", "to": "2025-01-31", "format": "xlsx"}, "format", "invalid"},
	}
	for _, c := range cases {
		q, probs := parsePnLQuery(c.q)
		if c.field == "" {
			if len(probs) != 0 {
				t.Fatalf("%v: %v", c.q, probs)
			}
			continue
		}
		if len(probs) == 0 || probs[0].Field != c.field || probs[0].Code != c.code {
			t.Fatalf("%v: problems %v, want %s %s", c.q, probs, c.field, c.code)
		}
		_ = q
	}
	q, _ := parsePnLQuery(map[string]string{"from": "2025-02-27", "to": "2025-03-02"})
	if d := q.days(); strings.Join(d, ",") != "2025-02-27,2025-02-28,2025-03-01,2025-03-02" || q.groupBy != "campaign" {
		t.Fatalf("days %v group %s", d, q.groupBy)
	}
}

func TestRatioAndRounding(t *testing.T) {
	cases := []struct {
		num, den int64
		want     string
	}{
		{1, 3, "0.3333"}, {2, 3, "0.6667"}, {1, 2, "0.5"}, {1, 1, "1"}, {0, 5, "0"},
		{-1, 3, "-0.3333"}, {-2, 3, "-0.6667"}, {1, 20000, "0.0001"}, {1, 20001, "0"}, {-1, 20000, "-0.0001"},
	}
	for _, c := range cases {
		if got := NewRatio(c.num, c.den).String(); got != c.want {
			t.Errorf("%d/%d = %s, want %s", c.num, c.den, got, c.want)
		}
	}
	if divRound(5, 2) != 3 || divRound(-5, 2) != -3 || divRound(7, 3) != 2 {
		t.Fatal("divRound does not round half away from zero")
	}
}

func TestBuildPnL(t *testing.T) {
	rows := []store.LedgerRow{
		{Day: "2025-03-01", Dimension: "campaign", ID: "auto", Counts: map[string]int64{"leads": 12, "accepted": 10, "duplicates": 2, "sold": 6, "sales": 7, "unsold": 3, "rejected": 1, "returned": 1, "revenue": 15000, "cost": 2400, "ad_spend": 1000}},
		{Day: "2025-03-02", Dimension: "campaign", ID: "auto", Counts: map[string]int64{"leads": 1, "accepted": 1, "revenue": -2000, "returned": 1}},
		{Day: "2025-03-01", Dimension: "campaign", ID: "solar", Counts: map[string]int64{"leads": 1, "accepted": 1, "sold": 1, "sales": 1, "revenue": 1001, "cost": 333}},
		{Day: "2025-03-01", Dimension: "source", ID: "fb", Counts: map[string]int64{"leads": 13, "revenue": 16001}},
		{Day: "2025-03-01", Dimension: "buyer", ID: "acme", Counts: map[string]int64{"sales": 3, "sold": 3, "returned": 1, "revenue": 5000, "cost": 300}},
	}
	rep := BuildPnL(rows, "2025-03-01", "2025-03-02", GroupCampaign)
	if len(rep.Rows) != 2 || rep.Rows[0].Key != "auto" || rep.Rows[1].Key != "solar" {
		t.Fatalf("rows %+v", rep.Rows)
	}
	auto := rep.Rows[0]
	// revenue 150 − 20 = 130; cost 24; spend 10 → profit 96, margin 96/130.
	if auto.Leads != 13 || auto.Duplicates != 2 || auto.Returned != 2 || auto.Revenue != 13000 || auto.Profit != 9600 ||
		auto.Margin.String() != "0.7385" || auto.AvgSalePrice != 2600 || auto.ReturnRate.String() != "0.2857" {
		t.Fatalf("auto %+v", auto)
	}
	if rep.Totals.Revenue != 14001 || rep.Totals.Cost != 2733 || rep.Totals.AdSpend != 1000 || rep.Totals.Profit != 10268 {
		t.Fatalf("totals %+v", rep.Totals)
	}
	days := BuildPnL(rows, "2025-03-01", "2025-03-02", GroupDay)
	if len(days.Rows) != 2 || days.Rows[0].Key != "2025-03-01" || days.Rows[0].Revenue != 16001 || days.Rows[1].Revenue != -2000 || days.Rows[1].Margin != 0 {
		t.Fatalf("days %+v", days.Rows)
	}
	buyers := BuildPnL(rows, "2025-03-01", "2025-03-02", GroupBuyer)
	if len(buyers.Rows) != 1 || buyers.Rows[0].Profit != 4700 || buyers.Rows[0].AvgSalePrice != 2500 {
		t.Fatalf("buyers %+v", buyers.Rows)
	}
	b, err := json.Marshal(rep.Rows[1])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"revenue":10.01`, `"cost":3.33`, `"profit":6.68`, `"margin":0.6673`, `"avg_sale_price":10.01`, `"return_rate":0`, `"ad_spend":0`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
	csv := pnlCSV(rep)
	lines := strings.Split(strings.TrimSpace(csv.Body), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "key,leads,") || lines[2] != "solar,1,1,0,0,1,0,0,1,10.01,3.33,0.00,6.68,0.6673,10.01,0,0,0,0,0" ||
		!strings.HasPrefix(lines[3], "total,") || !strings.HasPrefix(csv.Headers["Content-Type"], "text/csv") {
		t.Fatalf("csv:\n%s", csv.Body)
	}
}

// The CSV has the calls' columns on every row, with the JSON's figures,
// and 0 on rows without calls.
func TestPnLCSVHasTheCallColumns(t *testing.T) {
	rows := []store.LedgerRow{
		{Day: "2025-03-01", Dimension: "campaign", ID: "calls", Counts: map[string]int64{"leads": 3, "accepted": 2, "sold": 1, "sales": 1, "unsold": 1,
			"revenue": 3000, "cost": 1700, "connected": 2, "billable": 1, "call_seconds": 155}},
		{Day: "2025-03-01", Dimension: "campaign", ID: "web", Counts: map[string]int64{"leads": 1, "accepted": 1, "unsold": 1}},
	}
	rep := BuildPnL(rows, "2025-03-01", "2025-03-01", GroupCampaign)
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var js struct {
		Rows   []map[string]any `json:"rows"`
		Totals map[string]any   `json:"totals"`
	}
	if err := json.Unmarshal(b, &js); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(pnlCSV(rep).Body), "\n")
	if len(lines) != 4 {
		t.Fatalf("csv:\n%s", strings.Join(lines, "\n"))
	}
	head := strings.Split(lines[0], ",")
	if !strings.HasSuffix(lines[0], ",return_rate,connected,billable,call_seconds,avg_call_duration") {
		t.Fatalf("header %s", lines[0])
	}
	for i, obj := range append(js.Rows, js.Totals) {
		cells := strings.Split(lines[i+1], ",")
		for j, col := range head[len(head)-4:] {
			want := "0"
			if v, ok := obj[col]; ok {
				want = fmt.Sprint(v)
			}
			if got := cells[len(head)-4+j]; got != want {
				t.Errorf("row %s: %s %s in CSV, %s in JSON", cells[0], col, got, want)
			}
		}
	}
	if lines[1] != "calls,3,2,0,0,1,1,0,1,30.00,17.00,0.00,13.00,0.4333,30.00,0,2,1,155,78" ||
		!strings.HasSuffix(lines[2], ",0,0,0,0") || !strings.HasSuffix(lines[3], ",2,1,155,78") {
		t.Fatalf("csv:\n%s", strings.Join(lines, "\n"))
	}
}
