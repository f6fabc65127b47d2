// Package admin is the operators' API: the configuration as a whole
// document, and a lead with its full timeline. On AWS it sits behind
// API Gateway's IAM authorisation; the local runner guards it with a
// bearer token.
package admin

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/leadrelay/leadrelay/shared/breaker"
	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/queue"
	"github.com/leadrelay/leadrelay/shared/returns"
	"github.com/leadrelay/leadrelay/shared/secrets"
	"github.com/leadrelay/leadrelay/shared/store"
)

// Store is what the admin API needs of the table.
type Store interface {
	SaveConfig(ctx context.Context, c *config.Config, expect int64) (int64, bool, error)
	LoadConfig(ctx context.Context) (*config.Config, error)
	GetLead(ctx context.Context, id string, consistent bool) (*lead.Record, error)
	Reroute(ctx context.Context, rec *lead.Record, events []lead.Event) error
	ApplyConfig(ctx context.Context, base, next *config.Config, rec store.AuditRecord) (int64, bool, error)
	Audit(ctx context.Context, limit int) ([]store.AuditRecord, error)
	// Lead search, suppression lists and operators' returns (search.go,
	// suppress.go, opreturn.go).
	SearchLeads(ctx context.Context, q store.LeadSearch) (*store.LeadPage, error)
	Suppress(ctx context.Context, list string, values []store.Contact) (int, error)
	Unsuppress(ctx context.Context, values []store.Contact) (int, error)
	Return(ctx context.Context, d returns.Decision) error
	// The buyers' health (health.go): every buyer's circuit breaker, in
	// one Query, and cap counters, by BatchGetItem.
	Breakers(ctx context.Context) (map[string]breaker.State, error)
	CapCounts(ctx context.Context, capKeys []string) (map[string]store.CapUse, error)
}

// Queue is what the admin API needs of the queues.
type Queue interface {
	Route(ctx context.Context, m queue.Route) error
}

// Handler is the admin function.
type Handler struct {
	Store Store
	Queue Queue
	Now   func() time.Time
	// Token, when set, is the bearer token every request must carry (the
	// local runner). On AWS it is empty: API Gateway checks IAM.
	Token string
	// Changed is called after a configuration change (cache invalidation).
	Changed func()
	Log     *slog.Logger

	// Redriver moves dead letters back to their queue (redrive.go).
	Redriver Redriver
	// Ledger answers the P&L and takes ad spend (reports.go).
	Ledger Ledger
	// Secrets seals the configuration's secret values before they are
	// stored (package secrets). Without it a document with a secret value
	// is refused.
	Secrets secrets.Keeper
	// Models keeps the campaigns' scoring models (scoring.go).
	Models ModelStore
	// Slack tells the loops' channel what they did (loops.go).
	Slack Notifier
	// AdSpend reads the ad platforms' spend the "spend" task imports
	// (adspend.go).
	AdSpend AdSpend
	// ConversionQueue and ConversionSender report Meta's leads' stages
	// back to Meta (conversions.go, the "conversions" task).
	ConversionQueue  ConversionQueue
	ConversionSender ConversionSender
	// Balances, Charges and Billing bill the buyers through the agency's
	// Stripe account (billing.go, billingtask.go: the "billing" task);
	// Refs resolves the ssm: references of buyers' Slack URLs it tells.
	Balances Balances
	Charges  ChargeQueue
	Billing  Billing
	Refs     Refs

	once sync.Once
	mux  httpapi.Mux
}

// Handle answers one API Gateway proxy request.
func (h *Handler) Handle(ctx context.Context, req httpapi.Request) (httpapi.Response, error) {
	if h.Token != "" {
		got := httpapi.Bearer(req)
		if subtle.ConstantTimeCompare([]byte(got), []byte(h.Token)) != 1 {
			return httpapi.Error(http.StatusUnauthorized, "unauthorized", "send the operator token as Authorization: Bearer"), nil
		}
	}
	h.once.Do(h.register)
	return h.mux.Serve(ctx, req), nil
}

