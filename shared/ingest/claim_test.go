package ingest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/leadrelay/leadrelay/shared/httpapi"
)

// The ping secret is asked for only when a lead claims a ping: a lead
// without one is accepted whatever the secret's state, a claim is answered
// 503 (nothing written) while the secret cannot be read, and checked once
// it can.
func TestThePingSecretIsReadOnlyForAClaim(t *testing.T) {
	h, st, _, _ := postFixture(t)
	asked := 0
	var secretErr error
	h.PingSecret = func(context.Context) ([]byte, error) {
		asked++
		if secretErr != nil {
			return nil, secretErr
		}
		return []byte("0123456789abcdef0123456789abcdef"), nil
	}
	if r := postLead(t, h, nil); r.StatusCode != 202 || asked != 0 {
		t.Fatalf("a lead without a ping_id: %d %s, secret asked %d times", r.StatusCode, r.Body, asked)
	}
	claim := func() httpapi.Response {
		t.Helper()
		body := strings.Replace(benchLead, `"external_id":"fb-1"`, `"external_id":"fb-2","ping_id":"not-a-ping"`, 1)
		r, err := h.Handle(t.Context(), httpapi.Request{HTTPMethod: "POST", Path: "/v1/leads", Body: body,
			Headers: map[string]string{"Content-Type": "application/json", "X-API-Key": "test-source-key"}})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	secretErr = errors.New("SSM is down")
	if r := claim(); r.StatusCode != 503 || errorCode(t, r) != "unavailable" || asked != 1 || len(st.put) != 1 {
		t.Fatalf("a claim without a secret: %d %s, asked %d, writes %d", r.StatusCode, r.Body, asked, len(st.put))
	}
	secretErr = nil
	if r := claim(); r.StatusCode != 401 || errorCode(t, r) != "invalid_ping" || asked != 2 || len(st.put) != 1 {
		t.Fatalf("a forged claim: %d %s, asked %d, writes %d", r.StatusCode, r.Body, asked, len(st.put))
	}
}
