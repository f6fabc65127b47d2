package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/money"
	"github.com/leadrelay/leadrelay/shared/store"
)

// MaxReturnBody bounds a return request.
const MaxReturnBody = 4 << 10

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

// refusal is a return the rules refuse: a 4xx with a code.
type refusal struct {
	status  int
	code    string
	message string
}

func (r *refusal) response() httpapi.Response {
	return httpapi.Error(r.status, r.code, "%s", r.message)
}

// postReturn credits a buyer's return of a lead it bought: one conditional
// transaction (store.Return), so a return counts once.
func (h *Handler) postReturn(ctx context.Context, req httpapi.Request) httpapi.Response {
	ix, err := h.Configs.Get(ctx)
	if err != nil {
		h.Log.ErrorContext(ctx, "load configuration", "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "configuration unavailable; retry")
	}
	key := httpapi.BearerOrKey(req)
	if key == "" {
		return httpapi.Error(http.StatusUnauthorized, "unauthorized", "send the buyer's API key in X-API-Key or Authorization: Bearer")
	}
	buyer := ix.BuyerByKey(key)
	if buyer == nil {
		return httpapi.Error(http.StatusUnauthorized, "unauthorized", "unknown API key")
	}
	if mt := httpapi.MediaType(req); mt != "application/json" {
		return httpapi.Error(http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type %q is not accepted: use application/json", mt)
	}
	body, refused := httpapi.BodyWithin(req, MaxReturnBody, "a return")
	if refused != nil {
		return *refused
	}
	in, problems, err := decodeReturn(body)
	if err != nil {
		return httpapi.Error(http.StatusBadRequest, "invalid_json", "the body is not a JSON return: %v", err)
	}
	if len(problems) > 0 {
		return httpapi.Fields(http.StatusBadRequest, "validation_failed", "the return is not valid", problems)
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
		i := saleOf(rec, buyer.ID)
		if i < 0 {
			return notBought(in.LeadID, buyer.ID)
		}
		reasons := config.DefaultReturnReasons
		if c := ix.Campaign(rec.Campaign); c != nil {
			reasons = c.Reasons()
		}
		if !slices.Contains(reasons, in.Reason) {
			return httpapi.Fields(http.StatusBadRequest, "validation_failed", "the return is not valid", []httpapi.FieldProblem{{
				Field: "reason", Code: "invalid", Message: fmt.Sprintf("reason %q: want one of %s", in.Reason, strings.Join(reasons, ", ")),
			}})
		}
		var window time.Duration
		if ref, ok := ix.Order(buyer.ID, rec.Sales[i].Order); ok {
			window = ref.Order.ReturnWindow.D()
		}
		ri, ref := settle(rec, i, window, ix.Source(rec.Source), in.Reason, h.Now().UTC())
		if ref != nil {
			return ref.response()
		}
		err = h.Store.Return(ctx, ri)
		var stale *store.StaleError
		switch {
		case err == nil:
			sale := rec.Sales[i]
			status := rec.Status
			if ri.Final {
				status = lead.Returned
			}
			log.InfoContext(ctx, "lead returned", "reason", in.Reason, "credited", sale.Price.Decimal(),
				"clawback", ri.Return.Clawback.Decimal(), "status", status)
			return httpapi.JSON(http.StatusOK, returned{LeadID: rec.ID, Status: status, Reason: in.Reason, Credited: sale.Price, At: ri.Return.At})
		case errors.Is(err, store.ErrAlreadyReturned):
			return alreadyReturned(rec.ID)
		case errors.As(err, &stale) && try < returnTries:
			continue // the lead moved on (a shared lead still routing): decide again
		default:
			log.ErrorContext(ctx, "return lead", "error", err)
			return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "the return could not be recorded; retry")
		}
	}
}

func notBought(id, buyer string) httpapi.Response {
	return httpapi.Error(http.StatusNotFound, "lead_not_found", "buyer %s bought no lead %q", buyer, id)
}

func alreadyReturned(id string) httpapi.Response {
	return httpapi.Error(http.StatusConflict, "already_returned", "lead %s was already returned by this buyer", id)
}

// saleOf is the index of the buyer's sale of the lead, or -1.
func saleOf(rec *lead.Record, buyer string) int {
	return slices.IndexFunc(rec.Sales, func(s lead.Sale) bool { return s.Buyer == buyer })
}

// settle decides the return of sale i of the lead at now: refused if the
// sale was returned already (409) or its order's return window, counted
// from the sale's time, has closed (an order without a window takes no
// returns); otherwise the store's input, with the clawback the source's
// terms give and whether the lead ends returned.
func settle(rec *lead.Record, i int, window time.Duration, src *config.Source, reason string, now time.Time) (store.ReturnInput, *refusal) {
	sale := rec.Sales[i]
	if sale.Return != nil {
		return store.ReturnInput{}, &refusal{http.StatusConflict, "already_returned", fmt.Sprintf("lead %s was already returned by this buyer", rec.ID)}
	}
	if window <= 0 {
		return store.ReturnInput{}, &refusal{http.StatusUnprocessableEntity, "return_window_closed",
			fmt.Sprintf("order %s/%s takes no returns (it has no return_window)", sale.Buyer, sale.Order)}
	}
	if closes := sale.At.Add(window); now.After(closes) {
		return store.ReturnInput{}, &refusal{http.StatusUnprocessableEntity, "return_window_closed",
			fmt.Sprintf("the return window of %s closed at %s (sold at %s)", window, closes.UTC().Format(time.RFC3339), sale.At.UTC().Format(time.RFC3339))}
	}
	return decide(rec, i, src, reason, now), nil
}

// decide is the store's input for the return of sale i, not returned yet:
// the clawback the source's terms give and whether the lead ends returned.
func decide(rec *lead.Record, i int, src *config.Source, reason string, now time.Time) store.ReturnInput {
	sale := rec.Sales[i]
	claw := clawback(src, rec, i)
	final := rec.Assignment == nil
	for j, s := range rec.Sales {
		if j != i && s.Return == nil {
			final = false
		}
	}
	detail := fmt.Sprintf("returned by %s (%s): %s credited", sale.Buyer, reason, sale.Price)
	if claw != 0 {
		detail += fmt.Sprintf(", %s clawed back from source %s", claw, rec.Source)
	}
	data := map[string]any{"reason": reason, "credited": sale.Price.Decimal(), "clawback": claw.Decimal()}
	return store.ReturnInput{
		Lead: rec, Sale: i, Final: final,
		Return: lead.Return{At: now, Reason: reason, Clawback: claw},
		Events: []lead.Event{{At: now, Type: lead.EventReturned, Buyer: sale.Buyer, Order: sale.Order, Detail: detail, Data: data}},
	}
}

// clawback is the payout taken back from the source when sale i is
// returned, under the source's current terms: nothing without clawback;
// with a revenue share, the share paid on that sale; with a fixed payout
// (paid once a lead), everything still paid on the lead, once the return
// leaves no sale standing.
func clawback(src *config.Source, rec *lead.Record, i int) money.Amount {
	if src == nil || !src.Clawback {
		return 0
	}
	if src.Payout.Type != config.PayoutFixed {
		return rec.Sales[i].Payout
	}
	var paid money.Amount
	for j, s := range rec.Sales {
		if j != i && s.Return == nil {
			return 0 // another buyer keeps the lead: the source keeps its payout
		}
		paid += s.Payout
		if s.Return != nil {
			paid -= s.Return.Clawback
		}
	}
	return paid
}

// returnRequest is a buyer's return.
type returnRequest struct {
	LeadID string
	Reason string
}

func decodeReturn(body []byte) (returnRequest, []httpapi.FieldProblem, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return returnRequest{}, nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return returnRequest{}, nil, errors.New("trailing data after the JSON object")
	}
	if raw == nil {
		return returnRequest{}, nil, errors.New("the body must be a JSON object")
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
