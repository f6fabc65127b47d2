// Package ingest is the ingest function: sources post leads (JSON or form),
// which are authenticated, validated, de-duplicated and written in one
// transaction, then queued for routing. It also answers a source's
// questions about its own leads, and the health check.
package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/leadrelay/leadrelay/shared/auth"
	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/money"
	"github.com/leadrelay/leadrelay/shared/queue"
	"github.com/leadrelay/leadrelay/shared/returns"
	"github.com/leadrelay/leadrelay/shared/store"
	"github.com/leadrelay/leadrelay/shared/validate"
)

// MaxBody is the largest lead a source may post.
const MaxBody = 64 << 10

// RequeueAfter is how long a lead may wait for routing before a retry
// with its Idempotency-Key queues it again.
const RequeueAfter = 10 * time.Second

// IdempotencyTTL is how long an Idempotency-Key is remembered.
const IdempotencyTTL = 24 * time.Hour

// Store is what ingest needs of the table.
type Store interface {
	PutLead(ctx context.Context, in store.NewLead) error
	GetLead(ctx context.Context, id string, consistent bool) (*lead.Record, error)
	// CountDuplicate and Return: see returns.go (package returns decides
	// a return) and docs/money.md.
	CountDuplicate(ctx context.Context, id, campaign, source string, at time.Time) error
	Return(ctx context.Context, d returns.Decision) error
}

// Queue is what ingest needs of the routing queue.
type Queue interface {
	Route(ctx context.Context, m queue.Route) error
}

// Configs returns the current configuration.
type Configs interface {
	Get(ctx context.Context) (*config.Index, error)
}

// Handler is the ingest function.
type Handler struct {
	Store   Store
	Queue   Queue
	Configs Configs
	Now     func() time.Time
	NewID   func() string
	Log     *slog.Logger
	// PingSecret verifies the ping_ids leads claim (claim.go).
	PingSecret []byte

	once sync.Once
	mux  httpapi.Mux
}

// Handle answers one API Gateway proxy request.
func (h *Handler) Handle(ctx context.Context, req httpapi.Request) (httpapi.Response, error) {
	h.once.Do(h.register)
	return h.mux.Serve(ctx, req), nil
}

// register builds the routing table; each area of the public API adds
// its routes in its own file.
func (h *Handler) register() {
	for _, add := range []func(*httpapi.Mux){
		h.leadRoutes,
		h.returnRoutes,
	} {
		add(&h.mux)
	}
}

func (h *Handler) leadRoutes(m *httpapi.Mux) {
	m.Handle("GET /v1/health", func(context.Context, httpapi.Request, map[string]string) httpapi.Response {
		return httpapi.JSON(http.StatusOK, map[string]string{"status": "ok"})
	})
	m.Handle("POST /v1/leads", func(ctx context.Context, req httpapi.Request, _ map[string]string) httpapi.Response {
		return h.post(ctx, req)
	})
	m.Handle("GET /v1/leads/{id}", func(ctx context.Context, req httpapi.Request, p map[string]string) httpapi.Response {
		return h.get(ctx, req, p["id"])
	})
}

// envelope is a posted lead before validation.
type envelope struct {
	Campaign   string
	ExternalID string
	Test       bool
	Redirect   string
	Fields     map[string]any
	// PingID and BidIDs claim a ping's bids (claim.go).
	PingID string
	BidIDs []string
}

