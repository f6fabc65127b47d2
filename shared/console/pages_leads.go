package console

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/lead"
)

// SearchSize is how many leads a search page shows.
const SearchSize = 50

var leadStatuses = []string{"received", "routing", "sold", "unsold", "rejected", "duplicate", "returned"}

func (s *Server) leadRoutes(m *httpapi.Mux) {
	m.Handle("GET /console/leads", s.view(s.leads))
	m.Handle("GET /console/leads/{id}", s.view(s.lead))
	m.Handle("POST /console/leads/{id}/reroute", s.change(s.reroute))
	m.Handle("POST /console/leads/{id}/return", s.change(s.returnLead))
}

type leadsData struct {
	Q, Campaign, Status, From, To string
	Campaigns                     []string
	Statuses                      []string
	Leads                         []foundLead
	More                          bool
	Searched                      bool
	// Problem is what the admin API found wrong with the search.
	Problem string
}

// leads searches: q is a phone number, an email address or a lead id;
// campaign, status and the time range filter. Without q, each campaign's
// newest leads (one search a campaign).
func (s *Server) leads(ctx context.Context, req httpapi.Request, _ map[string]string, op operator) httpapi.Response {
	p := req.QueryStringParameters
	d := leadsData{Q: strings.TrimSpace(p["q"]), Campaign: p["campaign"], Status: p["status"], From: p["from"], To: p["to"], Statuses: leadStatuses}
	cfg, err := s.configSummary(ctx, op)
	if err != nil {
		return s.apiFailure(ctx, req, err)
	}
	d.Campaigns = cfg.campaignIDs()
	filters := url.Values{"status": {d.Status}, "from": {d.From}, "to": {d.To}}
	d.Searched = true
	switch kind := queryKind(d.Q); kind {
	case "id":
		var rec lead.Record
		err := s.getJSON(ctx, op, "/v1/admin/leads/"+url.PathEscape(d.Q), nil, &rec)
		var ae *apiError
		switch {
		case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
			d.Problem = "No lead " + d.Q + ": a search takes a phone number, an email address or a lead id."
		case err != nil:
			return s.apiFailure(ctx, req, err)
		default:
			d.Leads = []foundLead{{LeadID: rec.ID, Campaign: rec.Campaign, Source: rec.Source, Status: string(rec.Status),
				CreatedAt: rec.CreatedAt, Buyers: rec.Buyers(), Revenue: amount{Raw: rec.Revenue().Decimal(), Amount: rec.Revenue()}, Test: rec.Test}}
		}
	case "phone", "email":
		filters.Set(kind, d.Q)
		filters.Set("campaign", d.Campaign)
		filters.Set("limit", "50")
		d.Leads, d.More, err = s.searchLeads(ctx, op, filters)
	default:
		camps := d.Campaigns
		if d.Campaign != "" {
			camps = []string{d.Campaign}
		}
		d.Leads, d.More, err = s.newestLeads(ctx, op, camps, filters, SearchSize)
	}
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusBadRequest {
		d.Problem = ae.Message
		for _, f := range ae.Fields {
			d.Problem += " " + f.Field + ": " + f.Message + "."
		}
		err = nil
	}
	if err != nil {
		return s.apiFailure(ctx, req, err)
	}
	return s.render(ctx, req, http.StatusOK, "leads", forOperator(op, "Leads", "leads"), d)
}

// queryKind says what a search's q is: "email" (it has an @), "phone"
// (digits, spaces, +, -, ., parentheses), "id", or "" (empty).
func queryKind(q string) string {
	switch {
	case q == "":
		return ""
	case strings.Contains(q, "@"):
		return "email"
	case strings.Trim(q, "0123456789+-.() ") == "" && strings.ContainsAny(q, "0123456789"):
		return "phone"
	}
	return "id"
}

// leadData is a lead's page.
type leadData struct {
	Rec     lead.Record
	Revenue string
	Routing []routingRound
	Auction []auctionRound
	Tries   []lead.Event
	Buyers  []string
	// Reroutable: unsold or rejected (the admin API decides the rest).
	Reroutable bool
}

