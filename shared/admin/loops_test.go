package admin

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/feedback"
	"github.com/leadrelay/leadrelay/shared/store"
)

// configStore keeps one configuration and the audit records of its changes.
type configStore struct {
	Store
	cfg   *config.Config
	audit []store.AuditRecord
}

func (s *configStore) LoadConfig(context.Context) (*config.Config, error) { return s.cfg.Clone(), nil }

func (s *configStore) ApplyConfig(_ context.Context, base, next *config.Config, rec store.AuditRecord) (int64, bool, error) {
	if base.Version != s.cfg.Version {
		return s.cfg.Version, false, store.ErrVersionConflict
	}
	next.Version = base.Version + 1
	s.cfg = next.Clone()
	s.audit = append(s.audit, rec)
	return next.Version, true, nil
}

// ledger answers the day aggregates it holds, for the days asked.
type ledger struct {
	Ledger
	rows  []store.LedgerRow
	asked []string
}

func (l *ledger) LedgerDays(_ context.Context, days []string) ([]store.LedgerRow, error) {
	l.asked = days
	var out []store.LedgerRow
	for _, r := range l.rows {
		for _, d := range days {
			if r.Day == d {
				out = append(out, r)
			}
		}
	}
	return out, nil
}

type slackSpy struct{ said []string }

func (s *slackSpy) Post(_ context.Context, url, text string) error {
	s.said = append(s.said, url+" "+text)
	return nil
}

type plainKeeper struct{}

func (plainKeeper) Seal(_ context.Context, s string) (string, error) { return s, nil }
func (plainKeeper) Open(_ context.Context, s string) (string, error) { return s, nil }

const loopsYAML = `
feedback:
  sources: {window: 72h, min_sold: 10, max_return_rate: 0.25, max_fraud_rate: 0.1, sub_ids: true}
  orders: {window: 24h, min_offers: 10, min_acceptance: 0.3}
  slack_url: https://hooks.slack.example/T/B/x
campaigns:
  - id: auto
    fields: {phone: {type: phone}}
sources:
  - {id: fb, campaigns: [auto], api_key_sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}
  - {id: exempt, campaigns: [auto], api_key_sha256: "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752", feedback_exempt: true}
buyers:
  - id: acme
    delivery: {type: webhook, url: "https://acme.example/leads"}
    orders:
      - {campaign: auto, price: 20.00, priority: 1, weight: 4}
`