func (h *Handler) post(ctx context.Context, req httpapi.Request) httpapi.Response {
	ix, err := h.Configs.Get(ctx)
	if err != nil {
		h.Log.ErrorContext(ctx, "load configuration", "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "configuration unavailable; retry")
	}
	src, refused := auth.Source(ix, req)
	if refused != nil {
		return *refused
	}
	body, refused := httpapi.BodyWithin(req, MaxBody, "a lead")
	if refused != nil {
		return *refused
	}
	var env envelope
	var problems []httpapi.FieldProblem
	switch mt := httpapi.MediaType(req); mt {
	case "application/json":
		env, problems, err = decodeJSON(body)
		if err != nil {
			return httpapi.Error(http.StatusBadRequest, "invalid_json", "the body is not a JSON lead: %v", err)
		}
	case "application/x-www-form-urlencoded":
		env, problems, err = decodeForm(body)
		if err != nil {
			return httpapi.Error(http.StatusBadRequest, "invalid_form", "the body is not a form: %v", err)
		}
	default:
		return httpapi.Error(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"Content-Type %q is not accepted: use application/json or application/x-www-form-urlencoded", mt)
	}
	if len(problems) > 0 {
		return httpapi.Fields(http.StatusBadRequest, "validation_failed", "the lead's envelope is not valid", problems)
	}
	if env.Campaign == "" {
		return httpapi.Fields(http.StatusBadRequest, "validation_failed", "campaign is required",
			[]httpapi.FieldProblem{{Field: "campaign", Code: "required", Message: "name the campaign the lead is for"}})
	}
	camp := ix.Campaign(env.Campaign)
	if camp == nil {
		return httpapi.Error(http.StatusNotFound, "campaign_not_found", "no campaign %q", env.Campaign)
	}
	if !src.Allows(camp.ID) {
		return httpapi.Error(http.StatusForbidden, "campaign_not_allowed", "source %s may not post to campaign %s", src.ID, camp.ID)
	}
	if camp.Status == config.StatusPaused {
		return httpapi.Error(http.StatusForbidden, "campaign_paused", "campaign %s is paused", camp.ID)
	}
	idemKey := strings.TrimSpace(httpapi.Header(req, "Idempotency-Key"))
	if len(idemKey) > 255 {
		return httpapi.Fields(http.StatusBadRequest, "validation_failed", "Idempotency-Key is too long",
			[]httpapi.FieldProblem{{Field: "Idempotency-Key", Code: "too_long", Message: "at most 255 characters"}})
	}
	if env.Redirect != "" {
		if u, err := url.Parse(env.Redirect); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return httpapi.Fields(http.StatusBadRequest, "validation_failed", "redirect must be an http(s) URL",
				[]httpapi.FieldProblem{{Field: "redirect", Code: "invalid", Message: "not an http(s) URL"}})
		}
	}
	fields, ferrs := validate.Fields(camp, env.Fields)
	if len(ferrs) > 0 {
		fp := make([]httpapi.FieldProblem, len(ferrs))
		for i, e := range ferrs {
			fp[i] = httpapi.FieldProblem{Field: e.Field, Code: e.Code, Message: e.Message}
		}
		return httpapi.Fields(http.StatusBadRequest, "validation_failed", "the lead's fields are not valid", fp)
	}
	claim, refused := h.claim(env, camp, src, fields)
	if refused != nil {
		return *refused
	}

	now := h.Now().UTC()
	l := lead.Lead{
		ID: h.NewID(), Campaign: camp.ID, Source: src.ID, ExternalID: env.ExternalID,
		Fields: fields, Test: env.Test, CreatedAt: now,
	}
	accepted := acceptance{LeadID: l.ID, Status: "accepted"}
	resp, _ := json.Marshal(accepted)
	in := store.NewLead{
		Record: &lead.Record{
			Lead: l, Status: lead.Received, Updated: now,
			Events: []lead.Event{{At: now, Type: lead.EventReceived, Detail: "accepted from source " + src.ID, Data: testMark(l.Test)}},
		},
		RateLimit: src.RateLimit,
	}
	if idemKey != "" {
		in.Idempotency = &store.Idempotency{Key: idemKey, Response: resp, TTL: IdempotencyTTL}
	}
	// A test lead's dedupe keys are checked, not written (store.PutLead).
	for _, f := range camp.Dedupe.Fields {
		if v, ok := fields[f]; ok {
			in.Dedupe = append(in.Dedupe, store.DedupeKey{Field: f, Value: fmt.Sprint(v), Window: camp.Dedupe.Window.D()})
		}
	}
	in.Contacts = contacts(camp, fields)
	route := queue.Route{Lead: l}
	if claim != nil {
		in.Claim = &store.PingClaim{ID: claim.ID, Expires: claim.Expires}
		route.Bids = &queue.Bids{PingID: claim.PingID, Ranked: claim.Bids, Expires: claim.Expires}
		in.Record.Events = append(in.Record.Events, claimEvent(now, claim))
	}
	log := h.Log.With("lead_id", l.ID, "campaign", camp.ID, "source", src.ID)
	err = h.Store.PutLead(ctx, in)
	var replay *store.ReplayError
	var dup *store.DuplicateError
	var sup *store.SuppressedError
	switch {
	case errors.As(err, &replay):
		return h.replay(ctx, replay, env.Redirect)
	case errors.As(err, &sup):
		log.InfoContext(ctx, "suppressed lead", "field", sup.Field, "list", sup.List)
		return suppressed(sup)
	case errors.As(err, &dup):
		log.InfoContext(ctx, "duplicate lead", "duplicate_of", dup.Of, "field", dup.Field)
		if !l.Test { // a test lead counts nowhere
			if err := h.Store.CountDuplicate(ctx, l.ID, camp.ID, src.ID, now); err != nil {
				// The count is reporting only: the answer stays the 409.
				log.WarnContext(ctx, "count duplicate in the ledger", "error", err)
			}
		}
		return httpapi.JSON(http.StatusConflict, httpapi.ErrorBody{Error: httpapi.ErrorDetail{
			Code: "duplicate", Message: fmt.Sprintf("a lead with the same %s was received within the campaign's dedupe window", dup.Field),
			DuplicateOf: dup.Of,
		}})
	case errors.Is(err, store.ErrPingClaimed):
		log.InfoContext(ctx, "ping already claimed")
		return httpapi.Error(http.StatusConflict, "ping_claimed", "this ping_id was already claimed by another lead")
	case errors.Is(err, store.ErrRateLimited):
		r := httpapi.Error(http.StatusTooManyRequests, "rate_limited", "source %s is over its rate of %d leads a second", src.ID, src.RateLimit)
		r.Headers["Retry-After"] = "1"
		return r
	case err != nil:
		log.ErrorContext(ctx, "write lead", "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "the lead could not be stored; retry (with the same Idempotency-Key)")
	}
	if err := h.Queue.Route(ctx, route); err != nil {
		// The lead is stored: it is accepted. The sweeper finds a lead
		// without a first round within a minute or two and queues it
		// (package sweeper); a retry with the same Idempotency-Key queues
		// it at once. A 503 here would make the source post it again and
		// be refused as a duplicate of a lead it was never told of.
		log.ErrorContext(ctx, "queue lead for routing; the sweeper will", "error", err)
	}
	log.InfoContext(ctx, "lead accepted", "test", l.Test)
	return answer(resp, env.Redirect)
}

type acceptance struct {
	LeadID string `json:"lead_id"`
	Status string `json:"status"`
}

func testMark(test bool) map[string]any {
	if test {
		return map[string]any{"test": true}
	}
	return nil
}

func answer(resp []byte, redirect string) httpapi.Response {
	if redirect != "" {
		return httpapi.Response{StatusCode: http.StatusSeeOther, Headers: map[string]string{"Location": redirect}}
	}
	return httpapi.Response{StatusCode: http.StatusAccepted, Headers: map[string]string{"Content-Type": "application/json"}, Body: string(resp)}
}

// replay answers a repeated Idempotency-Key with the first answer. If the
// first request stored the lead but could not queue it, it is queued now.
func (h *Handler) replay(ctx context.Context, r *store.ReplayError, redirect string) httpapi.Response {
	rec, err := h.Store.GetLead(ctx, r.LeadID, true)
	if err != nil {
		h.Log.ErrorContext(ctx, "read replayed lead", "lead_id", r.LeadID, "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "retry")
	}
	// A lead still waiting for routing well after it was accepted was
	// never queued (the first request failed after the write): queue it.
	if rec.Status == lead.Received && rec.Seq == 0 && h.Now().Sub(rec.CreatedAt) > RequeueAfter {
		if err := h.Queue.Route(ctx, queue.Route{Lead: rec.Lead, Recovered: true}); err != nil {
			h.Log.ErrorContext(ctx, "queue replayed lead", "lead_id", r.LeadID, "error", err)
			return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "the lead could not be queued; retry with the same Idempotency-Key")
		}
	}
	return answer(r.Response, redirect)
}

func decodeJSON(body []byte) (envelope, []httpapi.FieldProblem, error) {
	raw, err := httpapi.DecodeObject(body)
	if err != nil {
		return envelope{}, nil, err
	}
	var env envelope
	var probs []httpapi.FieldProblem
	for k, v := range raw {
		switch k {
		case "campaign", "external_id", "redirect", "ping_id":
			s, ok := v.(string)
			if !ok {
				probs = append(probs, httpapi.FieldProblem{Field: k, Code: "invalid", Message: k + " must be a string"})
				continue
			}
			switch k {
			case "campaign":
				env.Campaign = s
			case "external_id":
				env.ExternalID = s
			case "ping_id":
				env.PingID = s
			default:
				env.Redirect = s
			}
		case "test":
			b, ok := v.(bool)
			if !ok {
				probs = append(probs, httpapi.FieldProblem{Field: k, Code: "invalid", Message: "test must be true or false"})
			}
			env.Test = b
		case "bid_ids":
			env.BidIDs, probs = bidIDs(v, probs)
		case "fields":
			m, ok := v.(map[string]any)
			if !ok {
				probs = append(probs, httpapi.FieldProblem{Field: k, Code: "invalid", Message: "fields must be an object"})
			}
			env.Fields = m
		default:
			probs = append(probs, httpapi.FieldProblem{Field: k, Code: "unknown", Message: "unknown property; lead fields go inside \"fields\""})
		}
	}
	slices.SortFunc(probs, func(a, b httpapi.FieldProblem) int { return strings.Compare(a.Field, b.Field) })
	if len(env.ExternalID) > 255 {
		probs = append(probs, httpapi.FieldProblem{Field: "external_id", Code: "too_long", Message: "at most 255 characters"})
	}
	return env, probs, nil
}

func decodeForm(body []byte) (envelope, []httpapi.FieldProblem, error) {
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return envelope{}, nil, err
	}
	env := envelope{Fields: map[string]any{}}
	var probs []httpapi.FieldProblem
	for k, vs := range vals {
		v := vs[0]
		switch k {
		case "campaign":
			env.Campaign = v
		case "external_id":
			env.ExternalID = v
		case "redirect":
			env.Redirect = v
		case "ping_id":
			env.PingID = v
		case "bid_ids":
			env.BidIDs = strings.Split(v, ",")
		case "test":
			switch strings.ToLower(v) {
			case "true", "1", "yes":
				env.Test = true
			case "false", "0", "no", "":
			default:
				probs = append(probs, httpapi.FieldProblem{Field: k, Code: "invalid", Message: "test must be true or false"})
			}
		default:
			env.Fields[k] = v
		}
	}
	return env, probs, nil
}

