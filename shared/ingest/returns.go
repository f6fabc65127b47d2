package ingest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/leadrelay/leadrelay/shared/auth"
	"github.com/leadrelay/leadrelay/shared/billing"
	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/conversions"
	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/money"
	"github.com/leadrelay/leadrelay/shared/returns"
	"github.com/leadrelay/leadrelay/shared/store"
)

// returnTries bounds how often a return is read and written again when the
// lead moved on meanwhile (a shared lead still being routed).
const returnTries = 3

func (h *Handler) returnRoutes(m *httpapi.Mux) {
	m.Handle("POST /v1/returns", func(ctx context.Context, req httpapi.Request, _ map[string]string) httpapi.Response {
		return h.postReturn(ctx, req)
	})
}

// returned is the answer to an accepted return.
type returned struct {
	LeadID   string       `json:"lead_id"`
	Status   lead.Status  `json:"status"`
	Reason   string       `json:"reason"`
	Credited money.Amount `json:"credited"`
	At       time.Time    `json:"returned_at"`
}

// postReturn credits a buyer's return of a lead it bought: package
// returns decides it, and one conditional write records it
// (store.Return), so a return counts once.
func (h *Handler) postReturn(ctx context.Context, req httpapi.Request) httpapi.Response {
	ix, refused := h.index(ctx)
	if refused != nil {
		return *refused
	}
	buyer, refused := auth.Buyer(ix, req)
	if refused != nil {
		return *refused
	}
	in, refused := readReturn(req)
	if refused != nil {
		return *refused
	}
	log := h.Log.With("lead_id", in.LeadID, "buyer", buyer.ID)
	for try := 1; ; try++ {
		rec, err := h.Store.GetLead(ctx, in.LeadID, true)
		if errors.Is(err, store.ErrNotFound) {
			return notBought(in.LeadID, buyer.ID)
		}
		if err != nil {
			log.ErrorContext(ctx, "read lead", "error", err)
			return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "retry")
		}
		d, refused := decideReturn(ix, rec, buyer.ID, in.Reason, h.Now().UTC())
		if refused != nil {
			return *refused
		}
		if d.Final {
			d.Conversion = conversions.For(ix, &rec.Lead, lead.StageReturned, fmt.Sprintf("S%d", d.Sale), d.Return.At)
		}
		d.CreditBalance, d.Charge = billing.CreditsBalance(ix, rec, d.Sale), billing.ReturnCharge(ix, rec, d.Sale, d.Return.At)
		err = h.Store.Return(ctx, d)
		var stale *store.StaleError
		switch {
		case err == nil:
			sale := rec.Sales[d.Sale]
			status := rec.Status
			if d.Final {
				status = lead.Returned
			}
			log.InfoContext(ctx, "lead returned", "reason", in.Reason, "credited", sale.Price.Decimal(),
				"clawback", d.Return.Clawback.Decimal(), "status", status)
			return httpapi.JSON(http.StatusOK, returned{LeadID: rec.ID, Status: status, Reason: in.Reason, Credited: sale.Price, At: d.Return.At})
		case errors.Is(err, returns.ErrAlreadyReturned):
			return alreadyReturned(rec.ID)
		case errors.As(err, &stale) && try < returnTries:
			continue // the lead moved on (a shared lead still routing): decide again
		default:
			log.ErrorContext(ctx, "return lead", "error", err)
			return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "the return could not be recorded; retry")
		}
	}
}

