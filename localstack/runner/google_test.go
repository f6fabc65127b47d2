package runner

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// googleKeyHash is sha256("g00gle-form-key") (sha256sum, not the code).
const googleKeyHash = "581a48f9fe5bcdcb97cdd1cd4bfe4cb421da3f02dd8011815d22db9e63193e6a"

func googleYAML(buyerURL string) string {
	return campaignYAML(buyerURL, "daily: 100") + fmt.Sprintf(`
integrations:
  google:
    forms:
      - form_id: "40000000000"
        google_key_sha256: %q
        source: src
        campaign: auto
        columns: {PHONE_NUMBER: phone, EMAIL: email, REGION: state}
`, googleKeyHash)
}

func googleLead(leadID, phone string, test bool) string {
	return fmt.Sprintf(`{"lead_id":%q,"api_version":"1.0","form_id":40000000000,"campaign_id":1,"google_key":"g00gle-form-key","is_test":%t,
"user_column_data":[{"column_name":"User Phone","string_value":%q,"column_id":"PHONE_NUMBER"},
{"column_name":"Region","string_value":"CA","column_id":"REGION"},{"column_name":"Full Name","string_value":"Ada","column_id":"FULL_NAME"}]}`,
		leadID, test, phone)
}

// A Google Ads lead form's lead is ingested as its form's source and sold;
// Google's retry of the same lead_id is the same lead; a test lead runs
// in test mode; a wrong google_key is 403 and writes nothing.
func TestGoogleLeadFormWebhook(t *testing.T) {
	b := newBuyer(t)
	e := start(t, googleYAML(b.srv.URL), nil)
	hook := func(body string) response {
		return e.do("POST", "/v1/integrations/google/webhook", "application/json", body, nil)
	}
	r := hook(googleLead("g-1", phone(800), false))
	if r.Status != http.StatusOK || r.Body["status"] != "accepted" {
		t.Fatalf("lead: %d %v", r.Status, r.Body)
	}
	id := r.Body["lead_id"].(string)
	if st := e.waitStatus(id); st != "sold" {
		t.Fatalf("status %s", st)
	}
	lead := e.adminLead(id)
	if lead["external_id"] != "google:g-1" || lead["source"] != "src" || lead["fields"].(map[string]any)["phone"] != phone(800) {
		t.Fatalf("lead %v", lead)
	}
	before := e.itemCount()
	// Google retries: the same lead.
	if r := hook(googleLead("g-1", phone(800), false)); r.Status != http.StatusOK || r.Body["lead_id"] != id {
		t.Fatalf("again: %d %v", r.Status, r.Body)
	}
	// A wrong key: 403, nothing written.
	if r := hook(strings.Replace(googleLead("g-2", phone(801), false), "g00gle-form-key", "guess", 1)); r.Status != http.StatusForbidden {
		t.Fatalf("wrong key: %d %v", r.Status, r.Body)
	}
	if after := e.itemCount(); after != before {
		t.Fatalf("a retry and a refusal wrote %d item(s)", after-before)
	}
	// Google's "send test data": a test lead.
	r = hook(googleLead("g-test", phone(802), true))
	if r.Status != http.StatusOK {
		t.Fatalf("test lead: %d %v", r.Status, r.Body)
	}
	testID := r.Body["lead_id"].(string)
	deadline := time.Now().Add(20 * time.Second)
	for e.adminLead(testID)["status"] != "test" && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if l := e.adminLead(testID); l["test"] != true || l["status"] != "test" {
		t.Fatalf("test lead %v", l)
	}
	if len(b.received()) != 1 {
		t.Fatalf("the buyer got %d leads, want 1 (a test lead is sold to nobody)", len(b.received()))
	}
}
