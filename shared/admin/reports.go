package admin

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/money"
	"github.com/leadrelay/leadrelay/shared/store"
)

// Ledger is what the reports and ad spend need of the table.
type Ledger interface {
	// LedgerDays reads the day aggregates: one query per day.
	LedgerDays(ctx context.Context, days []string) ([]store.LedgerRow, error)
	SetSpend(ctx context.Context, spends []store.Spend) ([]string, error)
}

// MaxReportDays bounds a P&L range: 366 days is 366 queries.
const MaxReportDays = 366

// Report groupings.
const (
	GroupCampaign    = "campaign"
	GroupSource      = "source"
	GroupBuyer       = "buyer"
	GroupBuyerSource = "buyer_source"
	GroupDay         = "day"
	// GroupScoreBand groups a campaign's leads by score band (00-19 …
	// 80-100), GroupSubID a source's by sub-id ("<source>/<sub_id>"),
	// GroupOrder the buyers' sales by order ("<buyer>/<order>").
	GroupScoreBand = store.DimScoreBand
	GroupSubID     = store.DimSubID
	GroupOrder     = store.DimOrder
)

var groupings = []string{GroupCampaign, GroupSource, GroupBuyer, GroupBuyerSource, GroupDay, GroupScoreBand, GroupSubID, GroupOrder}

func (h *Handler) reportRoutes(m *httpapi.Mux) {
	m.Handle("GET /v1/admin/reports/pnl", func(ctx context.Context, req httpapi.Request, _ map[string]string) httpapi.Response {
		return h.pnl(ctx, req)
	})
	m.Handle("POST /v1/admin/spend", func(ctx context.Context, req httpapi.Request, _ map[string]string) httpapi.Response {
		return h.spend(ctx, req)
	})
}

// PnL is the profit-and-loss report of a range of days.
type PnL struct {
	From    string   `json:"from"`
	To      string   `json:"to"`
	GroupBy string   `json:"group_by"`
	Rows    []PnLRow `json:"rows"`
	Totals  PnLRow   `json:"totals"`
}

// PnLRow is one campaign's, source's, buyer's, buyer×source's or day's
// figures. Counts of a buyer row are its sales ("sold", "sales") and
// returns; leads, accepted, rejected, duplicates and unsold are counted by
// campaign and source only.
type PnLRow struct {
	Key        string `json:"key"`
	Leads      int64  `json:"leads"`
	Accepted   int64  `json:"accepted"`
	Rejected   int64  `json:"rejected"`
	Duplicates int64  `json:"duplicates"`
	Sold       int64  `json:"sold"`
	Unsold     int64  `json:"unsold"`
	Returned   int64  `json:"returned"`
	// Sales counts sales (a shared lead sold twice is 1 sold, 2 sales).
	Sales int64 `json:"sales"`
	// Revenue is net of returns; Cost is source payouts net of clawbacks.
	Revenue      money.Amount `json:"revenue"`
	Cost         money.Amount `json:"cost"`
	AdSpend      money.Amount `json:"ad_spend"`
	Profit       money.Amount `json:"profit"`
	Margin       Ratio        `json:"margin"`
	AvgSalePrice money.Amount `json:"avg_sale_price"`
	ReturnRate   Ratio        `json:"return_rate"`
	// Calls' figures (docs/calls.md), on rows with connected calls: the
	// calls connected to a buyer, those billed (they lasted the buffer),
	// their seconds, and the average seconds of a connected call.
	Connected       int64 `json:"connected,omitempty"`
	Billable        int64 `json:"billable,omitempty"`
	CallSeconds     int64 `json:"call_seconds,omitempty"`
	AvgCallDuration int64 `json:"avg_call_duration,omitempty"`
}

// add sums one day aggregate into the row.
func (r *PnLRow) add(c map[string]int64) {
	r.Leads += c["leads"]
	r.Accepted += c["accepted"]
	r.Rejected += c["rejected"]
	r.Duplicates += c["duplicates"]
	r.Sold += c["sold"]
	r.Unsold += c["unsold"]
	r.Returned += c["returned"]
	r.Sales += c["sales"]
	r.Revenue += money.Amount(c["revenue"])
	r.Cost += money.Amount(c["cost"])
	r.AdSpend += money.Amount(c["ad_spend"])
	r.Connected += c["connected"]
	r.Billable += c["billable"]
	r.CallSeconds += c["call_seconds"]
}