// view is a source's view of its lead.
type view struct {
	LeadID   string       `json:"lead_id"`
	Campaign string       `json:"campaign"`
	Status   lead.Status  `json:"status"`
	Payout   money.Amount `json:"payout"`
	Test     bool         `json:"test,omitempty"`
	// Outcome is the seller's outcome (lead.Outcome).
	Outcome lead.Outcome `json:"outcome"`
}

func (h *Handler) get(ctx context.Context, req httpapi.Request, id string) httpapi.Response {
	ix, err := h.Configs.Get(ctx)
	if err != nil {
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "configuration unavailable; retry")
	}
	key := httpapi.BearerOrKey(req)
	src := ix.SourceByKey(key)
	if key == "" || src == nil {
		return httpapi.Error(http.StatusUnauthorized, "unauthorized", "send the source's API key in X-API-Key or Authorization: Bearer")
	}
	rec, err := h.Store.GetLead(ctx, id, false)
	if errors.Is(err, store.ErrNotFound) || (err == nil && rec.Source != src.ID) {
		return httpapi.Error(http.StatusNotFound, "lead_not_found", "no lead %q for source %s", id, src.ID)
	}
	if err != nil {
		h.Log.ErrorContext(ctx, "read lead", "lead_id", id, "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "retry")
	}
	return httpapi.JSON(http.StatusOK, view{LeadID: rec.ID, Campaign: rec.Campaign, Status: rec.Status, Payout: rec.Payout(), Test: rec.Test, Outcome: rec.Outcome()})
}
