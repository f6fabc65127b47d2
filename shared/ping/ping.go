// Package ping is the ping function, the sellers' side of ping-post: a
// source pings a campaign with a lead's non-PII fields (POST /v1/pings)
// and is answered, synchronously, with the bids it would be paid if it
// posted the lead. The answer's ping_id is a signed, expiring token
// (package pingtoken) that the source then posts with the lead to claim
// those bids (ingest checks the claim), so the router offers the lead to
// them without pinging again.
package ping

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
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
	"github.com/leadrelay/leadrelay/shared/ratelimit"
	"github.com/leadrelay/leadrelay/shared/routing"
	"github.com/leadrelay/leadrelay/shared/scoring"
	"github.com/leadrelay/leadrelay/shared/validate"
)

// MaxBody is the largest ping a source may send.
const MaxBody = 64 << 10

// MaxTokenBids bounds the bids a ping_id carries (best first).
const MaxTokenBids = 20

// Safety margin kept out of the campaign's ping timeout, so the answer
// leaves before the seller's own deadline: 10% of it, at least MinSafety.
const (
	SafetyPercent = 10
	MinSafety     = 20 * time.Millisecond
)

// Budget is the auction's deadline for a ping on a campaign whose ping
// timeout is t: t less the safety margin.
func Budget(t time.Duration) time.Duration {
	safety := max(t*SafetyPercent/100, MinSafety)
	return max(t-safety, time.Millisecond)
}

// Configs returns the current configuration.
type Configs interface {
	Get(ctx context.Context) (*config.Index, error)
}

// Handler is the ping function.
type Handler struct {
	// Breakers, when set, keep buyers with an open circuit breaker out of
	// the quotes (see package breaker).
	Breakers interface {
		ExcludeQuoting(ctx context.Context, orders []config.OrderRef) map[string]string
	}
	Configs Configs
	// Limits holds each source to its ping rate (nil: no limit): every
	// ping of an authenticated source is counted, before it is read.
	Limits ratelimit.Allower
	// Pinger asks the buyers' ping URLs for bids.
	Pinger auction.Pinger
	// Secret signs the ping_ids (pingtoken.LoadSecret loads it).
	Secret []byte
	Now    func() time.Time
	// NewID names a ping.
	NewID func() string
	Log   *slog.Logger

	once sync.Once
	mux  httpapi.Mux
}

// Handle answers one API Gateway proxy request.
func (h *Handler) Handle(ctx context.Context, req httpapi.Request) (httpapi.Response, error) {
	h.once.Do(func() {
		h.mux.Handle("POST /v1/pings", func(ctx context.Context, req httpapi.Request, _ map[string]string) httpapi.Response {
			return h.ping(ctx, req)
		})
	})
	return h.mux.Serve(ctx, req), nil
}

// request is a ping before validation.
type request struct {
	Campaign string
	Test     bool
	Fields   map[string]any
}

// Answer is a ping's answer.
type Answer struct {
	PingID     string      `json:"ping_id"`
	Outcome    string      `json:"outcome,omitempty"`
	ExpiresInS int64       `json:"expires_in_s,omitempty"`
	Bids       []AnswerBid `json:"bids,omitempty"`
	Test       bool        `json:"test,omitempty"`
}

// AnswerBid is one bid as the seller sees it: the seller price.
type AnswerBid struct {
	BidID string       `json:"bid_id"`
	Price money.Amount `json:"price"`
}

