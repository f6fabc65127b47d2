package admin

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/breaker"
	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/store"
)

const healthYAML = `
timezone: America/New_York
campaigns:
  - id: auto
    fields: {phone: {type: phone, required: true}}
  - id: solar
    fields: {phone: {type: phone, required: true}}
sources:
  - id: fb
    campaigns: [auto, solar]
    api_key_sha256: "0000000000000000000000000000000000000000000000000000000000000000"
buyers:
  - id: zeta
    timezone: America/Los_Angeles
    delivery: {type: webhook, url: "https://zeta.example/leads"}
    caps: {daily: 500, monthly_budget: 20000}
    orders:
      - {campaign: auto, price: 25.00, caps: {hourly: 10, daily: 100, daily_budget: 1000.50}}
      - {id: solar-ca, campaign: solar, price: 40.00, status: paused}
  - id: acme
    status: paused
    delivery: {type: webhook, url: "https://acme.example/leads"}
    orders:
      - {campaign: auto, price: 20.00, caps: {weekly: 50}}
`

// healthStore is the configuration, the breakers and the cap counters,
// counting the reads it is asked for.
type healthStore struct {
	*configStore
	breakers map[string]breaker.State
	caps     map[string]store.CapUse
	asked    []string
	reads    int
}

func (s *healthStore) Breakers(context.Context) (map[string]breaker.State, error) {
	s.reads++
	return s.breakers, nil
}

func (s *healthStore) CapCounts(_ context.Context, keys []string) (map[string]store.CapUse, error) {
	s.reads++
	s.asked = keys
	out := map[string]store.CapUse{}
	for _, k := range keys {
		if u, ok := s.caps[k]; ok {
			out[k] = u
		}
	}
	return out, nil
}

func healthFixture(t *testing.T, rows []store.LedgerRow, breakers map[string]breaker.State, caps map[string]store.CapUse) (*Handler, *healthStore, *ledger) {
	t.Helper()
	c, err := config.Parse([]byte(healthYAML))
	if err != nil {
		t.Fatal(err)
	}
	st := &healthStore{configStore: &configStore{cfg: c}, breakers: breakers, caps: caps}
	lg := &ledger{rows: rows}
	// 15:30 UTC: 10:30 in New York (the agency), 07:30 in Los Angeles
	// (zeta), 15:30 in UTC (acme).
	now := time.Date(2026, 12, 1, 15, 30, 0, 0, time.UTC)
	h := &Handler{Store: st, Ledger: lg, Now: func() time.Time { return now }, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	return h, st, lg
}

func getHealth(t *testing.T, h *Handler, query map[string]string) (int, map[string]any) {
	t.Helper()
	resp, err := h.Handle(t.Context(), httpapi.Request{HTTPMethod: "GET", Path: "/v1/admin/buyers/health", QueryStringParameters: query})
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
		t.Fatalf("answer is not JSON: %s", resp.Body)
	}
	return resp.StatusCode, body
}

