// Package ingest is the ingest function: sources post leads (JSON or form),
// which are authenticated, validated, de-duplicated and written in one
// transaction, then queued for routing. Ad platforms' lead forms come in
// the same way (google.go; meta.go, whose leads are fetched from the
// Meta queue, metafetch.go). It also answers a source's questions about
// its own leads, and the health check.
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

	"github.com/leadrelay/leadrelay/shared/auction"
	"github.com/leadrelay/leadrelay/shared/auth"
	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/money"
	"github.com/leadrelay/leadrelay/shared/pingtoken"
	"github.com/leadrelay/leadrelay/shared/queue"
	"github.com/leadrelay/leadrelay/shared/ratelimit"
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
	Store Store
	Queue Queue
	// Outcomes records buyers' reports (POST /v1/outcomes).
	Outcomes OutcomeStore
	// Recents and Models score each lead (score.go); nil: no velocity,
	// no model.
	Recents Recents
	Models  Models
	Configs Configs
	// Limits holds each source to its rate (nil: no limit): every post of
	// an authenticated source is counted, before its body is read.
	Limits ratelimit.Allower
	Now    func() time.Time
	NewID  func() string
	Log    *slog.Logger
	// PingSecret returns the secret that verifies the ping_ids leads
	// claim (claim.go). It is asked only when a lead claims a ping, so a
	// secret kept elsewhere (SSM) is read on the first claim, not at cold
	// start; an error answers that lead 503.
	PingSecret func(context.Context) ([]byte, error)

	// Meta Lead Ads (meta.go, metafetch.go). MetaSecret returns the Meta
	// app's secret, which verifies notifications' signatures; like
	// PingSecret it is asked on the first notification, and an error
	// answers it 503. MetaQueue holds the leads notified until HandleMeta
	// fetches them from the Graph API at GraphURL (version included, no
	// trailing slash) with Graph (nil: a client with GraphTimeout), each
	// page's token resolved by PageTokens.
	MetaSecret func(context.Context) ([]byte, error)
	MetaQueue  MetaQueue
	PageTokens PageTokens
	GraphURL   string
	Graph      *http.Client

	// Balances credits prepaid buyers' top-ups from Stripe's webhook
	// (stripe.go), whose signing secret PageTokens (the reader of ssm:
	// references) resolves.
	Balances Balances

	// Calls routes and settles inbound calls (voice.go): Twilio's
	// webhooks are checked against PublicURL (LEADRELAY_PUBLIC_URL, the
	// API's base URL with its stage) with the auth token TwilioToken
	// returns, asked on the first webhook (an error answers it 503).
	Calls     CallStore
	PublicURL string
	// Pinger asks the buyers of a ping_post call campaign for bids
	// (voice.go; nil: such a campaign's calls find no buyer).
	Pinger      auction.Pinger
	TwilioToken func(context.Context) ([]byte, error)

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
		h.outcomeRoutes,
		h.integrationRoutes,
		h.metaRoutes,
		h.stripeRoutes,
		h.voiceRoutes,
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

// posted is a lead as posted and checked: who sent it, for which
// campaign, its valid fields, the ping bids it claims and its
// Idempotency-Key.
type posted struct {
	env     envelope
	src     *config.Source
	camp    *config.Campaign
	fields  map[string]any
	claim   *pingtoken.Claim
	idemKey string
	// idemTTL is how long idemKey is remembered (0: IdempotencyTTL).
	idemTTL time.Duration
}

