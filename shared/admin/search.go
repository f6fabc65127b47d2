package admin

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/money"
	"github.com/leadrelay/leadrelay/shared/store"
	"github.com/leadrelay/leadrelay/shared/validate"
)

// Page sizes of a lead search.
const (
	DefaultSearchLimit = 50
	MaxSearchLimit     = 500
)

var searchParams = []string{"campaign", "source", "buyer", "status", "from", "to", "phone", "email", "limit", "cursor"}

var searchStatuses = []lead.Status{lead.Received, lead.Routing, lead.Sold, lead.Unsold, lead.Rejected, lead.Duplicate, lead.Returned}

func (h *Handler) searchRoutes(m *httpapi.Mux) {
	m.Handle("GET /v1/admin/leads", func(ctx context.Context, req httpapi.Request, _ map[string]string) httpapi.Response {
		return h.searchLeads(ctx, req)
	})
}

// foundLead is one lead of a search's answer.
type foundLead struct {
	LeadID    string      `json:"lead_id"`
	Campaign  string      `json:"campaign"`
	Source    string      `json:"source"`
	Status    lead.Status `json:"status"`
	CreatedAt time.Time   `json:"created_at"`
	// Buyers bought the lead (a returned sale included).
	Buyers []string `json:"buyers"`
	// Revenue is the prices of the sales not returned.
	Revenue money.Amount `json:"revenue"`
	Test    bool         `json:"test,omitempty"`
}

type searchAnswer struct {
	Leads      []foundLead `json:"leads"`
	NextCursor string      `json:"next_cursor,omitempty"`
}

// searchLeads answers GET /v1/admin/leads: the leads of a phone number or
// email address, or of a campaign, newest first, filtered by source, buyer,
// status and creation time, a page at a time.
func (h *Handler) searchLeads(ctx context.Context, req httpapi.Request) httpapi.Response {
	q, probs := parseSearch(req.QueryStringParameters)
	if len(probs) > 0 {
		return httpapi.Fields(http.StatusBadRequest, "validation_failed", "the search is not valid", probs)
	}
	page, err := h.Store.SearchLeads(ctx, q)
	if errors.Is(err, store.ErrBadCursor) {
		return httpapi.Fields(http.StatusBadRequest, "validation_failed", "the search is not valid", []httpapi.FieldProblem{{
			Field: "cursor", Code: "invalid", Message: "not a next_cursor of this search: repeat the search's other parameters unchanged",
		}})
	}
	if err != nil {
		h.Log.ErrorContext(ctx, "search leads", "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "retry")
	}
	out := searchAnswer{Leads: make([]foundLead, 0, len(page.Leads)), NextCursor: page.Next}
	for _, r := range page.Leads {
		out.Leads = append(out.Leads, foundLead{LeadID: r.ID, Campaign: r.Campaign, Source: r.Source, Status: r.Status,
			CreatedAt: r.CreatedAt, Buyers: append([]string{}, r.Buyers()...), Revenue: r.Revenue(), Test: r.Test})
	}
	return httpapi.JSON(http.StatusOK, out)
}

// parseSearch validates a search's query string. A search reads one
// partition: a phone number's or email address's leads, or a campaign's;
// source, buyer and status only filter it, so one of campaign, phone and
// email is required.
func parseSearch(params map[string]string) (store.LeadSearch, []httpapi.FieldProblem) {
	var probs []httpapi.FieldProblem
	bad := func(field, code, format string, args ...any) {
		probs = append(probs, httpapi.FieldProblem{Field: field, Code: code, Message: fmt.Sprintf(format, args...)})
	}
	for _, k := range slices.Sorted(maps.Keys(params)) {
		if !slices.Contains(searchParams, k) {
			bad(k, "unknown", "unknown parameter; a search takes %s", strings.Join(searchParams, ", "))
		}
	}
	p := func(name string) string { return strings.TrimSpace(params[name]) }
	q := store.LeadSearch{Campaign: p("campaign"), Source: p("source"), Buyer: p("buyer"), Limit: DefaultSearchLimit, Cursor: p("cursor")}
	for name, v := range map[string]string{"campaign": q.Campaign, "source": q.Source, "buyer": q.Buyer} {
		if len(v) > 128 {
			bad(name, "too_long", "%s is at most 128 characters", name)
		}
	}
	if st := p("status"); st != "" {
		q.Status = lead.Status(st)
		if !slices.Contains(searchStatuses, q.Status) {
			bad("status", "invalid", "status %q: want one of received, routing, sold, unsold, rejected, duplicate, returned", st)
		}
	}
	phone, email := p("phone"), p("email")
	switch {
	case phone != "" && email != "":
		bad("email", "conflict", "search by phone or by email, not both")
	case phone != "":
		v, err := validate.Phone(phone)
		if err != nil {
			bad("phone", "invalid", "%v", err)
		}
		q.Contact = &store.Contact{Kind: store.ContactPhone, Value: v}
	case email != "":
		v, err := validate.Email(email)
		if err != nil {
			bad("email", "invalid", "%v", err)
		}
		q.Contact = &store.Contact{Kind: store.ContactEmail, Value: v}
	case q.Campaign == "":
		bad("campaign", "required", "name a campaign, a phone or an email: a search reads one campaign's or one contact's leads")
	}
	var err error
	if q.From, err = searchTime(p("from"), false); err != nil {
		bad("from", "invalid", "%v", err)
	}
	if q.To, err = searchTime(p("to"), true); err != nil {
		bad("to", "invalid", "%v", err)
	}
	if !q.From.IsZero() && !q.To.IsZero() && q.To.Before(q.From) {
		bad("to", "invalid", "to is before from")
	}
	if l := p("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > MaxSearchLimit {
			bad("limit", "invalid", "limit %q: want 1 to %d", l, MaxSearchLimit)
		}
		q.Limit = n
	}
	return q, probs
}

// searchTime reads from or to: RFC 3339, or a date YYYY-MM-DD (a UTC day:
// from its first instant, to its last).
func searchTime(v string, end bool) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	d, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want a date YYYY-MM-DD (UTC) or an RFC 3339 time", v)
	}
	if end {
		return d.AddDate(0, 0, 1).Add(-time.Nanosecond), nil
	}
	return d, nil
}
