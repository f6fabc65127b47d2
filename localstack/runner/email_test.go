package runner

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/leadrelay/leadrelay/localstack/emulator"
	"github.com/leadrelay/leadrelay/shared/settings"
)

// A buyer with email delivery gets the lead through SES; the test reads
// the sent message back from the emulator.
func TestEmailDeliveryThroughSES(t *testing.T) {
	cfg := fmt.Sprintf(`
campaigns:
  - id: legal
    fields:
      phone: {type: phone, required: true}
      case:  {type: string}
sources:
  - id: src
    campaigns: [legal]
    api_key_sha256: %q
buyers:
  - id: firm
    delivery: {type: email, to: "intake@firm.example"}
    orders:
      - {campaign: legal, price: 80.00}
`, sourceHash)
	e := start(t, cfg, nil)
	// Verify the sender as the LocalStack init hook does (SES v1
	// VerifyEmailIdentity: moto checks senders against that list).
	form := url.Values{"Action": {"VerifyEmailIdentity"}, "EmailAddress": {settings.DefaultEmailFrom}, "Version": {"2010-12-01"}}
	req, _ := http.NewRequest("POST", emulator.Endpoint()+"/", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=test/20261124/us-east-1/ses/aws4_request, SignedHeaders=host, Signature=0")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("verify the sender: %v %v", err, resp)
	}
	r := e.doJSON("POST", "/v1/leads", map[string]any{"campaign": "legal", "fields": map[string]any{"phone": phone(77), "case": "slip and fall\nBcc: x@evil.example"}})
	id := r.Body["lead_id"].(string)
	if st := e.waitStatus(id); st != "sold" {
		rec, _ := e.r.App.Store.GetLead(context.Background(), id, true)
		t.Fatalf("status %s: %+v", st, rec.Events)
	}
	resp, err := http.Get(emulator.Endpoint() + "/moto-api/data.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Skipf("the emulator does not expose sent emails (%d): not moto", resp.StatusCode)
	}
	data := string(raw)
	if !strings.Contains(data, "New lead legal "+id) || !strings.Contains(data, "intake@firm.example") || !strings.Contains(data, "case: slip and fall Bcc: x@evil.example") {
		t.Fatalf("no such email among the emulator's sent messages (%d bytes)", len(raw))
	}
}
