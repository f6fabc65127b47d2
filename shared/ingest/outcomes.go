package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/leadrelay/leadrelay/shared/auth"
	"github.com/leadrelay/leadrelay/shared/conversions"
	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/money"
	"github.com/leadrelay/leadrelay/shared/returns"
	"github.com/leadrelay/leadrelay/shared/store"
)

// OutcomeStore is what the outcome endpoint needs of the table.
type OutcomeStore interface {
	PutReport(ctx context.Context, id string, r lead.Report, ev lead.Event, conv *lead.Conversion) error
}

func (h *Handler) outcomeRoutes(m *httpapi.Mux) {
	m.Handle("POST /v1/outcomes", func(ctx context.Context, req httpapi.Request, _ map[string]string) httpapi.Response {
		return h.postOutcome(ctx, req)
	})
}

// outcomeAnswer is the answer to a recorded outcome.
type outcomeAnswer struct {
	LeadID string `json:"lead_id"`
	Event  string `json:"event"`
	Status string `json:"status"`
}

// postOutcome records a buyer's report of what became of a lead it
// bought: the campaign's scoring model learns from it. A report is kept
// once per buyer and event; a repeat is answered 202 and changes nothing.
func (h *Handler) postOutcome(ctx context.Context, req httpapi.Request) httpapi.Response {
	ix, refused := h.index(ctx)
	if refused != nil {
		return *refused
	}
	buyer, refused := auth.Buyer(ix, req)
	if refused != nil {
		return *refused
	}
	if mt := httpapi.MediaType(req); mt != "application/json" {
		return httpapi.Error(http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type %q is not accepted: use application/json", mt)
	}
	body, refused := httpapi.BodyWithin(req, returns.MaxBody, "an outcome")
	if refused != nil {
		return *refused
	}
	in, problems, err := decodeOutcome(body)
	if err != nil {
		return httpapi.Error(http.StatusBadRequest, "invalid_json", "the body is not a JSON outcome: %v", err)
	}
	if len(problems) > 0 {
		return httpapi.Fields(http.StatusBadRequest, "validation_failed", "the outcome is not valid", problems)
	}
	log := h.Log.With("lead_id", in.LeadID, "buyer", buyer.ID)
	rec, err := h.Store.GetLead(ctx, in.LeadID, false)
	if errors.Is(err, store.ErrNotFound) || (err == nil && returns.SaleOf(rec, buyer.ID) < 0) {
		return notBought(in.LeadID, buyer.ID)
	}
	if err != nil {
		log.ErrorContext(ctx, "read lead", "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "retry")
	}
	now := h.Now().UTC()
	r := lead.Report{Buyer: buyer.ID, Event: in.Event, Value: in.Value, At: now}
	detail := fmt.Sprintf("buyer %s reported the lead %s", buyer.ID, strings.ReplaceAll(in.Event, "_", " "))
	if in.Value > 0 {
		detail += " (value " + in.Value.Decimal() + ")"
	}
	ev := lead.Event{At: now, Type: lead.EventReported, Buyer: buyer.ID, Detail: detail}
	var conv *lead.Conversion
	if in.Event == lead.ReportConverted {
		conv = conversions.For(ix, &rec.Lead, lead.StageConverted, buyer.ID, now)
	}
	if err := h.Outcomes.PutReport(ctx, rec.ID, r, ev, conv); err != nil {
		log.ErrorContext(ctx, "record outcome", "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "the outcome could not be recorded; retry")
	}
	log.InfoContext(ctx, "outcome reported", "event", in.Event)
	return httpapi.JSON(http.StatusAccepted, outcomeAnswer{LeadID: rec.ID, Event: in.Event, Status: "recorded"})
}

// outcomeRequest is a buyer's report.
type outcomeRequest struct {
	LeadID string
	Event  string
	Value  money.Amount
}

func decodeOutcome(body []byte) (outcomeRequest, []httpapi.FieldProblem, error) {
	raw, err := httpapi.DecodeObject(body)
	if err != nil {
		return outcomeRequest{}, nil, err
	}
	var in outcomeRequest
	var probs []httpapi.FieldProblem
	bad := func(field, code, msg string) {
		probs = append(probs, httpapi.FieldProblem{Field: field, Code: code, Message: msg})
	}
	for k, v := range raw {
		switch k {
		case "lead_id", "event":
			s, ok := v.(string)
			if !ok {
				bad(k, "invalid", k+" must be a string")
				continue
			}
			if k == "lead_id" {
				in.LeadID = strings.TrimSpace(s)
			} else {
				in.Event = strings.TrimSpace(s)
			}
		case "value":
			n, ok := v.(json.Number)
			if !ok {
				bad(k, "invalid", "value must be a number")
				continue
			}
			amt, err := money.Parse(n.String())
			if err != nil || amt < 0 {
				bad(k, "invalid", "value must be an amount of at least 0, in dollars with at most 4 decimals")
				continue
			}
			in.Value = amt
		default:
			bad(k, "unknown", "unknown property; an outcome has lead_id, event and value")
		}
	}
	has := func(f string) bool {
		return slices.ContainsFunc(probs, func(p httpapi.FieldProblem) bool { return p.Field == f })
	}
	if in.LeadID == "" && !has("lead_id") {
		bad("lead_id", "required", "lead_id is required")
	}
	if len(in.LeadID) > 128 {
		bad("lead_id", "too_long", "at most 128 characters")
	}
	switch {
	case has("event"):
	case in.Event == "":
		bad("event", "required", "event is required: one of "+strings.Join(lead.ReportEvents, ", "))
	case !slices.Contains(lead.ReportEvents, in.Event):
		bad("event", "invalid", fmt.Sprintf("event %q: want one of %s", in.Event, strings.Join(lead.ReportEvents, ", ")))
	}
	slices.SortFunc(probs, func(a, b httpapi.FieldProblem) int { return strings.Compare(a.Field, b.Field) })
	return in, probs, nil
}