// finish computes the derived figures: profit = revenue − cost − ad spend;
// margin = profit / revenue (0 without revenue); average sale price =
// revenue / sales not returned; return rate = returned / sales.
func (r *PnLRow) finish() {
	r.Profit = r.Revenue - r.Cost - r.AdSpend
	r.Margin, r.AvgSalePrice, r.ReturnRate = 0, 0, 0
	if r.Revenue > 0 {
		r.Margin = NewRatio(int64(r.Profit), int64(r.Revenue))
	}
	if net := r.Sales - r.Returned; net > 0 {
		r.AvgSalePrice = money.Amount(divRound(int64(r.Revenue), net))
	}
	if r.Sales > 0 {
		r.ReturnRate = NewRatio(r.Returned, r.Sales)
	}
	r.AvgCallDuration = 0
	if r.Connected > 0 {
		r.AvgCallDuration = divRound(r.CallSeconds, r.Connected)
	}
}

// Ratio is a decimal fraction held in ten-thousandths (4 decimal places),
// written in JSON as a number: 0.1234.
type Ratio int64

// NewRatio is num/den rounded half away from zero to 4 decimal places.
func NewRatio(num, den int64) Ratio { return Ratio(divRound(num*10000, den)) }

// String writes the ratio as the shortest decimal: "0.25", "-0.0312", "1".
func (q Ratio) String() string {
	v := int64(q)
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	s := fmt.Sprintf("%s%d.%04d", sign, v/10000, v%10000)
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
}

// MarshalJSON writes the ratio as a JSON number.
func (q Ratio) MarshalJSON() ([]byte, error) { return []byte(q.String()), nil }

// divRound is num/den rounded half away from zero (den > 0).
func divRound(num, den int64) int64 {
	q, r := num/den, num%den
	if r < 0 {
		r = -r
	}
	if 2*r >= den {
		if num < 0 {
			q--
		} else {
			q++
		}
	}
	return q
}

// pnlQuery is a validated report request.
type pnlQuery struct {
	from, to time.Time
	groupBy  string
	// format is the answer's: json, csv, or "" (by the Accept header).
	format string
}

// Report formats (?format=).
const (
	formatJSON = "json"
	formatCSV  = "csv"
)

func parsePnLQuery(q map[string]string) (pnlQuery, []httpapi.FieldProblem) {
	var out pnlQuery
	var probs []httpapi.FieldProblem
	date := func(name string) time.Time {
		v := strings.TrimSpace(q[name])
		if v == "" {
			probs = append(probs, httpapi.FieldProblem{Field: name, Code: "required", Message: name + " is required: a date YYYY-MM-DD"})
			return time.Time{}
		}
		t, err := time.Parse(time.DateOnly, v)
		if err != nil {
			probs = append(probs, httpapi.FieldProblem{Field: name, Code: "invalid", Message: fmt.Sprintf("%s %q is not a date YYYY-MM-DD", name, v)})
		}
		return t
	}
	out.from, out.to = date("from"), date("to")
	out.groupBy = strings.TrimSpace(q["group_by"])
	if out.groupBy == "" {
		out.groupBy = GroupCampaign
	}
	switch out.format = strings.TrimSpace(q["format"]); out.format {
	case "", formatJSON, formatCSV:
	default:
		probs = append(probs, httpapi.FieldProblem{Field: "format", Code: "invalid",
			Message: fmt.Sprintf("format %q: want json or csv", out.format)})
	}
	if !slices.Contains(groupings, out.groupBy) {
		probs = append(probs, httpapi.FieldProblem{Field: "group_by", Code: "invalid",
			Message: fmt.Sprintf("group_by %q: want one of %s", out.groupBy, strings.Join(groupings, ", "))})
	}
	if len(probs) == 0 {
		switch days := int(out.to.Sub(out.from).Hours()/24) + 1; {
		case days < 1:
			probs = append(probs, httpapi.FieldProblem{Field: "to", Code: "invalid", Message: "to is before from"})
		case days > MaxReportDays:
			probs = append(probs, httpapi.FieldProblem{Field: "to", Code: "range_too_long",
				Message: fmt.Sprintf("the range is %d days; at most %d", days, MaxReportDays)})
		}
	}
	return out, probs
}

