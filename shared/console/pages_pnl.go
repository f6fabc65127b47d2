package console

import (
	"context"
	"net/http"
	"net/url"
	"slices"

	"github.com/leadrelay/leadrelay/shared/httpapi"
)

// PnLDays is the P&L page's range when none is given: the last 7 days.
const PnLDays = 7

var pnlGroups = []string{"campaign", "source", "buyer", "day"}

func (s *Server) pnlRoutes(m *httpapi.Mux) {
	m.Handle("GET /console/pnl", s.view(s.pnlPage))
	m.Handle("GET /console/pnl/csv", s.view(s.pnlCSV))
}

type pnlData struct {
	From, To, Group string
	Groups          []string
	Report          *pnlReport
	Chart           chart
	CSV             string
}

// pnlQuery reads a P&L page's range and grouping.
func pnlQuery(req httpapi.Request, now func() (string, string)) (from, to, group string) {
	p := req.QueryStringParameters
	group = p["group"]
	if !slices.Contains(pnlGroups, group) {
		group = "campaign"
	}
	from, to = p["from"], p["to"]
	if from == "" || to == "" {
		df, dt := now()
		from, to = cmpOr(from, df), cmpOr(to, dt)
	}
	return from, to, group
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// pnlPage shows the P&L of a range by campaign, source, buyer or day: a
// chart of revenue, cost and profit, the table, its totals as the API
// gives them (to the cent), and the CSV. Two admin calls.
func (s *Server) pnlPage(ctx context.Context, req httpapi.Request, _ map[string]string, op operator) httpapi.Response {
	cfg, err := s.configSummary(ctx, op)
	if err != nil {
		return s.apiFailure(ctx, req, err)
	}
	from, to, group := pnlQuery(req, func() (string, string) {
		return dayRange(s.Now(), cfg.location(), "", "", PnLDays)
	})
	rep, err := s.pnl(ctx, op, from, to, group)
	if err != nil {
		return s.apiFailure(ctx, req, err)
	}
	d := pnlData{From: from, To: to, Group: group, Groups: pnlGroups, Report: rep,
		CSV:   s.link("/console/pnl/csv?" + url.Values{"from": {from}, "to": {to}, "group": {group}}.Encode()),
		Chart: chart{Kind: "lines", X: group, Series: []chartSeries{{Label: "Revenue"}, {Label: "Cost"}, {Label: "Profit"}}},
	}
	for _, r := range rep.Rows {
		d.Chart.Labels = append(d.Chart.Labels, r.Key)
		d.Chart.Series[0].Values = append(d.Chart.Series[0].Values, r.Revenue.Float())
		d.Chart.Series[1].Values = append(d.Chart.Series[1].Values, r.Cost.Float()+r.AdSpend.Float())
		d.Chart.Series[2].Values = append(d.Chart.Series[2].Values, r.Profit.Float())
	}
	return s.render(ctx, req, http.StatusOK, "pnl", forOperator(op, "P&L", "pnl"), d)
}

// pnlCSV is the admin API's CSV of the same report, as it gives it.
func (s *Server) pnlCSV(ctx context.Context, req httpapi.Request, _ map[string]string, op operator) httpapi.Response {
	cfg, err := s.configSummary(ctx, op)
	if err != nil {
		return s.apiFailure(ctx, req, err)
	}
	from, to, group := pnlQuery(req, func() (string, string) {
		return dayRange(s.Now(), cfg.location(), "", "", PnLDays)
	})
	resp, err := s.call(ctx, op, http.MethodGet, "/v1/admin/reports/pnl",
		url.Values{"from": {from}, "to": {to}, "group_by": {group}}, "", map[string]string{"Accept": "text/csv"})
	if err != nil {
		return s.apiFailure(ctx, req, err)
	}
	return httpapi.Response{StatusCode: http.StatusOK, Body: resp.Body, IsBase64Encoded: resp.IsBase64Encoded, Headers: map[string]string{
		"Content-Type": resp.Headers["Content-Type"], "Content-Disposition": resp.Headers["Content-Disposition"],
	}}
}