func TestBuyersHealth(t *testing.T) {
	rows := []store.LedgerRow{
		row("2026-11-24", store.DimOrder, "zeta/auto", map[string]int64{"offered": 1000, "sales": 1}), // before the window
		row("2026-11-25", store.DimOrder, "zeta/auto", map[string]int64{"offered": 20, "sales": 15, "responses": 15, "response_ms": 3000}),
		row("2026-12-01", store.DimOrder, "zeta/auto", map[string]int64{"offered": 20, "sales": 15, "responses": 17, "response_ms": 4001}),
		row("2026-12-01", store.DimBuyer, "zeta", map[string]int64{"sales": 99}),
		row("2026-12-01", store.DimOrder, "acme/auto", map[string]int64{"responses": 2, "response_ms": 9000}),
	}
	openUntil := time.Date(2026, 12, 1, 15, 35, 0, 0, time.UTC)
	breakers := map[string]breaker.State{
		"acme": {Failures: 5, OpenUntil: openUntil, OpenedBy: "l-1"},
		"zeta": {Failures: 2},
	}
	caps := map[string]store.CapUse{
		"CAP#order:zeta/auto#hour#2026-12-01T07": {N: 3, Amount: 7500},
		"CAP#order:zeta/auto#day#2026-12-01":     {N: 12, Amount: 30000},
		"CAP#order:zeta/auto#day#2026-11-30":     {N: 99, Amount: 99}, // yesterday's bucket
		"CAP#buyer:zeta#day#2026-12-01":          {N: 40, Amount: 100000},
		"CAP#buyer:zeta#month#2026-12":           {N: 40, Amount: 100000},
		"CAP#order:acme/auto#week#2026-W49":      {N: 7, Amount: 14000},
	}
	h, st, lg := healthFixture(t, rows, breakers, caps)
	code, body := getHealth(t, h, nil)
	if code != http.StatusOK {
		t.Fatalf("%d %v", code, body)
	}
	if got := strings.Join(lg.asked, ","); got != "2026-11-25,2026-11-26,2026-11-27,2026-11-28,2026-11-29,2026-11-30,2026-12-01" {
		t.Fatalf("ledger days read: %s", got)
	}
	if st.reads != 2 || len(st.asked) != 5 { // a daily count and budget share one counter
		t.Fatalf("store reads %d, cap keys %v", st.reads, st.asked)
	}
	got, _ := json.Marshal(body)
	want := `{"at":"2026-12-01T15:30:00Z","buyers":[` +
		`{"breaker":{"failures":2,"state":"closed"},"buyer":"zeta",` +
		`"caps":[{"bucket":"2026-12-01","kind":"leads","limit":500,"period":"daily","used":40},` +
		`{"bucket":"2026-12","kind":"budget","limit":20000,"period":"monthly","used":1000}],` +
		`"name":"zeta","orders":[` +
		`{"acceptance":0.75,"avg_response_ms":219,"campaign":"auto",` +
		`"caps":[{"bucket":"2026-12-01T07","kind":"leads","limit":10,"period":"hourly","used":3},` +
		`{"bucket":"2026-12-01","kind":"leads","limit":100,"period":"daily","used":12},` +
		`{"bucket":"2026-12-01","kind":"budget","limit":1000.5,"period":"daily","used":300}],` +
		`"offered":40,"order":"auto","price":25,"responses":32,"sold":30,"status":"active"},` +
		`{"campaign":"solar","caps":[],"offered":0,"order":"solar-ca","price":40,"responses":0,"sold":0,"status":"paused"}],` +
		`"status":"active"},` +
		`{"breaker":{"failures":5,"open_until":"2026-12-01T15:35:00Z","state":"open"},"buyer":"acme","name":"acme","orders":[` +
		`{"avg_response_ms":4500,"campaign":"auto","caps":[{"bucket":"2026-W49","kind":"leads","limit":50,"period":"weekly","used":7}],` +
		`"offered":0,"order":"auto","price":20,"responses":2,"sold":0,"status":"active"}],"status":"paused"}],` +
		`"window_days":7}`
	if string(got) != want {
		t.Fatalf("health:\n got %s\nwant %s", got, want)
	}
}

// A breaker past its cool-down is half-open, and says until when it was
// open; days picks the window.
func TestBuyersHealthHalfOpenAndWindow(t *testing.T) {
	rows := []store.LedgerRow{
		row("2026-11-30", store.DimOrder, "zeta/auto", map[string]int64{"offered": 4, "sales": 1}),
		row("2026-12-01", store.DimOrder, "zeta/auto", map[string]int64{"offered": 3, "sales": 1}),
	}
	past := time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)
	h, _, lg := healthFixture(t, rows, map[string]breaker.State{"zeta": {Failures: 3, OpenUntil: past}}, nil)
	code, body := getHealth(t, h, map[string]string{"days": "1"})
	if code != http.StatusOK {
		t.Fatalf("%d %v", code, body)
	}
	if !slices.Equal(lg.asked, []string{"2026-12-01"}) || body["window_days"] != 1.0 {
		t.Fatalf("window: %v, %v", lg.asked, body["window_days"])
	}
	zeta := body["buyers"].([]any)[0].(map[string]any)
	br := zeta["breaker"].(map[string]any)
	if br["state"] != "half_open" || br["open_until"] != "2026-12-01T15:00:00Z" || br["failures"] != 3.0 {
		t.Fatalf("breaker %v", br)
	}
	auto := zeta["orders"].([]any)[0].(map[string]any)
	if auto["offered"] != 3.0 || auto["sold"] != 1.0 || auto["acceptance"] != 0.3333 {
		t.Fatalf("order %v", auto)
	}
	if _, ok := auto["avg_response_ms"]; ok {
		t.Fatalf("an order without responses has avg_response_ms: %v", auto)
	}
}

func TestBuyersHealthDaysValidation(t *testing.T) {
	h, st, _ := healthFixture(t, nil, nil, nil)
	for _, days := range []string{"0", "32", "-1", "x", "7.5"} {
		code, body := getHealth(t, h, map[string]string{"days": days})
		if code != http.StatusBadRequest {
			t.Fatalf("days=%s: %d %v", days, code, body)
		}
		e := body["error"].(map[string]any)
		f := e["fields"].([]any)[0].(map[string]any)
		if e["code"] != "validation_failed" || f["field"] != "days" || f["code"] != "invalid" {
			t.Fatalf("days=%s: %v", days, body)
		}
	}
	if st.reads != 0 {
		t.Fatalf("a bad query read the store %d times", st.reads)
	}
	for _, days := range []string{"1", "31", " 7 "} {
		if code, body := getHealth(t, h, map[string]string{"days": days}); code != http.StatusOK {
			t.Fatalf("days=%s: %d %v", days, code, body)
		}
	}
}
