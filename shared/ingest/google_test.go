package ingest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/store"
)

// googleKeyHash is sha256("g00gle-form-key"), computed with sha256sum, not
// with the code under test.
const googleKeyHash = "581a48f9fe5bcdcb97cdd1cd4bfe4cb421da3f02dd8011815d22db9e63193e6a"

const googleBody = `{"lead_id":"TeSter-123-ABCDEFGHIJKLMNOPQRSTUVWXYZ","api_version":"1.0","form_id":40000000000,
"campaign_id":12345,"google_key":"g00gle-form-key","is_test":false,"gcl_id":"gcl","adgroup_id":1,"creative_id":2,
"user_column_data":[
 {"column_name":"Full Name","string_value":"Ada Lovelace","column_id":"FULL_NAME"},
 {"column_name":"User Email","string_value":"ada@example.com","column_id":"EMAIL"},
 {"column_name":"User Phone","string_value":"+14158927310","column_id":"PHONE_NUMBER"},
 {"column_name":"Region","string_value":"CA","column_id":"REGION"},
 {"column_name":"What is your budget?","string_value":"huge","column_id":"budget_question"}]}`

func googleFixture(t *testing.T) (*Handler, *recordingStore) {
	t.Helper()
	h, st, _, _ := postFixture(t)
	ix, _ := h.Configs.Get(t.Context())
	c := ix.Config.Clone()
	c.Integrations.Google = &config.Google{Forms: []config.GoogleForm{{
		FormID: "40000000000", KeySHA256: googleKeyHash, Source: "src", Campaign: "auto",
		// Mapped by column_id: the columns' order in the body is Google's.
		Columns: map[string]string{"PHONE_NUMBER": "phone", "EMAIL": "email", "FULL_NAME": "first_name", "REGION": "state"},
	}}}
	h.Configs = fixedConfig{config.NewIndex(c)}
	return h, st
}