// routingRound is one routing decision: each order and why it was or was
// not eligible.
type routingRound struct {
	Event    lead.Event
	Verdicts []verdict
}

type verdict struct {
	Order    string `json:"order"`
	Eligible bool   `json:"eligible"`
	Reason   string `json:"reason"`
	Detail   string `json:"detail"`
	Rank     int    `json:"rank"`
}

type auctionRound struct {
	Event lead.Event
	Bids  []bid
}

type bid struct {
	Order     string   `json:"order"`
	Outcome   string   `json:"outcome"`
	Bid       *float64 `json:"bid"`
	LatencyMS int64    `json:"latency_ms"`
	Rank      int      `json:"rank"`
	Detail    string   `json:"detail"`
}

// decodeData reads an event's data field into out.
func decodeData(data any, out any) {
	b, err := json.Marshal(data)
	if err == nil {
		_ = json.Unmarshal(b, out)
	}
}

// lead shows one lead: its timeline, the routing explanation, the
// auction, the delivery attempts with the buyers' responses, its score.
// One admin call.
func (s *Server) lead(ctx context.Context, req httpapi.Request, p map[string]string, op operator) httpapi.Response {
	var rec lead.Record
	if err := s.getJSON(ctx, op, "/v1/admin/leads/"+url.PathEscape(p["id"]), nil, &rec); err != nil {
		return s.apiFailure(ctx, req, err)
	}
	d := leadData{Rec: rec, Revenue: rec.Revenue().String(), Buyers: rec.Buyers(),
		Reroutable: rec.Status == lead.Unsold || rec.Status == lead.Rejected || rec.Status == lead.Received}
	for _, ev := range rec.Events {
		switch ev.Type {
		case lead.EventRouted, lead.EventNoBuyer:
			var v struct {
				Verdicts []verdict `json:"verdicts"`
			}
			decodeData(ev.Data, &v)
			d.Routing = append(d.Routing, routingRound{Event: ev, Verdicts: v.Verdicts})
		case "auction":
			var a struct {
				Bids []bid `json:"bids"`
			}
			decodeData(ev.Data, &a)
			d.Auction = append(d.Auction, auctionRound{Event: ev, Bids: a.Bids})
		case lead.EventAttempt, lead.EventAccepted, lead.EventRejected, lead.EventFailed:
			d.Tries = append(d.Tries, ev)
		}
	}
	pg := forOperator(op, "Lead "+rec.ID, "leads")
	pg.Notice = notice(req.QueryStringParameters["done"])
	return s.render(ctx, req, http.StatusOK, "lead", pg, d)
}

// notices are what a change did, by the code its redirect carries.
var notices = map[string]string{
	"rerouted": "The lead was sent through routing again.",
	"returned": "The sale was returned.",
	"paused":   "The buyer was paused.",
	"resumed":  "The buyer was resumed.",
	"applied":  "The configuration was applied.",
	"redriven": "The dead letters were moved back to their queue.",
}

func notice(code string) string { return notices[code] }

// reroute sends an unsold or rejected lead through routing again.
func (s *Server) reroute(ctx context.Context, req httpapi.Request, p map[string]string, op operator) httpapi.Response {
	id := p["id"]
	if err := s.postJSON(ctx, op, "/v1/admin/leads/"+url.PathEscape(id)+"/reroute", nil, nil); err != nil {
		return s.apiFailure(ctx, req, err)
	}
	return s.redirect("/console/leads/" + url.PathEscape(id) + "?done=rerouted")
}

// returnLead returns a buyer's sale of the lead (the operator's return:
// no return window).
func (s *Server) returnLead(ctx context.Context, req httpapi.Request, p map[string]string, op operator) httpapi.Response {
	id := p["id"]
	in := map[string]string{"buyer": op.form.Get("buyer"), "reason": op.form.Get("reason")}
	if err := s.postJSON(ctx, op, "/v1/admin/leads/"+url.PathEscape(id)+"/return", in, nil); err != nil {
		return s.apiFailure(ctx, req, err)
	}
	return s.redirect("/console/leads/" + url.PathEscape(id) + "?done=returned")
}
