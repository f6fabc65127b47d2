package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/scoring"
	"github.com/leadrelay/leadrelay/shared/store"
)

// Training reads a campaign's leads of the last TrainWindow, the newest
// MaxTrainLeads of them, and learns a new model version from those with a
// label, from scratch: labels change as leads age (a sale becomes a return
// within its window, a conversion is reported weeks later), so each
// training learns from what is known now rather than from what was known
// at the last one. Weights are versioned in the table (store.PutModel).
const (
	TrainWindow   = 90 * 24 * time.Hour
	MaxTrainLeads = 50000
	// LargestTerms is how many of a model's terms GET shows.
	LargestTerms = 20
)

// ModelStore is what scoring needs of the table.
type ModelStore interface {
	PutModel(ctx context.Context, m store.Model) error
	LatestModel(ctx context.Context, campaign string) (*store.Model, error)
}

func (h *Handler) scoringRoutes(m *httpapi.Mux) {
	m.Handle("POST /v1/admin/scoring/train", func(ctx context.Context, req httpapi.Request, _ map[string]string) httpapi.Response {
		return h.postTrain(ctx, req)
	})
	m.Handle("GET /v1/admin/scoring/{campaign}", func(ctx context.Context, _ httpapi.Request, p map[string]string) httpapi.Response {
		return h.getModel(ctx, p["campaign"])
	})
}

// modelView is a campaign's model as the API shows it.
type modelView struct {
	Campaign string `json:"campaign"`
	// Model is nil while the campaign has none: its leads are scored by
	// the rules alone.
	Model *modelSummary `json:"model"`
	// MinLabels is how many labelled leads the model needs to take part
	// in scores; Blend its share of a score now.
	MinLabels int     `json:"min_labels"`
	Blend     float64 `json:"blend"`
}

type modelSummary struct {
	Version   int             `json:"version"`
	TrainedAt time.Time       `json:"trained_at"`
	Labels    int             `json:"labels"`
	Bias      float64         `json:"bias"`
	Weights   int             `json:"weights"`
	Metrics   scoring.Metrics `json:"metrics"`
	Largest   []scoring.Term  `json:"largest_terms"`
}

func summarise(m *scoring.Model) *modelSummary {
	return &modelSummary{
		Version: m.Version, TrainedAt: m.TrainedAt, Labels: m.Labels, Bias: m.Bias,
		Weights: len(m.Weights), Metrics: m.Metrics, Largest: m.Largest(LargestTerms),
	}
}