func (h *Handler) ping(ctx context.Context, req httpapi.Request) httpapi.Response {
	ix, err := h.Configs.Get(ctx)
	if err != nil {
		h.Log.ErrorContext(ctx, "load configuration", "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "configuration unavailable; retry")
	}
	src, refused := auth.Source(ix, req)
	if refused != nil {
		return *refused
	}
	if refused := ratelimit.Admit(ctx, h.Limits, h.Log, src.ID, ratelimit.Pings, ix.PingRate(src)); refused != nil {
		return *refused
	}
	body, refused := httpapi.BodyWithin(req, MaxBody, "a ping")
	if refused != nil {
		return *refused
	}
	if mt := httpapi.MediaType(req); mt != "application/json" {
		return httpapi.Error(http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type %q is not accepted: use application/json", mt)
	}
	in, probs, err := decode(body)
	if err != nil {
		return httpapi.Error(http.StatusBadRequest, "invalid_json", "the body is not a JSON ping: %v", err)
	}
	if len(probs) > 0 {
		return httpapi.Fields(http.StatusBadRequest, "validation_failed", "the ping's envelope is not valid", probs)
	}
	camp, refused := auth.Campaign(ix, src, in.Campaign)
	if refused != nil {
		return *refused
	}
	if camp.Distribution != config.PingPost {
		return httpapi.Fields(http.StatusBadRequest, "validation_failed", "the campaign does not take pings",
			[]httpapi.FieldProblem{{Field: "campaign", Code: "not_ping_post", Message: "campaign " + camp.ID + " is sold by " + camp.Distribution + ", not ping_post: post the lead"}})
	}
	fields, fp := Fields(camp, in.Fields)
	if len(fp) > 0 {
		return httpapi.Fields(http.StatusBadRequest, "validation_failed", "the ping's fields are not valid", fp)
	}
	return h.auction(ctx, ix, camp, src, fields, in.Test)
}

// Fields validates a ping's fields: PII fields are refused (a ping carries
// none), the present non-PII fields are checked and normalised against
// the campaign's schema, and its required non-PII fields must be there.
// Fields the campaign does not declare are dropped (no buyer sees them).
func Fields(camp *config.Campaign, raw map[string]any) (map[string]any, []httpapi.FieldProblem) {
	var probs []httpapi.FieldProblem
	for name := range raw {
		if f, ok := camp.Fields[name]; ok && f.PII {
			probs = append(probs, httpapi.FieldProblem{Field: name, Code: "pii_not_allowed", Message: "is personal data: a ping carries only non-PII fields; post it with the lead"})
		}
	}
	if len(probs) > 0 {
		slices.SortFunc(probs, func(a, b httpapi.FieldProblem) int { return strings.Compare(a.Field, b.Field) })
		return nil, probs
	}
	schema := *camp
	schema.Fields = make(map[string]config.Field, len(camp.Fields))
	for name, f := range camp.Fields {
		if !f.PII {
			schema.Fields[name] = f
		}
	}
	fields, errs := validate.Fields(&schema, raw)
	for _, e := range errs {
		probs = append(probs, httpapi.FieldProblem{Field: e.Field, Code: e.Code, Message: e.Message})
	}
	if len(probs) > 0 {
		return nil, probs
	}
	return auction.NonPII(camp, fields), nil
}

// auction runs the campaign's auction for the pinged fields and answers
// the bids the seller may claim.
func (h *Handler) auction(ctx context.Context, ix *config.Index, camp *config.Campaign, src *config.Source, fields map[string]any, test bool) httpapi.Response {
	now := h.Now().UTC()
	id := h.NewID()
	log := h.Log.With("ping_id", id, "campaign", camp.ID, "source", src.ID)
	// A ping is scored on what it carries (no PII: the phone and email
	// signals are neutral), so orders' min_score and score_adjustments
	// judge it as they will the lead, and the buyers see the score.
	score := scoring.Score(scoring.Input{Campaign: camp, Source: src.ID, Fields: fields, At: now, Zone: ix.LeadZone(camp, fields)}, nil, 0).Score
	l := &lead.Lead{ID: id, Campaign: camp.ID, Source: src.ID, Fields: fields, Test: test, Score: score, CreatedAt: now}
	in := routing.NewInput(l, camp, ix, now, nil, nil)
	if h.Breakers != nil {
		// Buyers whose deliveries are failing are not quoted.
		in.Exclude = h.Breakers.ExcludeQuoting(ctx, in.Orders)
	}
	dec := routing.Decide(in)
	bidders := make([]auction.Bidder, len(dec.Candidates))
	for i, c := range dec.Candidates {
		bidders[i] = auction.Bidder{Ref: c.Ref}
	}
	res := auction.Run(ctx, h.Pinger, auction.Request{
		PingID: id, Campaign: camp.ID, Fields: fields, Score: &score, Bidders: bidders,
		Timeout: Budget(camp.Ping.Timeout.D()), Floor: camp.Ping.Floor,
	})
	canon, err := pingtoken.CanonicalFields(fields)
	if err != nil {
		log.ErrorContext(ctx, "encode ping fields", "error", err)
		return httpapi.Error(http.StatusInternalServerError, "internal", "the ping could not be answered")
	}
	ttl := camp.Ping.BidTTL.D()
	t := &pingtoken.Token{ID: id, Campaign: camp.ID, Source: src.ID, Test: test, Fields: canon, Expires: now.Add(ttl).UnixMilli()}
	margin := config.PingMargin(camp, src)
	for _, b := range res.Ranked {
		seller := margin.SellerPrice(b.Price)
		if seller <= 0 {
			continue // a bid that pays the seller nothing is not offered
		}
		t.Bids = append(t.Bids, pingtoken.Bid{Order: b.Key(), Price: int64(b.Price), BidID: b.BidID, Seller: int64(seller)})
		if len(t.Bids) == MaxTokenBids {
			break
		}
	}
	token, err := pingtoken.Sign(h.Secret, t)
	if err != nil || len(h.Secret) == 0 {
		log.ErrorContext(ctx, "sign ping token", "error", err, "secret_set", len(h.Secret) > 0)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "pings cannot be answered now; retry")
	}
	log.InfoContext(ctx, "ping answered", "bidders", len(bidders), "bids", len(res.Ranked), "offered", len(t.Bids), "duration_ms", res.Duration.Milliseconds(), "test", test)
	ans := Answer{PingID: token, Test: test}
	shown := t.Shown(camp.MaxSales)
	if len(shown) == 0 {
		ans.Outcome = string(lead.OutcomeNoBid)
		return httpapi.JSON(http.StatusOK, ans)
	}
	ans.ExpiresInS = int64((ttl + time.Second - 1) / time.Second)
	for _, i := range shown {
		ans.Bids = append(ans.Bids, AnswerBid{BidID: t.SellerBidID(i), Price: money.Amount(t.Bids[i].Seller)})
	}
	return httpapi.JSON(http.StatusOK, ans)
}

func decode(body []byte) (request, []httpapi.FieldProblem, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return request{}, nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return request{}, nil, errors.New("trailing data after the JSON object")
	}
	if raw == nil {
		return request{}, nil, errors.New("the body must be a JSON object")
	}
	var in request
	var probs []httpapi.FieldProblem
	for k, v := range raw {
		var ok bool
		switch k {
		case "campaign":
			in.Campaign, ok = v.(string)
			if !ok {
				probs = append(probs, httpapi.FieldProblem{Field: k, Code: "invalid", Message: "campaign must be a string"})
			}
		case "test":
			in.Test, ok = v.(bool)
			if !ok {
				probs = append(probs, httpapi.FieldProblem{Field: k, Code: "invalid", Message: "test must be true or false"})
			}
		case "fields":
			in.Fields, ok = v.(map[string]any)
			if !ok {
				probs = append(probs, httpapi.FieldProblem{Field: k, Code: "invalid", Message: "fields must be an object"})
			}
		default:
			probs = append(probs, httpapi.FieldProblem{Field: k, Code: "unknown", Message: "unknown property; a ping is {\"campaign\", \"fields\", \"test\"}"})
		}
	}
	if in.Campaign == "" && !slices.ContainsFunc(probs, func(p httpapi.FieldProblem) bool { return p.Field == "campaign" }) {
		probs = append(probs, httpapi.FieldProblem{Field: "campaign", Code: "required", Message: "name the campaign the ping is for"})
	}
	slices.SortFunc(probs, func(a, b httpapi.FieldProblem) int { return strings.Compare(a.Field, b.Field) })
	return in, probs, nil
}