// register builds the routing table: each area of the API adds its
// routes in its own file.
func (h *Handler) register() {
	for _, add := range []func(*httpapi.Mux){
		h.configRoutes,
		h.leadRoutes,
		h.planRoutes,
		h.entityRoutes,
		h.keyRoutes,
		h.auditRoutes,
		h.redriveRoutes,
		h.reportRoutes,
		h.searchRoutes,
		h.suppressionRoutes,
		h.operatorReturnRoutes,
		h.scoringRoutes,
		h.billingRoutes,
		h.hourlyRoutes,
		h.healthRoutes,
	} {
		add(&h.mux)
	}
}

func (h *Handler) configRoutes(m *httpapi.Mux) {
	m.Handle("GET /v1/admin/config", func(ctx context.Context, req httpapi.Request, _ map[string]string) httpapi.Response {
		return h.getConfig(ctx, req)
	})
	m.Handle("PUT /v1/admin/config", func(ctx context.Context, req httpapi.Request, _ map[string]string) httpapi.Response {
		return h.putConfig(ctx, req)
	})
}

func (h *Handler) leadRoutes(m *httpapi.Mux) {
	m.Handle("GET /v1/admin/leads/{id}", func(ctx context.Context, _ httpapi.Request, p map[string]string) httpapi.Response {
		return h.getLead(ctx, p["id"])
	})
	m.Handle("POST /v1/admin/leads/{id}/reroute", func(ctx context.Context, _ httpapi.Request, p map[string]string) httpapi.Response {
		return h.reroute(ctx, p["id"])
	})
}