func (h *Handler) postTrain(ctx context.Context, req httpapi.Request) httpapi.Response {
	if mt := httpapi.MediaType(req); mt != "application/json" {
		return httpapi.Error(http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type %q is not accepted: use application/json", mt)
	}
	body, refused := httpapi.BodyWithin(req, 4<<10, "a training request")
	if refused != nil {
		return *refused
	}
	var in struct {
		Campaign string `json:"campaign"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return httpapi.Fields(http.StatusBadRequest, "validation_failed", "the body must be {\"campaign\": \"<id>\"}",
			[]httpapi.FieldProblem{{Field: "campaign", Code: "invalid", Message: err.Error()}})
	}
	if in.Campaign == "" {
		return httpapi.Fields(http.StatusBadRequest, "validation_failed", "campaign is required",
			[]httpapi.FieldProblem{{Field: "campaign", Code: "required", Message: "name the campaign to train"}})
	}
	ix, camp, refused := h.campaign(ctx, in.Campaign)
	if refused != nil {
		return *refused
	}
	m, err := h.Train(ctx, ix, camp)
	if errors.Is(err, errNoLabels) {
		return httpapi.Error(http.StatusUnprocessableEntity, "no_labels", "campaign %s has no labelled leads in the last %d days to learn from", camp.ID, int(TrainWindow.Hours()/24))
	}
	if err != nil {
		h.Log.ErrorContext(ctx, "train scoring model", "campaign", camp.ID, "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "the training did not finish; retry")
	}
	return httpapi.JSON(http.StatusOK, h.view(camp, m))
}

func (h *Handler) getModel(ctx context.Context, id string) httpapi.Response {
	_, camp, refused := h.campaign(ctx, id)
	if refused != nil {
		return *refused
	}
	sm, err := h.Models.LatestModel(ctx, camp.ID)
	if errors.Is(err, store.ErrNotFound) {
		return httpapi.JSON(http.StatusOK, h.view(camp, nil))
	}
	if err != nil {
		h.Log.ErrorContext(ctx, "read scoring model", "campaign", camp.ID, "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "retry")
	}
	var m scoring.Model
	if err := m.UnmarshalBinary(sm.Blob); err != nil {
		h.Log.ErrorContext(ctx, "decode scoring model", "campaign", camp.ID, "version", sm.Version, "error", err)
		return httpapi.Error(http.StatusInternalServerError, "model_unreadable", "model %d of campaign %s cannot be read", sm.Version, camp.ID)
	}
	return httpapi.JSON(http.StatusOK, h.view(camp, &m))
}

func (h *Handler) view(camp *config.Campaign, m *scoring.Model) modelView {
	v := modelView{Campaign: camp.ID, MinLabels: minLabels(camp)}
	if m != nil {
		v.Model = summarise(m)
		if m.Labels >= v.MinLabels {
			v.Blend = scoring.Blend(m.Labels, v.MinLabels)
		}
	}
	return v
}

func minLabels(camp *config.Campaign) int {
	if camp.Scoring.MinLabels > 0 {
		return camp.Scoring.MinLabels
	}
	return config.DefaultMinLabels
}

// campaign reads the configuration and the campaign in it, or the answer
// that it cannot or is not there.
func (h *Handler) campaign(ctx context.Context, id string) (*config.Index, *config.Campaign, *httpapi.Response) {
	c, err := h.Store.LoadConfig(ctx)
	if err != nil {
		h.Log.ErrorContext(ctx, "load configuration", "error", err)
		r := httpapi.Error(http.StatusServiceUnavailable, "unavailable", "configuration unavailable; retry")
		return nil, nil, &r
	}
	ix := config.NewIndex(c)
	camp := ix.Campaign(id)
	if camp == nil {
		r := httpapi.Error(http.StatusNotFound, "campaign_not_found", "no campaign %q", id)
		return nil, nil, &r
	}
	return ix, camp, nil
}

var errNoLabels = errors.New("no labelled leads")

// Train learns and stores the next model version of the campaign (one of
// ix's) from its labelled leads.
func (h *Handler) Train(ctx context.Context, ix *config.Index, camp *config.Campaign) (*scoring.Model, error) {
	now := h.Now().UTC()
	examples, err := h.examples(ctx, ix, camp, now)
	if err != nil {
		return nil, err
	}
	if len(examples) == 0 {
		return nil, errNoLabels
	}
	version := 1
	switch prev, err := h.Models.LatestModel(ctx, camp.ID); {
	case err == nil:
		version = prev.Version + 1
	case !errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("read model: %w", err)
	}
	m, _ := scoring.Train(nil, camp.ID, examples, scoring.TrainOptions{Now: now})
	m.Version = version
	blob, err := m.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("encode model: %w", err)
	}
	if err := h.Models.PutModel(ctx, store.Model{Campaign: camp.ID, Version: version, At: now, Blob: blob}); err != nil {
		return nil, fmt.Errorf("store model: %w", err)
	}
	h.Log.InfoContext(ctx, "scoring model trained", "campaign", camp.ID, "version", version, "labels", m.Labels,
		"auc", m.Metrics.AUC, "rule_auc", m.Metrics.RuleAUC, "log_loss", m.Metrics.LogLoss, "bytes", len(blob))
	return m, nil
}

// examples are the campaign's labelled leads of the training window.
func (h *Handler) examples(ctx context.Context, ix *config.Index, camp *config.Campaign, now time.Time) ([]scoring.Example, error) {
	var out []scoring.Example
	q := store.LeadSearch{Campaign: camp.ID, From: now.Add(-TrainWindow), Limit: 500}
	for read := 0; read < MaxTrainLeads; {
		page, err := h.Store.SearchLeads(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("read leads of %s: %w", camp.ID, err)
		}
		for _, rec := range page.Leads {
			if ex, ok := example(ix, camp, rec); ok {
				out = append(out, ex)
			}
		}
		read += len(page.Leads)
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	return out, nil
}

// example is a lead's training example, if it is scored and has a label.
func example(ix *config.Index, camp *config.Campaign, rec *lead.Record) (scoring.Example, bool) {
	if rec.Test || rec.ScoreDetail == nil {
		return scoring.Example{}, false
	}
	label, weight, ok := scoring.Label(outcomeEvents(rec))
	if !ok {
		return scoring.Example{}, false
	}
	in := scoring.Input{Campaign: camp, Source: rec.Source, Fields: rec.Fields, At: rec.CreatedAt, Zone: ix.LeadZone(camp, rec.Fields)}
	if s, ok := rec.Fields["sub_id"].(string); ok {
		in.SubID = s
	}
	return scoring.Example{
		At: rec.CreatedAt, Features: scoring.Features(in, rec.ScoreDetail.Signals),
		Rule: rec.ScoreDetail.Rule, Label: label, Weight: weight,
	}, true
}

// outcomeEvents are what became of a lead, as scoring.Label reads them.
func outcomeEvents(rec *lead.Record) []string {
	var out []string
	if rec.Status == lead.Rejected {
		out = append(out, scoring.EventRejected)
	}
	for _, s := range rec.Sales {
		out = append(out, scoring.EventSold)
		switch {
		case s.Return == nil:
		case s.Return.Reason == "fraud":
			out = append(out, scoring.EventReturnedFraud)
		default:
			out = append(out, scoring.EventReturned)
		}
	}
	for _, r := range rec.Reports {
		out = append(out, r.Event)
	}
	return out
}
