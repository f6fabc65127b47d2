package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/leadrelay/leadrelay/shared/httpapi"
)

// FeedSize is how many of the newest leads the live feed shows.
const FeedSize = 20

func (s *Server) overviewRoutes(m *httpapi.Mux) {
	m.Handle("GET /console/overview", s.view(s.overview))
	m.Handle("GET /console/overview/feed", s.view(s.feed))
}

// kpi is one of today's figures.
type kpi struct {
	Key, Label, Value string
}

// chart is the data block console.js draws with uPlot: x labels and one
// series of values each.
type chart struct {
	Kind string `json:"kind"`
	// X names what the labels are ("Hour", "campaign").
	X      string        `json:"x"`
	Labels []string      `json:"labels"`
	Series []chartSeries `json:"series"`
}

type chartSeries struct {
	Label  string    `json:"label"`
	Values []float64 `json:"values"`
}

type feedData struct {
	Leads []foundLead
}

type overviewData struct {
	Day      string
	Timezone string
	KPIs     []kpi
	Chart    chart
	Feed     feedData
}

// hourlyReport is GET /v1/admin/reports/hourly.
type hourlyReport struct {
	Date      string  `json:"date"`
	Timezone  string  `json:"timezone"`
	Hours     []int64 `json:"hours"`
	Campaigns []struct {
		Campaign string  `json:"campaign"`
		Hours    []int64 `json:"hours"`
	} `json:"campaigns"`
}

// overview shows today's figures (the agency's day): the P&L's totals,
// the day's leads by hour, and the live feed.
//
// The hourly chart is the admin API's hourly report: the hour counters of
// the campaigns' day aggregates (one ledger read).
func (s *Server) overview(ctx context.Context, req httpapi.Request, _ map[string]string, op operator) httpapi.Response {
	cfg, err := s.configSummary(ctx, op)
	if err != nil {
		return s.apiFailure(ctx, req, err)
	}
	loc := cfg.location()
	day := s.Now().In(loc).Format(time.DateOnly)
	rep, err := s.pnl(ctx, op, day, day, "campaign")
	if err != nil {
		return s.apiFailure(ctx, req, err)
	}
	var hours hourlyReport
	if err := s.getJSON(ctx, op, "/v1/admin/reports/hourly", url.Values{"date": {day}}, &hours); err != nil {
		return s.apiFailure(ctx, req, err)
	}
	leads, _, err := s.newestLeads(ctx, op, cfg.campaignIDs(), nil, FeedSize)
	if err != nil {
		return s.apiFailure(ctx, req, err)
	}
	t := rep.Totals
	d := overviewData{
		Day: day, Timezone: loc.String(),
		KPIs: []kpi{
			{"leads", "Leads", strconv.FormatInt(t.Leads, 10)},
			{"accepted", "Accepted", strconv.FormatInt(t.Accepted, 10)},
			{"sold", "Sold", strconv.FormatInt(t.Sold, 10)},
			{"sell_through", "Sell-through", pct(float64(t.Sold), float64(t.Accepted))},
			{"revenue", "Revenue", t.Revenue.String()},
			{"cost", "Cost", t.Cost.String()},
			{"ad_spend", "Ad spend", t.AdSpend.String()},
			{"profit", "Profit", t.Profit.String()},
		},
		Chart: hourly(hours),
		Feed:  feedData{Leads: leads},
	}
	return s.render(ctx, req, http.StatusOK, "overview", forOperator(op, "Overview", "overview"), d)
}

// hourly is the chart of the day's leads by hour: in all, and by
// campaign when there are several.
func hourly(rep hourlyReport) chart {
	c := chart{Kind: "lines", X: "Hour", Labels: make([]string, 24)}
	for h := range 24 {
		c.Labels[h] = fmt.Sprintf("%02d:00", h)
	}
	total := chartSeries{Label: "Leads", Values: make([]float64, 24)}
	for h, n := range rep.Hours[:min(len(rep.Hours), 24)] {
		total.Values[h] = float64(n)
	}
	c.Series = append(c.Series, total)
	if len(rep.Campaigns) > 1 {
		for _, camp := range rep.Campaigns {
			sr := chartSeries{Label: camp.Campaign, Values: make([]float64, 24)}
			for h, n := range camp.Hours[:min(len(camp.Hours), 24)] {
				sr.Values[h] = float64(n)
			}
			c.Series = append(c.Series, sr)
		}
	}
	return c
}

// feed is the live feed's rows alone: htmx asks for them every 5 s.
func (s *Server) feed(ctx context.Context, req httpapi.Request, _ map[string]string, op operator) httpapi.Response {
	cfg, err := s.configSummary(ctx, op)
	if err != nil {
		return s.apiFailure(ctx, req, err)
	}
	leads, _, err := s.newestLeads(ctx, op, cfg.campaignIDs(), nil, FeedSize)
	if err != nil {
		return s.apiFailure(ctx, req, err)
	}
	return s.fragment(ctx, "overview", "feed", feedData{Leads: leads})
}
