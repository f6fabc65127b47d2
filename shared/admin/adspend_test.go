package admin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/adspend"
	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/store"
)

const spendYAML = `
timezone: America/New_York
campaigns:
  - id: auto
    fields: {phone: {type: phone}}
  - id: solar
    fields: {phone: {type: phone}}
sources:
  - {id: fb, campaigns: [auto, solar], api_key_sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}
  - {id: gads, campaigns: [solar], api_key_sha256: "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"}
buyers: []
integrations:
  spend:
    - platform: meta
      account_id: act_1
      access_token: "ssm:/leadrelay/meta/ads"
      level: ad
      map:
        "11": {source: fb, campaign: auto}
        "12": {source: fb, campaign: auto}
        "13": {source: fb, campaign: solar}
    - platform: meta
      account_id: act_2
      access_token: "ssm:/leadrelay/meta/ads2"
      map:
        "21": {source: fb, campaign: auto}
    - platform: google
      account_id: "1234567890"
      access_token: "ssm:/leadrelay/google/token"
      developer_token: "ssm:/leadrelay/google/dev"
      map:
        "777": {source: gads, campaign: solar}
`

// platforms answers each account's rows, or its error.
type platforms struct {
	rows  map[string][]adspend.Row
	fail  map[string]error
	asked []string
}

func (p *platforms) Spend(_ context.Context, a *config.SpendAccount, since, until string) ([]adspend.Row, error) {
	p.asked = append(p.asked, a.Name()+" "+since+".."+until)
	if err := p.fail[a.Name()]; err != nil {
		return nil, err
	}
	return p.rows[a.Name()], nil
}

// spendLedger keeps what SetSpend was given.
type spendLedger struct {
	Ledger
	set [][]store.Spend
}

func (l *spendLedger) SetSpend(_ context.Context, s []store.Spend) ([]string, error) {
	l.set = append(l.set, s)
	return nil, nil
}

func spendFixture(t *testing.T, p *platforms) (*Handler, *spendLedger, *bytes.Buffer) {
	t.Helper()
	c, err := config.Parse([]byte(spendYAML))
	if err != nil {
		t.Fatal(err)
	}
	lg, logs := &spendLedger{}, &bytes.Buffer{}
	// 03:00 UTC is still the 2nd in New York: the days are the 1st and the 2nd.
	now := time.Date(2026, 12, 3, 3, 0, 0, 0, time.UTC)
	h := &Handler{Store: &configStore{cfg: c}, Ledger: lg, AdSpend: p, Now: func() time.Time { return now },
		Log: slog.New(slog.NewJSONHandler(logs, nil))}
	return h, lg, logs
}

func shownSpends(s []store.Spend) string {
	var out []string
	for _, x := range s {
		out = append(out, fmt.Sprintf("%s/%s/%s/%s=%s", x.Origin, x.Source, x.Campaign, x.Day, x.Amount.Decimal()))
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// Rows are mapped through each account's map, summed per origin, source,
// campaign and day across ids and accounts; a mapped target without rows
// is set to 0 (the day's figure is what the platform says now); unmapped
// ids are skipped and logged once; days outside the import's are not set.
func TestImportSpendMapsAndSums(t *testing.T) {
	p := &platforms{rows: map[string][]adspend.Row{
		"meta:act_1": {
			{Day: "2026-12-01", ID: "11", Amount: 1000}, {Day: "2026-12-01", ID: "12", Amount: 250},
			{Day: "2026-12-02", ID: "11", Amount: 5}, {Day: "2026-12-02", ID: "99", Amount: 7}, {Day: "2026-12-01", ID: "99", Amount: 3},
			{Day: "2026-11-30", ID: "11", Amount: 100},
		},
		"meta:act_2":        {{Day: "2026-12-01", ID: "21", Amount: 1}},
		"google:1234567890": {{Day: "2026-12-02", ID: "777", Amount: 124}},
	}}
	h, lg, logs := spendFixture(t, p)
	if err := h.RunTask(t.Context(), Task{Task: TaskSpend}); err != nil {
		t.Fatal(err)
	}
	wantAsked := []string{"meta:act_1 2026-12-01..2026-12-02", "meta:act_2 2026-12-01..2026-12-02", "google:1234567890 2026-12-01..2026-12-02"}
	if !slices.Equal(p.asked, wantAsked) {
		t.Errorf("asked %v, want %v", p.asked, wantAsked)
	}
	if len(lg.set) != 1 {
		t.Fatalf("SetSpend called %d times", len(lg.set))
	}
	want := "google/gads/solar/2026-12-01=0 google/gads/solar/2026-12-02=1.24 " +
		"meta/fb/auto/2026-12-01=12.51 meta/fb/auto/2026-12-02=0.05 meta/fb/solar/2026-12-01=0 meta/fb/solar/2026-12-02=0"
	if got := shownSpends(lg.set[0]); got != want {
		t.Errorf("set\n%s\nwant\n%s", got, want)
	}
	if n := strings.Count(logs.String(), "not mapped"); n != 1 || !strings.Contains(logs.String(), `"id":"99"`) {
		t.Errorf("unmapped id logged %d times: %s", n, logs)
	}
}

// One account failing is reported and leaves alone the figures it
// contributes to; the other accounts are imported.
func TestImportSpendAccountFailure(t *testing.T) {
	p := &platforms{
		rows: map[string][]adspend.Row{
			"meta:act_1":        {{Day: "2026-12-01", ID: "11", Amount: 1000}, {Day: "2026-12-01", ID: "13", Amount: 40}},
			"google:1234567890": {{Day: "2026-12-01", ID: "777", Amount: 9}},
		},
		fail: map[string]error{"meta:act_2": errors.New("Meta: 400: Invalid OAuth access token")},
	}
	h, lg, _ := spendFixture(t, p)
	err := h.RunTask(t.Context(), Task{Task: TaskSpend})
	if err == nil || !strings.Contains(err.Error(), "meta:act_2") || !strings.Contains(err.Error(), "Invalid OAuth") {
		t.Fatalf("err %v", err)
	}
	if len(p.asked) != 3 || len(lg.set) != 1 {
		t.Fatalf("asked %v, set %d times", p.asked, len(lg.set))
	}
	// fb/auto is act_2's too: kept as it was, not replaced by act_1's part.
	want := "google/gads/solar/2026-12-01=0.09 google/gads/solar/2026-12-02=0 meta/fb/solar/2026-12-01=0.4 meta/fb/solar/2026-12-02=0"
	if got := shownSpends(lg.set[0]); got != want {
		t.Errorf("set\n%s\nwant\n%s", got, want)
	}
}

// Without accounts the task does nothing.
func TestImportSpendWithoutAccounts(t *testing.T) {
	h, _, _, _ := loopsFixture(t, nil)
	if err := h.RunTask(t.Context(), Task{Task: TaskSpend}); err != nil {
		t.Fatal(err)
	}
}