// days lists the dates from..to.
func (q pnlQuery) days() []string {
	var out []string
	for d := q.from; !d.After(q.to); d = d.AddDate(0, 0, 1) {
		out = append(out, d.Format(time.DateOnly))
	}
	return out
}

// pnl answers GET /v1/admin/reports/pnl from the day aggregates only: one
// query per day of the range, whatever the number of leads.
func (h *Handler) pnl(ctx context.Context, req httpapi.Request) httpapi.Response {
	q, probs := parsePnLQuery(req.QueryStringParameters)
	if len(probs) > 0 {
		return httpapi.Fields(http.StatusBadRequest, "validation_failed", "the report query is not valid", probs)
	}
	if h.Ledger == nil {
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "the ledger is not configured in this deployment")
	}
	rows, err := h.Ledger.LedgerDays(ctx, q.days())
	if err != nil {
		h.Log.ErrorContext(ctx, "read ledger", "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "retry")
	}
	rep := BuildPnL(rows, q.from.Format(time.DateOnly), q.to.Format(time.DateOnly), q.groupBy)
	if q.format == formatCSV || q.format == "" && strings.Contains(httpapi.Header(req, "Accept"), "text/csv") {
		return pnlCSV(rep)
	}
	return httpapi.JSON(http.StatusOK, rep)
}

// BuildPnL groups day aggregates into a report. Campaign, source, buyer
// and buyer_source rows sum the aggregates of that dimension; day rows sum
// the campaign aggregates of each day (every lead, sale and ad spend is
// counted once per campaign). Rows are sorted by key.
func BuildPnL(rows []store.LedgerRow, from, to, groupBy string) PnL {
	dim := groupBy
	if groupBy == GroupDay {
		dim = store.DimCampaign
	}
	byKey := map[string]*PnLRow{}
	var totals PnLRow
	for _, r := range rows {
		if r.Dimension != dim {
			continue
		}
		key := r.ID
		if groupBy == GroupDay {
			key = r.Day
		}
		row := byKey[key]
		if row == nil {
			row = &PnLRow{Key: key}
			byKey[key] = row
		}
		row.add(r.Counts)
		totals.add(r.Counts)
	}
	rep := PnL{From: from, To: to, GroupBy: groupBy, Rows: []PnLRow{}}
	for _, k := range slices.Sorted(maps.Keys(byKey)) {
		row := byKey[k]
		row.finish()
		rep.Rows = append(rep.Rows, *row)
	}
	totals.Key = "total"
	totals.finish()
	rep.Totals = totals
	return rep
}

var pnlColumns = []string{"key", "leads", "accepted", "rejected", "duplicates", "sold", "unsold", "returned", "sales",
	"revenue", "cost", "ad_spend", "profit", "margin", "avg_sale_price", "return_rate",
	"connected", "billable", "call_seconds", "avg_call_duration"}

// pnlCSV writes the report's rows, then the totals, as CSV with two-decimal
// money. Every row has the calls' columns (0 without calls), which JSON
// leaves out of rows without calls.
func pnlCSV(rep PnL) httpapi.Response {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write(pnlColumns)
	for _, r := range append(slices.Clone(rep.Rows), rep.Totals) {
		n := func(v int64) string { return strconv.FormatInt(v, 10) }
		_ = w.Write([]string{r.Key, n(r.Leads), n(r.Accepted), n(r.Rejected), n(r.Duplicates), n(r.Sold), n(r.Unsold), n(r.Returned), n(r.Sales),
			r.Revenue.String(), r.Cost.String(), r.AdSpend.String(), r.Profit.String(), r.Margin.String(), r.AvgSalePrice.String(), r.ReturnRate.String(),
			n(r.Connected), n(r.Billable), n(r.CallSeconds), n(r.AvgCallDuration)})
	}
	w.Flush()
	name := fmt.Sprintf("pnl-%s-%s-by-%s.csv", rep.From, rep.To, rep.GroupBy)
	return httpapi.Response{StatusCode: http.StatusOK, Body: buf.String(), Headers: map[string]string{
		"Content-Type": "text/csv; charset=utf-8", "Content-Disposition": `attachment; filename="` + name + `"`,
	}}
}