func (h *Handler) getConfig(ctx context.Context, req httpapi.Request) httpapi.Response {
	c, err := h.Store.LoadConfig(ctx)
	if err != nil {
		h.Log.ErrorContext(ctx, "load config", "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "retry")
	}
	etag := strconv.Quote(strconv.FormatInt(c.Version, 10))
	c = config.ShowSecrets(c) // write-only: "(set)" in place of each value
	if strings.Contains(httpapi.Header(req, "Accept"), "yaml") {
		body, err := c.YAML()
		if err != nil {
			return httpapi.Error(http.StatusInternalServerError, "internal", "encode config: %v", err)
		}
		return httpapi.Response{StatusCode: http.StatusOK, Headers: map[string]string{"Content-Type": "application/yaml", "ETag": etag}, Body: string(body)}
	}
	r := httpapi.JSON(http.StatusOK, c)
	r.Headers["ETag"] = etag
	return r
}

type applied struct {
	Version int64 `json:"version"`
	Changed bool  `json:"changed"`
}

func (h *Handler) putConfig(ctx context.Context, req httpapi.Request) httpapi.Response {
	body, err := httpapi.Body(req)
	if err != nil {
		return httpapi.Error(http.StatusBadRequest, "invalid_body", "%v", err)
	}
	expect := int64(-1)
	if m := strings.Trim(strings.TrimPrefix(httpapi.Header(req, "If-Match"), "W/"), `" `); m != "" && m != "*" {
		v, err := strconv.ParseInt(m, 10, 64)
		if err != nil {
			return httpapi.Fields(http.StatusBadRequest, "validation_failed", "If-Match must be a configuration version",
				[]httpapi.FieldProblem{{Field: "If-Match", Code: "invalid", Message: "want the ETag of GET /v1/admin/config"}})
		}
		expect = v
	}
	c, err := config.Parse(body)
	var ce *config.Error
	if errors.As(err, &ce) {
		fields := make([]httpapi.FieldProblem, len(ce.Problems))
		for i, p := range ce.Problems {
			fields[i] = httpapi.FieldProblem{Field: p.Field, Code: p.Code, Message: p.Message, Line: p.Line}
		}
		return httpapi.Fields(http.StatusBadRequest, "invalid_config", fmt.Sprintf("the configuration has %d problem(s); nothing was applied", len(fields)), fields)
	}
	if err != nil {
		return httpapi.Error(http.StatusBadRequest, "invalid_config", "%v", err)
	}
	ver, changed, err := h.applyWhole(ctx, req, c, expect)
	if errors.Is(err, store.ErrVersionConflict) {
		return httpapi.Error(http.StatusPreconditionFailed, "version_conflict", "the configuration is at version %d, not %d: read it again and re-apply", ver, expect)
	}
	if err != nil {
		h.Log.ErrorContext(ctx, "save config", "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "retry")
	}
	if changed && h.Changed != nil {
		h.Changed()
	}
	h.Log.InfoContext(ctx, "configuration applied", "version", ver, "changed", changed,
		"campaigns", len(c.Campaigns), "sources", len(c.Sources), "buyers", len(c.Buyers))
	r := httpapi.JSON(http.StatusOK, applied{Version: ver, Changed: changed})
	r.Headers["ETag"] = strconv.Quote(strconv.FormatInt(ver, 10))
	return r
}

func (h *Handler) getLead(ctx context.Context, id string) httpapi.Response {
	rec, err := h.Store.GetLead(ctx, id, true)
	if errors.Is(err, store.ErrNotFound) {
		return httpapi.Error(http.StatusNotFound, "lead_not_found", "no lead %q", id)
	}
	if err != nil {
		h.Log.ErrorContext(ctx, "read lead", "lead_id", id, "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "retry")
	}
	if rec.Events == nil {
		rec.Events = []lead.Event{}
	}
	return httpapi.JSON(http.StatusOK, rec)
}

// StaleReceived is how long a lead may stay received (accepted, waiting
// for its first routing round) before an operator may re-route it: its
// routing message was lost.
const StaleReceived = time.Minute

// reroute sends an unsold or rejected lead through routing again, or a
// lead left received past StaleReceived.
func (h *Handler) reroute(ctx context.Context, id string) httpapi.Response {
	rec, err := h.Store.GetLead(ctx, id, true)
	if errors.Is(err, store.ErrNotFound) {
		return httpapi.Error(http.StatusNotFound, "lead_not_found", "no lead %q", id)
	}
	if err != nil {
		h.Log.ErrorContext(ctx, "read lead", "lead_id", id, "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "retry")
	}
	stale := rec.Status == lead.Received && h.Now().Sub(rec.Updated) > StaleReceived
	if rec.Status != lead.Unsold && rec.Status != lead.Rejected && !stale {
		return httpapi.Error(http.StatusConflict, "not_reroutable", "lead %s is %s; only unsold or rejected leads, or leads received over %s ago and never routed, can be re-routed", id, rec.Status, StaleReceived)
	}
	ev := lead.Event{At: h.Now().UTC(), Type: lead.EventRerouted, Detail: "re-routed by an operator"}
	err = h.Store.Reroute(ctx, rec, []lead.Event{ev})
	if errors.As(err, new(*store.StaleError)) {
		return httpapi.Error(http.StatusConflict, "not_reroutable", "lead %s changed meanwhile; read it again", id)
	}
	if err != nil {
		h.Log.ErrorContext(ctx, "reroute lead", "lead_id", id, "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "retry")
	}
	if err := h.Queue.Route(ctx, queue.Route{Lead: rec.Lead, Seq: rec.Seq + 1, Bought: rec.Buyers()}); err != nil {
		// The lead is marked routing at the new round: a second reroute
		// is refused, so report the failure loudly.
		h.Log.ErrorContext(ctx, "queue rerouted lead", "lead_id", id, "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "the lead could not be queued")
	}
	h.Log.InfoContext(ctx, "lead re-routed", "lead_id", id)
	return httpapi.JSON(http.StatusAccepted, map[string]string{"lead_id": id, "status": string(lead.Routing)})
}
