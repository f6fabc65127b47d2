package ingest

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/queue"
	"github.com/leadrelay/leadrelay/shared/store"
)

// nopStore answers the calls of a valid lead's path; the rest of Store is
// left unimplemented (nil) on purpose.
type nopStore struct{ Store }

func (nopStore) PutLead(context.Context, store.NewLead) error { return nil }
func (nopStore) GetLead(context.Context, string, bool) (*lead.Record, error) {
	return nil, store.ErrNotFound
}

type nopQueue struct{}

func (nopQueue) Route(context.Context, queue.Route) error { return nil }

type fixedConfig struct{ ix *config.Index }

func (f fixedConfig) Get(context.Context) (*config.Index, error) { return f.ix, nil }

const benchConfig = `
campaigns:
  - id: auto
    fields:
      phone:      {type: phone, required: true, pii: true}
      email:      {type: email, pii: true}
      first_name: {type: string, max_length: 50}
      last_name:  {type: string, max_length: 50}
      address:    {type: string}
      city:       {type: string}
      state:      {type: us_state, required: true}
      zip:        {type: zip}
      age:        {type: integer, min: 18, max: 100}
      income:     {type: number, min: 0}
      homeowner:  {type: boolean}
      vehicles:   {type: integer, min: 0, max: 10}
      coverage:   {type: enum, values: [minimum, standard, premium]}
      insured:    {type: boolean}
      credit:     {type: enum, values: [poor, fair, good, excellent]}
    dedupe: {fields: [phone, email], window: 720h}
sources:
  - id: src
    campaigns: [auto]
    api_key_sha256: "1855dc05b1f481bcb91a6a2df592d1719cdc0b9f2e8a1a2e49d06bc8b064e155"
buyers: []
`

const benchLead = `{"campaign":"auto","external_id":"fb-1","fields":{"phone":"(415) 892-7310","email":"Ada@Example.com",
"first_name":"Ada","last_name":"Lovelace","address":"1 Main St","city":"San Francisco","state":"california","zip":"94103",
"age":34,"income":85000.5,"homeowner":"yes","vehicles":2,"coverage":"Standard","insured":true,"credit":"good"}}`

// BenchmarkPostLead is the ingest handler's own work for a valid 15-field
// JSON lead: authentication, parsing, validation and normalisation, the
// record and its dedupe keys (the store and queue are no-ops).
func BenchmarkPostLead(b *testing.B) {
	cfg, err := config.Parse([]byte(benchConfig))
	if err != nil {
		b.Fatal(err)
	}
	h := &Handler{
		Store: nopStore{}, Queue: nopQueue{}, Configs: fixedConfig{config.NewIndex(cfg)},
		Now: time.Now, NewID: func() string { return "01a20f6a-0000-7000-8000-000000000001" },
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	}
	req := httpapi.Request{HTTPMethod: "POST", Path: "/v1/leads", Body: benchLead,
		Headers: map[string]string{"Content-Type": "application/json", "X-API-Key": "test-source-key"}}
	if r, _ := h.Handle(context.Background(), req); r.StatusCode != 202 {
		b.Fatalf("%d %s", r.StatusCode, r.Body)
	}
	b.ReportAllocs()
	for b.Loop() {
		h.Handle(context.Background(), req)
	}
}