// readReturn reads and checks a return's body: JSON {"lead_id",
// "reason"}, or the answer that refuses it.
func readReturn(req httpapi.Request) (returnRequest, *httpapi.Response) {
	refuse := func(r httpapi.Response) (returnRequest, *httpapi.Response) { return returnRequest{}, &r }
	if mt := httpapi.MediaType(req); mt != "application/json" {
		return refuse(httpapi.Error(http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type %q is not accepted: use application/json", mt))
	}
	body, refused := httpapi.BodyWithin(req, returns.MaxBody, "a return")
	if refused != nil {
		return returnRequest{}, refused
	}
	in, problems, err := decodeReturn(body)
	if err != nil {
		return refuse(httpapi.Error(http.StatusBadRequest, "invalid_json", "the body is not a JSON return: %v", err))
	}
	if len(problems) > 0 {
		return refuse(httpapi.Fields(http.StatusBadRequest, "validation_failed", "the return is not valid", problems))
	}
	return in, nil
}

// decideReturn decides the buyer's return of the lead for reason at now:
// the buyer's sale, a reason the campaign takes, within the order's
// return window (package returns), or the answer that refuses it.
func decideReturn(ix *config.Index, rec *lead.Record, buyer, reason string, now time.Time) (returns.Decision, *httpapi.Response) {
	refuse := func(r httpapi.Response) (returns.Decision, *httpapi.Response) { return returns.Decision{}, &r }
	i := returns.SaleOf(rec, buyer)
	if i < 0 {
		return refuse(notBought(rec.ID, buyer))
	}
	reasons := config.DefaultReturnReasons
	if c := ix.Campaign(rec.Campaign); c != nil {
		reasons = c.Reasons()
	}
	if !slices.Contains(reasons, reason) {
		return refuse(httpapi.Fields(http.StatusBadRequest, "validation_failed", "the return is not valid", []httpapi.FieldProblem{{
			Field: "reason", Code: "invalid", Message: fmt.Sprintf("reason %q: want one of %s", reason, strings.Join(reasons, ", ")),
		}}))
	}
	var window time.Duration
	if ref, ok := ix.Order(buyer, rec.Sales[i].Order); ok {
		window = ref.Order.ReturnWindow.D()
	}
	d, err := returns.Settle(rec, i, window, ix.Source(rec.Source), reason, now)
	var closed *returns.WindowClosedError
	switch {
	case errors.Is(err, returns.ErrAlreadyReturned):
		return refuse(alreadyReturned(rec.ID))
	case errors.As(err, &closed):
		return refuse(httpapi.Error(http.StatusUnprocessableEntity, "return_window_closed", "%s", closed.Error()))
	}
	return d, nil
}

func notBought(id, buyer string) httpapi.Response {
	return httpapi.Error(http.StatusNotFound, "lead_not_found", "buyer %s bought no lead %q", buyer, id)
}

func alreadyReturned(id string) httpapi.Response {
	return httpapi.Error(http.StatusConflict, "already_returned", "lead %s was already returned by this buyer", id)
}

// returnRequest is a buyer's return.
type returnRequest struct {
	LeadID string
	Reason string
}

func decodeReturn(body []byte) (returnRequest, []httpapi.FieldProblem, error) {
	raw, err := httpapi.DecodeObject(body)
	if err != nil {
		return returnRequest{}, nil, err
	}
	var in returnRequest
	var probs []httpapi.FieldProblem
	for k, v := range raw {
		switch k {
		case "lead_id", "reason":
			s, ok := v.(string)
			if !ok {
				probs = append(probs, httpapi.FieldProblem{Field: k, Code: "invalid", Message: k + " must be a string"})
				continue
			}
			if k == "lead_id" {
				in.LeadID = strings.TrimSpace(s)
			} else {
				in.Reason = strings.TrimSpace(s)
			}
		default:
			probs = append(probs, httpapi.FieldProblem{Field: k, Code: "unknown", Message: "unknown property; a return has lead_id and reason"})
		}
	}
	for k, v := range map[string]string{"lead_id": in.LeadID, "reason": in.Reason} {
		if bad := slices.ContainsFunc(probs, func(p httpapi.FieldProblem) bool { return p.Field == k }); !bad && v == "" {
			probs = append(probs, httpapi.FieldProblem{Field: k, Code: "required", Message: k + " is required"})
		}
	}
	if len(in.LeadID) > 128 {
		probs = append(probs, httpapi.FieldProblem{Field: "lead_id", Code: "too_long", Message: "at most 128 characters"})
	}
	slices.SortFunc(probs, func(a, b httpapi.FieldProblem) int { return strings.Compare(a.Field, b.Field) })
	return in, probs, nil
}
