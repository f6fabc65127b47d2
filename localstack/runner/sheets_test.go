package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/leadrelay/leadrelay/localstack/emulator"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/sheets"
	"github.com/leadrelay/leadrelay/shared/sheets/sheetstest"
)

// A buyer whose delivery is a Google Sheet gets each lead it buys as one
// row of its mapped columns, appended RAW (a formula lands as text), as
// the service account whose key is an SSM SecureString on the emulator;
// an append Google applied but never answered is read back on the retry,
// and the lead is sold with still one row.
func TestSheetsDeliveryEndToEnd(t *testing.T) {
	fake := sheetstest.New(t)
	cfg := emulator.Config(t)
	param := "/" + strings.TrimSuffix(emulator.Name("leadrelay/sheets-"), "-") + "/acme"
	if _, err := ssm.NewFromConfig(cfg).PutParameter(context.Background(), &ssm.PutParameterInput{
		Name: aws.String(param), Value: aws.String(fake.KeyJSON), Type: ssmtypes.ParameterTypeSecureString, Overwrite: aws.Bool(true),
	}); err != nil {
		t.Fatal(err)
	}
	doc := fmt.Sprintf(`
campaigns:
  - id: solar
    fields:
      phone: {type: phone, required: true}
      state: {type: us_state, required: true}
      notes: {type: string}
sources:
  - id: src
    campaigns: [solar]
    api_key_sha256: %q
buyers:
  - id: acme
    delivery:
      type: sheets
      spreadsheet_id: %q
      range: "Leads!A1"
      credentials: "ssm:%s"
      timeout: 1s
      max_attempts: 3
      fields:
        - {name: Lead, from: $lead_id}
        - {name: Phone, from: phone, phone: national}
        - {name: State, from: state}
        - {name: Notes, from: notes}
        - {name: Price, from: $price}
    orders:
      - {campaign: solar, price: 30.00}
`, sourceHash, sheetstest.SpreadsheetID, param)
	// Applied through the admin API: a configuration file expands $name
	// from the environment, and $lead_id with it.
	e := start(t, "campaigns: []\n", func(o *Options) {
		o.SheetsURL, o.GoogleTokenURL = fake.SheetsURL, fake.TokenURL
		o.DeliveryJitter = func(time.Duration) time.Duration { return 0 }
		o.ConfigTTL = 100 * time.Millisecond
	})
	if r := e.admin("PUT", "/v1/admin/config", doc); r.Status != 200 {
		t.Fatalf("PUT config: %d %v", r.Status, r.Body)
	}
	time.Sleep(200 * time.Millisecond) // every handler's cached configuration is this one

	// The operators see the reference, never the key.
	r := e.admin("GET", "/v1/admin/config", "")
	if raw, _ := json.Marshal(r.Body); r.Status != 200 || !strings.Contains(string(raw), `"credentials":"ssm:`+param+`"`) || strings.Contains(string(raw), "PRIVATE KEY") {
		t.Fatalf("GET config: %d %s", r.Status, raw)
	}

	formula := `=HYPERLINK("https://evil.example","click")`
	r = e.doJSON("POST", "/v1/leads", map[string]any{"campaign": "solar", "fields": map[string]any{"phone": phone(1), "state": "CA", "notes": formula}})
	first := r.Body["lead_id"].(string)
	if st := e.waitStatus(first); st != "sold" {
		t.Fatalf("status %s: %+v", st, e.events(first))
	}
	want := [][]any{{first, "(415) 892-1001", "CA", formula, json.Number("30")}}
	if rows := fake.Rows("Leads"); !reflect.DeepEqual(rows, want) {
		t.Fatalf("rows %#v, want %#v", rows, want)
	}

	// Google applies the next append and answers after the delivery's
	// timeout: the attempt is unknown, the retry reads the lead-id column
	// back, finds the lead and sells it without a second row.
	fake.Fail("append", sheetstest.Fault{Apply: true, Delay: 2 * time.Second})
	r = e.doJSON("POST", "/v1/leads", map[string]any{"campaign": "solar", "fields": map[string]any{"phone": phone(2), "state": "TX"}})
	second := r.Body["lead_id"].(string)
	if st := e.waitStatus(second); st != "sold" {
		t.Fatalf("status %s: %+v", st, e.events(second))
	}
	rows := fake.Rows("Leads")
	n := 0
	for _, row := range rows {
		if row[0] == second {
			n++
		}
	}
	if n != 1 || len(rows) != 2 || fake.Requests("read") < 1 {
		t.Fatalf("%d rows of the lead (%d reads): %#v", n, fake.Requests("read"), rows)
	}
	var reasons []string
	for _, ev := range e.events(second) {
		if ev.Type == lead.EventAttempt {
			reasons = append(reasons, fmt.Sprint(ev.Data["reason"]))
		}
	}
	if len(reasons) != 2 || reasons[0] != "timeout" || reasons[1] != sheets.ReasonRowFound {
		t.Fatalf("attempts %v", reasons)
	}
	if bad := fake.Refused(); len(bad) > 0 {
		t.Fatalf("the fake refused: %q", bad)
	}
}

// events is a lead's timeline, read from the table.
func (e *env) events(id string) []lead.Event {
	e.t.Helper()
	rec, err := e.r.App.Store.GetLead(context.Background(), id, true)
	if err != nil || rec == nil {
		e.t.Fatalf("get lead %s: %v", id, err)
	}
	return rec.Events
}
