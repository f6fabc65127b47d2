package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/leadrelay/leadrelay/shared/httpapi"
)

func (s *Server) buyerRoutes(m *httpapi.Mux) {
	m.Handle("GET /console/buyers", s.view(s.buyers))
	m.Handle("POST /console/buyers/{id}/pause", s.change(s.setBuyer("pause", "paused")))
	m.Handle("POST /console/buyers/{id}/resume", s.change(s.setBuyer("resume", "resumed")))
}

// buyersHealth is GET /v1/admin/buyers/health.
type buyersHealth struct {
	At         string        `json:"at"`
	WindowDays int           `json:"window_days"`
	Buyers     []buyerHealth `json:"buyers"`
}

type buyerHealth struct {
	Buyer   string `json:"buyer"`
	Name    string `json:"name"`
	Status  string `json:"status"`
	Breaker struct {
		State     string `json:"state"`
		Failures  int    `json:"failures"`
		OpenUntil string `json:"open_until"`
	} `json:"breaker"`
	Orders []orderHealth `json:"orders"`
}

type orderHealth struct {
	Order         string      `json:"order"`
	Campaign      string      `json:"campaign"`
	Status        string      `json:"status"`
	Price         float64     `json:"price"`
	Caps          []capHealth `json:"caps"`
	Offered       int64       `json:"offered"`
	Sold          int64       `json:"sold"`
	Acceptance    *float64    `json:"acceptance"`
	Responses     int64       `json:"responses"`
	AvgResponseMS *float64    `json:"avg_response_ms"`
}

type capHealth struct {
	Period string  `json:"period"`
	Kind   string  `json:"kind"`
	Limit  float64 `json:"limit"`
	Used   float64 `json:"used"`
	Bucket string  `json:"bucket"`
}

// Shown is "12 / 100" leads, or "$250.00 / $1000.00" of a budget.
func (c capHealth) Shown() string {
	if c.Kind == "budget" {
		return "$" + strconv.FormatFloat(c.Used, 'f', 2, 64) + " / $" + strconv.FormatFloat(c.Limit, 'f', 2, 64)
	}
	return strconv.FormatFloat(c.Used, 'f', -1, 64) + " / " + strconv.FormatFloat(c.Limit, 'f', -1, 64)
}

// Full reports a cap at its limit.
func (c capHealth) Full() bool { return c.Limit > 0 && c.Used >= c.Limit }

// AcceptanceShown is the order's acceptance rate as a percentage.
func (o orderHealth) AcceptanceShown() string {
	if o.Acceptance == nil {
		return "–"
	}
	return strconv.FormatFloat(100**o.Acceptance, 'f', 1, 64) + "%"
}

// ResponseShown is the order's average response time.
func (o orderHealth) ResponseShown() string {
	if o.AvgResponseMS == nil || o.Responses == 0 {
		return "–"
	}
	return strconv.FormatFloat(*o.AvgResponseMS, 'f', 0, 64) + " ms"
}

type buyersData struct {
	Health *buyersHealth
	// Missing: the admin API has no buyer health route; the buyers are
	// listed from the configuration.
	Missing bool
}

// buyers shows each order's caps against their limits, its acceptance and
// response time, and its buyer's circuit breaker; pause and resume. One
// admin call.
func (s *Server) buyers(ctx context.Context, req httpapi.Request, _ map[string]string, op operator) httpapi.Response {
	var h buyersHealth
	d := buyersData{Health: &h}
	err := s.getJSON(ctx, op, "/v1/admin/buyers/health", nil, &h)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound && ae.Code == "not_found" {
		// An admin API without the health route: the buyers and their
		// status from the configuration.
		cfg, cerr := s.configSummary(ctx, op)
		if cerr != nil {
			return s.apiFailure(ctx, req, cerr)
		}
		for _, b := range cfg.Buyers {
			bh := buyerHealth{Buyer: b.ID, Name: b.ID, Status: cmpOr(b.Status, "active")}
			bh.Breaker.State = "closed"
			h.Buyers = append(h.Buyers, bh)
		}
		d.Missing, err = true, nil
	}
	if err != nil {
		return s.apiFailure(ctx, req, err)
	}
	pg := forOperator(op, "Buyers", "buyers")
	pg.Notice = notice(req.QueryStringParameters["done"])
	return s.render(ctx, req, http.StatusOK, "buyers", pg, d)
}

// setBuyer pauses or resumes a buyer through the admin API.
func (s *Server) setBuyer(action, done string) pageFunc {
	return func(ctx context.Context, req httpapi.Request, p map[string]string, op operator) httpapi.Response {
		if err := s.postJSON(ctx, op, "/v1/admin/buyers/"+url.PathEscape(p["id"])+"/"+action, nil, nil); err != nil {
			return s.apiFailure(ctx, req, err)
		}
		return s.redirect("/console/buyers?done=" + done)
	}
}