func loopsFixture(t *testing.T, rows []store.LedgerRow) (*Handler, *configStore, *ledger, *slackSpy) {
	t.Helper()
	c, err := config.Parse([]byte(loopsYAML))
	if err != nil {
		t.Fatal(err)
	}
	c.Version = 1
	st, lg, sl := &configStore{cfg: c}, &ledger{rows: rows}, &slackSpy{}
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	h := &Handler{Store: st, Ledger: lg, Slack: sl, Secrets: plainKeeper{}, Now: func() time.Time { return now },
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	return h, st, lg, sl
}

func row(day, dim, id string, counts map[string]int64) store.LedgerRow {
	return store.LedgerRow{Day: day, Dimension: dim, ID: id, Counts: counts}
}

// The loops read the window's days from the ledger, pause a bad sub-id
// and demote an order that refuses its offers, as one configuration
// change by the loop's actor, told to Slack; run again, they do nothing
// more; once the figures recover they put things back.
func TestLoopsPauseDemoteAndRestore(t *testing.T) {
	rows := []store.LedgerRow{
		row("2026-11-29", store.DimSubID, "fb/aff-7", map[string]int64{"sales": 100, "returned": 90}), // outside 72h
		row("2026-11-30", store.DimSubID, "fb/aff-7", map[string]int64{"sales": 10, "returned": 4}),
		row("2026-12-01", store.DimSubID, "fb/aff-7", map[string]int64{"sales": 10, "returned": 2, "returned_fraud": 1}),
		row("2026-12-01", store.DimSubID, "fb/aff-8", map[string]int64{"sales": 20, "returned": 1}),
		row("2026-12-01", store.DimSubID, "exempt/x", map[string]int64{"sales": 20, "returned": 20}),
		row("2026-12-02", store.DimOrder, "acme/auto", map[string]int64{"offered": 20, "sales": 3}),
		row("2026-12-03", store.DimSource, "fb", map[string]int64{"sales": 40, "returned": 7}),
	}
	h, st, lg, sl := loopsFixture(t, rows)
	acts, err := h.RunLoops(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(lg.asked, ","); got != "2026-11-30,2026-12-01,2026-12-02,2026-12-03" {
		t.Fatalf("days read: %s", got)
	}
	if len(acts) != 2 || acts[0].Kind != feedback.PauseSource || acts[0].SubID != "aff-7" || acts[1].Kind != feedback.DemoteOrder {
		t.Fatalf("actions %+v", acts)
	}
	c := st.cfg
	if c.Sources[0].Status != config.StatusActive || strings.Join(c.Sources[0].PausedSubIDs, ",") != "aff-7" {
		t.Fatalf("source %+v", c.Sources[0])
	}
	o := c.Buyers[0].Orders[0]
	if o.Priority != 2 || o.Weight != 2 || o.Demoted == nil || *o.Demoted != (config.Demotion{Priority: 1, Weight: 4}) {
		t.Fatalf("order %+v", o)
	}
	if len(st.audit) != 1 || st.audit[0].Actor != LoopActor || len(st.audit[0].Changes) == 0 {
		t.Fatalf("audit %+v", st.audit)
	}
	if len(sl.said) != 1 || !strings.HasPrefix(sl.said[0], "https://hooks.slack.example/T/B/x ") ||
		!strings.Contains(sl.said[0], "sub-id aff-7 of source fb paused: return rate 30% over 3d") || !strings.Contains(sl.said[0], "order acme/auto demoted") {
		t.Fatalf("Slack: %q", sl.said)
	}

	// Again: nothing new.
	if acts, err := h.RunLoops(t.Context()); err != nil || len(acts) != 0 || len(st.audit) != 1 {
		t.Fatalf("again: %v %+v", err, acts)
	}

	// The figures recover: both put back, the order as it was.
	lg.rows = []store.LedgerRow{
		row("2026-12-02", store.DimSubID, "fb/aff-7", map[string]int64{"sales": 30, "returned": 1}),
		row("2026-12-02", store.DimOrder, "acme/auto", map[string]int64{"offered": 20, "sales": 15}),
	}
	acts, err = h.RunLoops(t.Context())
	if err != nil || len(acts) != 2 || acts[0].Kind != feedback.RestoreSource || acts[1].Kind != feedback.RestoreOrder {
		t.Fatalf("restore: %v %+v", err, acts)
	}
	c = st.cfg
	if len(c.Sources[0].PausedSubIDs) != 0 || c.Buyers[0].Orders[0].Priority != 1 || c.Buyers[0].Orders[0].Weight != 4 || c.Buyers[0].Orders[0].Demoted != nil {
		t.Fatalf("restored: %+v %+v", c.Sources[0], c.Buyers[0].Orders[0])
	}
}

// A source an operator paused is the operator's: the loop neither pauses
// it again nor restores it; without loops, nothing is read.
func TestLoopsLeaveOperatorsAlone(t *testing.T) {
	h, st, lg, _ := loopsFixture(t, nil)
	st.cfg.Sources[0].Status = config.StatusPaused
	if exempt(st.cfg, feedback.Action{Kind: feedback.RestoreSource, Source: "fb"}) != true {
		t.Fatal("an operator's pause is not the loop's to lift")
	}
	if exempt(st.cfg, feedback.Action{Kind: feedback.PauseSource, Source: "exempt"}) != true {
		t.Fatal("feedback_exempt")
	}
	if exempt(st.cfg, feedback.Action{Kind: feedback.DemoteOrder, Buyer: "acme", Order: "gone"}) != true {
		t.Fatal("an order that is gone")
	}
	st.cfg.Feedback = config.Feedback{}
	if acts, err := h.RunLoops(t.Context()); err != nil || acts != nil || lg.asked != nil {
		t.Fatalf("no loops: %v %+v, read %v", err, acts, lg.asked)
	}
}

// The scheduled tasks: an unknown one is an error.
func TestRunTask(t *testing.T) {
	h, _, _, _ := loopsFixture(t, nil)
	if err := h.RunTask(t.Context(), Task{Task: "dance"}); err == nil || !strings.Contains(err.Error(), "dance") {
		t.Fatalf("unknown task: %v", err)
	}
	if err := h.RunTask(t.Context(), Task{Task: TaskFeedback}); err != nil {
		t.Fatal(err)
	}
}