func postGoogle(t *testing.T, h *Handler, body string) httpapi.Response {
	t.Helper()
	r, err := h.Handle(t.Context(), httpapi.Request{HTTPMethod: "POST", Path: "/v1/integrations/google/webhook", Body: body,
		Headers: map[string]string{"Content-Type": "application/json"}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A Google Ads lead is mapped by column_id and ingested as the form's
// source, once per lead_id: 200 accepted.
func TestGoogleLeadIsMappedAndIngested(t *testing.T) {
	h, st := googleFixture(t)
	r := postGoogle(t, h, googleBody)
	if r.StatusCode != http.StatusOK || !strings.Contains(r.Body, `"status":"accepted"`) {
		t.Fatalf("%d %s", r.StatusCode, r.Body)
	}
	in := st.put[0]
	f := in.Record.Fields
	if f["phone"] != "+14158927310" || f["email"] != "ada@example.com" || f["first_name"] != "Ada Lovelace" || f["state"] != "CA" || f["budget_question"] != nil {
		t.Fatalf("fields %v", f)
	}
	if in.Record.Source != "src" || in.Record.ExternalID != "google:TeSter-123-ABCDEFGHIJKLMNOPQRSTUVWXYZ" || in.Record.Test ||
		in.Idempotency == nil || in.Idempotency.Key != "google-lead:TeSter-123-ABCDEFGHIJKLMNOPQRSTUVWXYZ" {
		t.Fatalf("record %+v, idempotency %+v", in.Record.Lead, in.Idempotency)
	}

	// The same lead_id again: the first answer, 200.
	st.err = &store.ReplayError{LeadID: "L1", Response: []byte(`{"lead_id":"L1","status":"accepted"}`)}
	st.lead = in.Record
	if r := postGoogle(t, h, googleBody); r.StatusCode != http.StatusOK || !strings.Contains(r.Body, `"lead_id":"L1"`) {
		t.Fatalf("again: %d %s", r.StatusCode, r.Body)
	}
	// A duplicate of an earlier lead is known: 200, not a retry.
	st.err = &store.DuplicateError{Field: "phone", Of: "L0"}
	if r := postGoogle(t, h, googleBody); r.StatusCode != http.StatusOK || !strings.Contains(r.Body, `"status":"duplicate"`) {
		t.Fatalf("duplicate: %d %s", r.StatusCode, r.Body)
	}
}

// is_test runs the lead in test mode.
func TestGoogleTestLead(t *testing.T) {
	h, st := googleFixture(t)
	if r := postGoogle(t, h, strings.Replace(googleBody, `"is_test":false`, `"is_test":true`, 1)); r.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", r.StatusCode, r.Body)
	}
	if !st.put[0].Record.Test {
		t.Fatal("a Google test lead is not a test lead")
	}
}

// A wrong google_key or an unknown form is 403, and nothing is written;
// bad input is 400 with its field.
func TestGoogleRefusals(t *testing.T) {
	h, st := googleFixture(t)
	for _, tc := range []struct {
		name, body string
		status     int
		want       string
	}{
		{"wrong key", strings.Replace(googleBody, "g00gle-form-key", "g00gle-form-kez", 1), 403, "forbidden"},
		{"no key", strings.Replace(googleBody, `"google_key":"g00gle-form-key",`, "", 1), 403, "forbidden"},
		{"unknown form", strings.Replace(googleBody, "40000000000", "40000000001", 1), 403, "forbidden"},
		{"not JSON", `{"lead_id":`, 400, "invalid_json"},
		{"no lead_id", strings.Replace(googleBody, `"lead_id":"TeSter-123-ABCDEFGHIJKLMNOPQRSTUVWXYZ",`, "", 1), 400, `"field":"lead_id"`},
		{"a field the campaign refuses", strings.Replace(googleBody, `"string_value":"CA"`, `"string_value":"Narnia"`, 1), 400, `"field":"state"`},
	} {
		r := postGoogle(t, h, tc.body)
		if r.StatusCode != tc.status || !strings.Contains(r.Body, tc.want) {
			t.Errorf("%s: %d %s; want %d %s", tc.name, r.StatusCode, r.Body, tc.status, tc.want)
		}
	}
	if len(st.put) != 0 {
		t.Fatalf("refused leads were written: %d", len(st.put))
	}
	var body map[string]any
	_ = json.Unmarshal([]byte(postGoogle(t, h, strings.Replace(googleBody, "g00gle-form-key", "x", 1)).Body), &body)
	if strings.Contains(body["error"].(map[string]any)["message"].(string), "40000000000") {
		t.Fatal("the refusal names the form")
	}
}

// The form's configuration is checked: its key, source, campaign and the
// fields its columns fill.
func TestGoogleFormConfig(t *testing.T) {
	base := `
campaigns:
  - id: auto
    fields: {phone: {type: phone, required: true}}
sources:
  - {id: g, campaigns: [auto], api_key_sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}
buyers: []
integrations:
  google:
    forms:
      - {form_id: "1", google_key_sha256: "` + googleKeyHash + `", source: g, campaign: auto, columns: {PHONE_NUMBER: phone}}
`
	if _, err := config.Parse([]byte(base)); err != nil {
		t.Fatal(err)
	}
	for old, field := range map[string]string{
		"source: g,":           "integrations.google.forms[0].source",
		"campaign: auto,":      "integrations.google.forms[0].campaign",
		"PHONE_NUMBER: phone}": "integrations.google.forms[0].columns.PHONE_NUMBER",
		googleKeyHash:          "integrations.google.forms[0].google_key_sha256",
	} {
		doc := strings.Replace(base, old, map[string]string{"source: g,": "source: nope,", "campaign: auto,": "campaign: nope,",
			"PHONE_NUMBER: phone}": "PHONE_NUMBER: mobile}", googleKeyHash: "abc"}[old], 1)
		_, err := config.Parse([]byte(doc))
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: %v, want a problem at %s", old, err, field)
		}
	}
}
