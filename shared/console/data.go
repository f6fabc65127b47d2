package console

import (
	"cmp"
	"context"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// The admin API's answers, as far as the pages read them.

// configSummary is what the pages read of GET /v1/admin/config.
type configSummary struct {
	Version   int64  `json:"version"`
	Timezone  string `json:"timezone"`
	Campaigns []struct {
		ID string `json:"id"`
	} `json:"campaigns"`
	Sources []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	} `json:"sources"`
	Buyers []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	} `json:"buyers"`
}

// campaignIDs lists the configuration's campaigns.
func (c *configSummary) campaignIDs() []string {
	out := make([]string, len(c.Campaigns))
	for i, camp := range c.Campaigns {
		out[i] = camp.ID
	}
	return out
}

// location is the agency's timezone (UTC when unset or unknown): ledger
// days are counted in it.
func (c *configSummary) location() *time.Location {
	if c.Timezone == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

func (s *Server) configSummary(ctx context.Context, op operator) (*configSummary, error) {
	var c configSummary
	if err := s.getJSON(ctx, op, "/v1/admin/config", nil, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// foundLead is one lead of GET /v1/admin/leads.
type foundLead struct {
	LeadID    string    `json:"lead_id"`
	Campaign  string    `json:"campaign"`
	Source    string    `json:"source"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	Buyers    []string  `json:"buyers"`
	Revenue   amount    `json:"revenue"`
	Test      bool      `json:"test"`
}

type leadPage struct {
	Leads      []foundLead `json:"leads"`
	NextCursor string      `json:"next_cursor"`
}

// searchLeads runs one search of the admin API.
func (s *Server) searchLeads(ctx context.Context, op operator, q url.Values) ([]foundLead, bool, error) {
	var p leadPage
	if err := s.getJSON(ctx, op, "/v1/admin/leads", q, &p); err != nil {
		return nil, false, err
	}
	return p.Leads, p.NextCursor != "", nil
}

// newestLeads merges the newest leads of each campaign (a search reads
// one campaign's: one admin call a campaign, whatever the number of
// leads), newest first, at most limit; more reports that a campaign had
// more than limit.
func (s *Server) newestLeads(ctx context.Context, op operator, campaigns []string, q url.Values, limit int) ([]foundLead, bool, error) {
	var all []foundLead
	more := false
	for _, camp := range campaigns {
		cq := url.Values{}
		for k, v := range q {
			cq[k] = v
		}
		cq.Set("campaign", camp)
		cq.Set("limit", strconv.Itoa(limit))
		leads, m, err := s.searchLeads(ctx, op, cq)
		if err != nil {
			return nil, false, err
		}
		all = append(all, leads...)
		more = more || m
	}
	slices.SortFunc(all, func(a, b foundLead) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(a.LeadID, b.LeadID))
	})
	if len(all) > limit {
		all, more = all[:limit], true
	}
	return all, more, nil
}

// pnlReport is GET /v1/admin/reports/pnl.
type pnlReport struct {
	From    string   `json:"from"`
	To      string   `json:"to"`
	GroupBy string   `json:"group_by"`
	Rows    []pnlRow `json:"rows"`
	Totals  pnlRow   `json:"totals"`
}

type pnlRow struct {
	Key          string  `json:"key"`
	Leads        int64   `json:"leads"`
	Accepted     int64   `json:"accepted"`
	Rejected     int64   `json:"rejected"`
	Duplicates   int64   `json:"duplicates"`
	Sold         int64   `json:"sold"`
	Unsold       int64   `json:"unsold"`
	Returned     int64   `json:"returned"`
	Sales        int64   `json:"sales"`
	Revenue      amount  `json:"revenue"`
	Cost         amount  `json:"cost"`
	AdSpend      amount  `json:"ad_spend"`
	Profit       amount  `json:"profit"`
	Margin       float64 `json:"margin"`
	AvgSalePrice amount  `json:"avg_sale_price"`
	ReturnRate   float64 `json:"return_rate"`
}

func (s *Server) pnl(ctx context.Context, op operator, from, to, group string) (*pnlReport, error) {
	var rep pnlReport
	q := url.Values{"from": {from}, "to": {to}, "group_by": {group}}
	if err := s.getJSON(ctx, op, "/v1/admin/reports/pnl", q, &rep); err != nil {
		return nil, err
	}
	return &rep, nil
}

// dayRange is a P&L range of days: from and to as given, or the last
// days days ending today in loc.
func dayRange(now time.Time, loc *time.Location, from, to string, days int) (string, string) {
	today := now.In(loc)
	if _, err := time.Parse(time.DateOnly, to); err != nil {
		to = today.Format(time.DateOnly)
	}
	if _, err := time.Parse(time.DateOnly, from); err != nil {
		t, _ := time.Parse(time.DateOnly, to)
		from = t.AddDate(0, 0, -(days - 1)).Format(time.DateOnly)
	}
	return from, to
}