// post accepts a source's lead: read and checked (readLead), written with
// its claims in one transaction (store.PutLead), then queued for routing.
func (h *Handler) post(ctx context.Context, req httpapi.Request) httpapi.Response {
	ix, err := h.Configs.Get(ctx)
	if err != nil {
		h.Log.ErrorContext(ctx, "load configuration", "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "configuration unavailable; retry")
	}
	p, refused := h.readLead(ctx, ix, req)
	if refused != nil {
		return *refused
	}
	r, _ := h.accept(ctx, ix, p)
	return r
}

// ingested is what became of a lead accept was given, for the paths that
// answer in another platform's terms (Google, Meta): the lead written, or
// the one its idempotency key names (Lead); the earlier lead it duplicates
// (DuplicateOf); or a contact on a suppression list. All zero: refused, or
// not written (the answer says why).
type ingested struct {
	Lead        string
	DuplicateOf string
	Suppressed  bool
}

// accept scores a checked lead, writes it with its claims in one
// transaction (store.PutLead), then queues it for routing. It answers the
// source, and says what became of the lead.
func (h *Handler) accept(ctx context.Context, ix *config.Index, p posted) (httpapi.Response, ingested) {
	now := h.Now().UTC()
	contacts := contacts(p.camp, p.fields)
	sc, refused := h.score(ctx, ix, p, contacts, now)
	if refused != nil {
		return *refused, ingested{}
	}
	in, route, resp := h.newLead(p, contacts, sc, now)
	l := in.Record.Lead
	log := h.Log.With("lead_id", l.ID, "campaign", p.camp.ID, "source", p.src.ID)
	if err := h.Store.PutLead(ctx, in); err != nil {
		return h.notWritten(ctx, log, err, p, l, now)
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
	return answer(resp, p.env.Redirect), ingested{Lead: l.ID}
}

// readLead authenticates a posted lead's source and checks the lead, in
// the order the answers are documented: the body, its envelope, the
// Idempotency-Key, then checkLead: the campaign, the redirect, the fields, the ping claim.
func (h *Handler) readLead(ctx context.Context, ix *config.Index, req httpapi.Request) (posted, *httpapi.Response) {
	var p posted
	var refused *httpapi.Response
	if p.src, refused = auth.Source(ix, req); refused != nil {
		return posted{}, refused
	}
	if refused = ratelimit.Admit(ctx, h.Limits, h.Log, p.src.ID, ratelimit.Leads, ix.LeadRate(p.src)); refused != nil {
		return posted{}, refused
	}
	if p.env, refused = readEnvelope(req); refused != nil {
		return posted{}, refused
	}
	if p.idemKey, refused = idempotencyKey(req); refused != nil {
		return posted{}, refused
	}
	return h.checkLead(ctx, ix, p)
}

// checkLead checks a lead whose source is known (an API key, an ad
// platform's form): the campaign, the redirect, the fields, the sub-id,
// the ping claim.
func (h *Handler) checkLead(ctx context.Context, ix *config.Index, p posted) (posted, *httpapi.Response) {
	var refused *httpapi.Response
	if p.camp, refused = auth.Campaign(ix, p.src, p.env.Campaign); refused != nil {
		return posted{}, refused
	}
	if refused = checkRedirect(p.env.Redirect); refused != nil {
		return posted{}, refused
	}
	if p.fields, refused = validFields(p.camp, p.env.Fields); refused != nil {
		return posted{}, refused
	}
	if sub, _ := p.fields["sub_id"].(string); sub != "" && slices.Contains(p.src.PausedSubIDs, sub) {
		r := httpapi.Fields(http.StatusForbidden, "sub_id_paused", "sub-id "+sub+" of source "+p.src.ID+" is paused",
			[]httpapi.FieldProblem{{Field: "fields.sub_id", Code: "paused", Message: "the feedback loop paused this sub-id for its returns; an operator can resume it"}})
		return posted{}, &r
	}
	if p.claim, refused = h.claim(ctx, p.env, p.camp, p.src, p.fields); refused != nil {
		return posted{}, refused
	}
	return p, nil
}

// readEnvelope reads a lead's body, JSON or form, into its envelope; a
// lead names its campaign.
func readEnvelope(req httpapi.Request) (envelope, *httpapi.Response) {
	refuse := func(r httpapi.Response) (envelope, *httpapi.Response) { return envelope{}, &r }
	body, refused := httpapi.BodyWithin(req, MaxBody, "a lead")
	if refused != nil {
		return envelope{}, refused
	}
	var env envelope
	var problems []httpapi.FieldProblem
	var err error
	switch mt := httpapi.MediaType(req); mt {
	case "application/json":
		env, problems, err = decodeJSON(body)
		if err != nil {
			return refuse(httpapi.Error(http.StatusBadRequest, "invalid_json", "the body is not a JSON lead: %v", err))
		}
	case "application/x-www-form-urlencoded":
		env, problems, err = decodeForm(body)
		if err != nil {
			return refuse(httpapi.Error(http.StatusBadRequest, "invalid_form", "the body is not a form: %v", err))
		}
	default:
		return refuse(httpapi.Error(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"Content-Type %q is not accepted: use application/json or application/x-www-form-urlencoded", mt))
	}
	for _, p := range []string{lead.MetaPrefix, lead.GooglePrefix} {
		if strings.HasPrefix(strings.ToLower(env.ExternalID), p) {
			// Reserved: a Meta lead's stages are reported to Meta by its id.
			problems = append(problems, httpapi.FieldProblem{Field: "external_id", Code: "reserved",
				Message: fmt.Sprintf("external ids starting %q are given by the ad platform integrations only", p)})
		}
	}
	if len(problems) > 0 {
		return refuse(httpapi.Fields(http.StatusBadRequest, "validation_failed", "the lead's envelope is not valid", problems))
	}
	if env.Campaign == "" {
		return refuse(httpapi.Fields(http.StatusBadRequest, "validation_failed", "campaign is required",
			[]httpapi.FieldProblem{{Field: "campaign", Code: "required", Message: "name the campaign the lead is for"}}))
	}
	return env, nil
}

// idempotencyKey is the request's Idempotency-Key ("": none), at most 255
// characters.
func idempotencyKey(req httpapi.Request) (string, *httpapi.Response) {
	key := strings.TrimSpace(httpapi.Header(req, "Idempotency-Key"))
	if len(key) > 255 {
		r := httpapi.Fields(http.StatusBadRequest, "validation_failed", "Idempotency-Key is too long",
			[]httpapi.FieldProblem{{Field: "Idempotency-Key", Code: "too_long", Message: "at most 255 characters"}})
		return "", &r
	}
	return key, nil
}

// checkRedirect refuses a form's redirect that is not an http(s) URL.
func checkRedirect(redirect string) *httpapi.Response {
	if redirect == "" {
		return nil
	}
	if u, err := url.Parse(redirect); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		r := httpapi.Fields(http.StatusBadRequest, "validation_failed", "redirect must be an http(s) URL",
			[]httpapi.FieldProblem{{Field: "redirect", Code: "invalid", Message: "not an http(s) URL"}})
		return &r
	}
	return nil
}

// validFields validates and normalises the lead's fields against the
// campaign's schema.
func validFields(camp *config.Campaign, raw map[string]any) (map[string]any, *httpapi.Response) {
	fields, ferrs := validate.Fields(camp, raw)
	if len(ferrs) == 0 {
		return fields, nil
	}
	fp := make([]httpapi.FieldProblem, len(ferrs))
	for i, e := range ferrs {
		fp[i] = httpapi.FieldProblem{Field: e.Field, Code: e.Code, Message: e.Message}
	}
	r := httpapi.Fields(http.StatusBadRequest, "validation_failed", "the lead's fields are not valid", fp)
	return nil, &r
}

// newLead is what accepting the posted lead at now writes (its round 0,
// dedupe keys, contacts, idempotency record and ping claim),
// the routing message that follows, and the answer to the source.
func (h *Handler) newLead(p posted, contacts []store.Contact, sc scored, now time.Time) (store.NewLead, queue.Route, []byte) {
	l := lead.Lead{
		ID: h.NewID(), Campaign: p.camp.ID, Source: p.src.ID, ExternalID: p.env.ExternalID,
		Fields: p.fields, Test: p.env.Test, Score: sc.detail.Score, CreatedAt: now,
	}
	detail := stored(sc.detail)
	resp, _ := json.Marshal(acceptance{LeadID: l.ID, Status: "accepted"})
	in := store.NewLead{
		Record: &lead.Record{
			Lead: l, Status: lead.Received, Updated: now,
			Events: []lead.Event{
				{At: now, Type: lead.EventReceived, Detail: "accepted from source " + p.src.ID, Data: testMark(l.Test)},
				scoredEvent(now, detail),
			},
			ScoreDetail: &detail,
		},
		Contacts: contacts,
		Recent:   sc.recent,
	}
	if p.idemKey != "" {
		ttl := p.idemTTL
		if ttl == 0 {
			ttl = IdempotencyTTL
		}
		in.Idempotency = &store.Idempotency{Key: p.idemKey, Response: resp, TTL: ttl}
	}
	// A test lead's dedupe keys are checked, not written (store.PutLead).
	for _, f := range p.camp.Dedupe.Fields {
		if v, ok := p.fields[f]; ok {
			in.Dedupe = append(in.Dedupe, store.DedupeKey{Field: f, Value: fmt.Sprint(v), Window: p.camp.Dedupe.Window.D()})
		}
	}
	route := queue.Route{Lead: l}
	if c := p.claim; c != nil {
		in.Claim = &store.PingClaim{ID: c.ID, Expires: c.Expires}
		route.Bids = &queue.Bids{PingID: c.PingID, Ranked: c.Bids, Expires: c.Expires}
		in.Record.Events = append(in.Record.Events, claimEvent(now, c))
	}
	return in, route, resp
}

// notWritten answers a lead the store did not write: the first answer
// again for a repeated Idempotency-Key, or the refusal (suppressed,
// duplicate, ping claimed), or 503.
func (h *Handler) notWritten(ctx context.Context, log *slog.Logger, err error, p posted, l lead.Lead, now time.Time) (httpapi.Response, ingested) {
	var replay *store.ReplayError
	var dup *store.DuplicateError
	var sup *store.SuppressedError
	switch {
	case errors.As(err, &replay):
		r := h.replay(ctx, replay, p.env.Redirect)
		if r.StatusCode >= 400 {
			return r, ingested{}
		}
		return r, ingested{Lead: replay.LeadID}
	case errors.As(err, &sup):
		log.InfoContext(ctx, "suppressed lead", "field", sup.Field, "list", sup.List)
		return suppressed(sup), ingested{Suppressed: true}
	case errors.As(err, &dup):
		log.InfoContext(ctx, "duplicate lead", "duplicate_of", dup.Of, "field", dup.Field)
		if !l.Test { // a test lead counts nowhere
			if err := h.Store.CountDuplicate(ctx, l.ID, p.camp.ID, p.src.ID, now); err != nil {
				// The count is reporting only: the answer stays the 409.
				log.WarnContext(ctx, "count duplicate in the ledger", "error", err)
			}
		}
		return httpapi.JSON(http.StatusConflict, httpapi.ErrorBody{Error: httpapi.ErrorDetail{
			Code: "duplicate", Message: fmt.Sprintf("a lead with the same %s was received within the campaign's dedupe window", dup.Field),
			DuplicateOf: dup.Of,
		}}), ingested{DuplicateOf: dup.Of}
	case errors.Is(err, store.ErrPingClaimed):
		log.InfoContext(ctx, "ping already claimed")
		return httpapi.Error(http.StatusConflict, "ping_claimed", "this ping_id was already claimed by another lead"), ingested{}
	}
	log.ErrorContext(ctx, "write lead", "error", err)
	return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "the lead could not be stored; retry (with the same Idempotency-Key)"), ingested{}
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
