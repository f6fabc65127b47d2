package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/leadrelay/leadrelay/shared/billing"
	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/conversions"
	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/money"
	"github.com/leadrelay/leadrelay/shared/returns"
	"github.com/leadrelay/leadrelay/shared/store"
)

// operatorReturnTries bounds how often an operator's return is read and
// written again when the lead moved on meanwhile.
const operatorReturnTries = 3

func (h *Handler) operatorReturnRoutes(m *httpapi.Mux) {
	m.Handle("POST /v1/admin/leads/{id}/return", func(ctx context.Context, req httpapi.Request, p map[string]string) httpapi.Response {
		return h.operatorReturn(ctx, req, p["id"])
	})
}

type operatorReturnRequest struct {
	Buyer  string
	Reason string
}

// operatorReturned is the answer to an operator's return.
type operatorReturned struct {
	LeadID   string       `json:"lead_id"`
	Buyer    string       `json:"buyer"`
	Status   lead.Status  `json:"status"`
	Reason   string       `json:"reason"`
	Credited money.Amount `json:"credited"`
	Clawback money.Amount `json:"clawback"`
	At       time.Time    `json:"returned_at"`
}

// operatorReturn marks a buyer's sale of a lead returned,
// {"buyer": "acme", "reason": "..."}: the same return as the buyer's POST
// /v1/returns (one conditional write, store.Return: it counts once),
// without the order's return window (returns.Override).
func (h *Handler) operatorReturn(ctx context.Context, req httpapi.Request, id string) httpapi.Response {
	body, refused := httpapi.BodyWithin(req, returns.MaxBody, "a return")
	if refused != nil {
		return *refused
	}
	in, probs, err := decodeOperatorReturn(body)
	if err != nil {
		return httpapi.Error(http.StatusBadRequest, "invalid_json", `want JSON {"buyer": "...", "reason": "..."}: %v`, err)
	}
	if len(probs) > 0 {
		return httpapi.Fields(http.StatusBadRequest, "validation_failed", "the return is not valid; nothing was changed", probs)
	}
	cfg, err := h.Store.LoadConfig(ctx)
	if err != nil {
		h.Log.ErrorContext(ctx, "load config", "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "retry")
	}
	ix := config.NewIndex(cfg)
	log := h.Log.With("lead_id", id, "buyer", in.Buyer)
	for try := 1; ; try++ {
		rec, err := h.Store.GetLead(ctx, id, true)
		if errors.Is(err, store.ErrNotFound) {
			return httpapi.Error(http.StatusNotFound, "lead_not_found", "no lead %q", id)
		}
		if err != nil {
			log.ErrorContext(ctx, "read lead", "error", err)
			return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "retry")
		}
		d, err := returns.Override(rec, in.Buyer, ix.Source(rec.Source), in.Reason, h.Now().UTC())
		if err == nil {
			if d.Final {
				d.Conversion = conversions.For(ix, &rec.Lead, lead.StageReturned, fmt.Sprintf("S%d", d.Sale), d.Return.At)
			}
			d.CreditBalance, d.Charge = billing.CreditsBalance(ix, rec, d.Sale), billing.ReturnCharge(ix, rec, d.Sale, d.Return.At)
			err = h.Store.Return(ctx, d)
		}
		var stale *store.StaleError
		switch {
		case err == nil:
			sale := rec.Sales[d.Sale]
			status := rec.Status
			if d.Final {
				status = lead.Returned
			}
			log.InfoContext(ctx, "lead returned by an operator", "reason", in.Reason, "credited", sale.Price.Decimal(), "status", status)
			return httpapi.JSON(http.StatusOK, operatorReturned{LeadID: rec.ID, Buyer: in.Buyer, Status: status, Reason: in.Reason,
				Credited: sale.Price, Clawback: d.Return.Clawback, At: d.Return.At})
		case errors.Is(err, returns.ErrNotSold):
			return httpapi.Fields(http.StatusNotFound, "sale_not_found", fmt.Sprintf("buyer %s did not buy lead %s", in.Buyer, id),
				[]httpapi.FieldProblem{{Field: "buyer", Code: "not_found", Message: "this buyer has no sale of the lead"}})
		case errors.Is(err, returns.ErrAlreadyReturned):
			return httpapi.Error(http.StatusConflict, "already_returned", "buyer %s's sale of lead %s was already returned", in.Buyer, id)
		case errors.As(err, &stale) && try < operatorReturnTries:
			continue // the lead moved on (a shared lead still routing): decide again
		default:
			log.ErrorContext(ctx, "return lead", "error", err)
			return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "the return could not be recorded; retry")
		}
	}
}

func decodeOperatorReturn(body []byte) (operatorReturnRequest, []httpapi.FieldProblem, error) {
	raw, err := httpapi.DecodeObject(body)
	if err != nil {
		return operatorReturnRequest{}, nil, err
	}
	var in operatorReturnRequest
	var probs []httpapi.FieldProblem
	for _, k := range []string{"buyer", "reason"} {
		v, ok := raw[k]
		s, isString := v.(string)
		s = strings.TrimSpace(s)
		switch {
		case !ok || (isString && s == ""):
			probs = append(probs, httpapi.FieldProblem{Field: k, Code: "required", Message: k + " is required"})
		case !isString:
			probs = append(probs, httpapi.FieldProblem{Field: k, Code: "invalid", Message: k + " must be a string"})
		case len(s) > 256:
			probs = append(probs, httpapi.FieldProblem{Field: k, Code: "too_long", Message: "at most 256 characters"})
		case k == "buyer":
			in.Buyer = s
		default:
			in.Reason = s
		}
	}
	for k := range raw {
		if k != "buyer" && k != "reason" {
			probs = append(probs, httpapi.FieldProblem{Field: k, Code: "unknown", Message: "unknown property; an operator's return has buyer and reason"})
		}
	}
	slices.SortFunc(probs, func(a, b httpapi.FieldProblem) int { return strings.Compare(a.Field, b.Field) })
	return in, probs, nil
}
