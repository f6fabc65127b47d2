package ingest

import (
	"context"
	"strings"
	"testing"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/lead"
)

type reportStore struct {
	reports []lead.Report
	events  []lead.Event
}

func (s *reportStore) PutReport(_ context.Context, _ string, r lead.Report, ev lead.Event, _ *lead.Conversion) error {
	s.reports = append(s.reports, r)
	s.events = append(s.events, ev)
	return nil
}

func TestOutcomeIsCheckedAndRecorded(t *testing.T) {
	h, st, _, _ := postFixture(t)
	ix, _ := h.Configs.Get(t.Context())
	c := ix.Config.Clone()
	c.Buyers = []config.Buyer{{ID: "acme", APIKeySHA256: config.HashKey("key-acme"), Delivery: config.Delivery{Type: "webhook", URL: "https://acme.example/leads"}},
		{ID: "rival", APIKeySHA256: config.HashKey("key-rival"), Delivery: config.Delivery{Type: "webhook", URL: "https://rival.example/leads"}}}
	h.Configs = fixedConfig{config.NewIndex(c)}
	rs := &reportStore{}
	h.Outcomes = rs
	st.lead = &lead.Record{Lead: lead.Lead{ID: "L1", Campaign: "auto"}, Status: lead.Sold, Sales: []lead.Sale{{Buyer: "acme", Order: "auto"}}}
	post := func(key, contentType, body string) httpapi.Response {
		r, _ := h.Handle(t.Context(), httpapi.Request{HTTPMethod: "POST", Path: "/v1/outcomes", Body: body,
			Headers: map[string]string{"Content-Type": contentType, "X-API-Key": key}})
		return r
	}
	for _, tc := range []struct {
		name, key, ct, body string
		status              int
		want                string
	}{
		{"no key", "", "application/json", `{"lead_id":"L1","event":"converted"}`, 401, "unauthorized"},
		{"a source's key", "test-source-key", "application/json", `{"lead_id":"L1","event":"converted"}`, 401, "unauthorized"},
		{"another buyer's lead", "key-rival", "application/json", `{"lead_id":"L1","event":"converted"}`, 404, "lead_not_found"},
		{"form", "key-acme", "application/x-www-form-urlencoded", `lead_id=L1`, 415, "unsupported_media_type"},
		{"not JSON", "key-acme", "application/json", `{`, 400, "invalid_json"},
		{"an array", "key-acme", "application/json", `[]`, 400, "invalid_json"},
		{"trailing", "key-acme", "application/json", `{"lead_id":"L1","event":"converted"} {}`, 400, "invalid_json"},
		{"no event", "key-acme", "application/json", `{"lead_id":"L1"}`, 400, `"field":"event","code":"required"`},
		{"no lead", "key-acme", "application/json", `{"event":"converted"}`, 400, `"field":"lead_id","code":"required"`},
		{"unknown event", "key-acme", "application/json", `{"lead_id":"L1","event":"won"}`, 400, `"field":"event","code":"invalid"`},
		{"event not a string", "key-acme", "application/json", `{"lead_id":"L1","event":3}`, 400, `"field":"event","code":"invalid"`},
		{"negative value", "key-acme", "application/json", `{"lead_id":"L1","event":"converted","value":-5}`, 400, `"field":"value"`},
		{"value as text", "key-acme", "application/json", `{"lead_id":"L1","event":"converted","value":"5"}`, 400, `"field":"value"`},
		{"too precise", "key-acme", "application/json", `{"lead_id":"L1","event":"converted","value":1.00001}`, 400, `"field":"value"`},
		{"unknown property", "key-acme", "application/json", `{"lead_id":"L1","event":"converted","status":"sold"}`, 400, `"field":"status","code":"unknown"`},
		{"long id", "key-acme", "application/json", `{"lead_id":"` + strings.Repeat("x", 129) + `","event":"converted"}`, 400, `"code":"too_long"`},
		{"recorded", "key-acme", "application/json", `{"lead_id":"L1","event":"converted","value":1200.50}`, 202, `"status":"recorded"`},
	} {
		r := post(tc.key, tc.ct, tc.body)
		if r.StatusCode != tc.status || !strings.Contains(r.Body, tc.want) {
			t.Errorf("%s: %d %s; want %d with %s", tc.name, r.StatusCode, r.Body, tc.status, tc.want)
		}
	}
	if len(rs.reports) != 1 {
		t.Fatalf("recorded %d reports, want only the valid one", len(rs.reports))
	}
	if r := rs.reports[0]; r.Buyer != "acme" || r.Event != lead.ReportConverted || r.Value != 120050 || r.At.IsZero() {
		t.Fatalf("report %+v", r)
	}
	if ev := rs.events[0]; ev.Type != lead.EventReported || ev.Buyer != "acme" || !strings.Contains(ev.Detail, "converted (value 1200.5)") {
		t.Fatalf("event %+v", ev)
	}
}
