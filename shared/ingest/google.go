package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/ratelimit"
)

// GoogleMaxBody is the largest Google Ads lead form webhook taken.
const GoogleMaxBody = 64 << 10

func (h *Handler) integrationRoutes(m *httpapi.Mux) {
	m.Handle("POST /v1/integrations/google/webhook", func(ctx context.Context, req httpapi.Request, _ map[string]string) httpapi.Response {
		return h.googleLead(ctx, req)
	})
}

// googleWebhook is a Google Ads lead form's webhook body (the fields the
// platform reads; the others are ignored).
type googleWebhook struct {
	LeadID    string      `json:"lead_id"`
	FormID    json.Number `json:"form_id"`
	GoogleKey string      `json:"google_key"`
	IsTest    bool        `json:"is_test"`
	Columns   []struct {
		ColumnID    string `json:"column_id"`
		StringValue string `json:"string_value"`
	} `json:"user_column_data"`
}

// googleAnswer is what Google Ads is told: 200 only when the lead was
// accepted or is known (the same lead_id again, or a duplicate of an
// earlier lead); Google retries anything else.
type googleAnswer struct {
	LeadID string `json:"lead_id,omitempty"`
	Status string `json:"status"`
}

// googleLead ingests a Google Ads lead form's lead as the form's source:
// the google_key compared in constant time, the columns mapped by
// column_id, is_test run as a test lead, and each lead_id ingested once
// (its idempotency key), then validated, de-duplicated, scored and routed
// like any lead.
func (h *Handler) googleLead(ctx context.Context, req httpapi.Request) httpapi.Response {
	ix, refused := h.index(ctx)
	if refused != nil {
		return *refused
	}
	body, refused := httpapi.BodyWithin(req, GoogleMaxBody, "a Google Ads lead")
	if refused != nil {
		return *refused
	}
	var in googleWebhook
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil {
		return httpapi.Error(http.StatusBadRequest, "invalid_json", "the body is not a Google Ads lead form webhook: %v", err)
	}
	form := ix.GoogleForm(in.FormID.String())
	if form == nil || !form.KeyMatches(in.GoogleKey) {
		// One answer for an unknown form and a wrong key.
		return httpapi.Error(http.StatusForbidden, "forbidden", "unknown form_id or wrong google_key")
	}
	if strings.TrimSpace(in.LeadID) == "" {
		return httpapi.Fields(http.StatusBadRequest, "validation_failed", "lead_id is required",
			[]httpapi.FieldProblem{{Field: "lead_id", Code: "required", Message: "Google's lead id"}})
	}
	src := ix.Source(form.Source)
	if src == nil || src.Status == config.StatusPaused {
		return httpapi.Error(http.StatusForbidden, "source_paused", "the form's source %s is paused", form.Source)
	}
	if refused := ratelimit.Admit(ctx, h.Limits, h.Log, src.ID, ratelimit.Leads, ix.LeadRate(src)); refused != nil {
		return *refused
	}
	fields := map[string]any{}
	for _, c := range in.Columns {
		if name, ok := form.Columns[c.ColumnID]; ok && c.StringValue != "" {
			fields[name] = c.StringValue
		}
	}
	p := posted{
		env:     envelope{Campaign: form.Campaign, ExternalID: "google:" + in.LeadID, Test: in.IsTest, Fields: fields},
		src:     src,
		idemKey: "google-lead:" + in.LeadID,
	}
	if p, refused = h.checkLead(ctx, ix, p); refused != nil {
		return *refused
	}
	return googleAnswered(h.accept(ctx, ix, p))
}

// googleAnswered turns ingest's answer into Google's: accepted (202, or
// the first answer again for a lead_id seen before) and duplicate (409)
// are 200; the rest stands.
func googleAnswered(r httpapi.Response, got ingested) httpapi.Response {
	switch {
	case got.Lead != "":
		return httpapi.JSON(http.StatusOK, googleAnswer{LeadID: got.Lead, Status: "accepted"})
	case got.DuplicateOf != "":
		return httpapi.JSON(http.StatusOK, googleAnswer{LeadID: got.DuplicateOf, Status: "duplicate"})
	}
	return r
}
