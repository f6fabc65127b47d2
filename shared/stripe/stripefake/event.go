package stripefake

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// objectType is the "object" of the object of an event of type typ,
// or "" if unknown.
func objectType(typ string) string {
	i := strings.LastIndexByte(typ, '.')
	if i <= 0 {
		return ""
	}
	switch prefix := typ[:i]; prefix {
	case "checkout.session", "payment_intent", "invoice", "customer", "charge":
		return prefix
	}
	return ""
}

// Event builds a Stripe event of type typ about object, created at
// created, with the given ID, as Stripe sends it to a webhook endpoint.
// object is marshalled to JSON (json.RawMessage and []byte are taken as
// JSON already); when it has no "object" field, one is added from the
// event type (checkout.session.completed gives "checkout.session"). It
// panics if object is not a JSON object: it is a test helper.
func Event(id string, created time.Time, typ string, object any) []byte {
	var raw []byte
	switch o := object.(type) {
	case json.RawMessage:
		raw = o
	case []byte:
		raw = o
	default:
		var err error
		if raw, err = json.Marshal(object); err != nil {
			panic(fmt.Sprintf("stripefake: marshal event object: %v", err))
		}
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		panic(fmt.Sprintf("stripefake: event object is not a JSON object: %s", raw))
	}
	if _, ok := fields["object"]; !ok {
		if ot := objectType(typ); ot != "" {
			fields["object"], _ = json.Marshal(ot)
		}
	}
	payload, err := json.Marshal(map[string]any{
		"id":               id,
		"object":           "event",
		"api_version":      "2025-03-31.basil",
		"created":          created.Unix(),
		"livemode":         false,
		"pending_webhooks": 1,
		"request":          map[string]any{"id": nil, "idempotency_key": nil},
		"type":             typ,
		"data":             map[string]any{"object": fields},
	})
	if err != nil {
		panic(fmt.Sprintf("stripefake: marshal event: %v", err))
	}
	return payload
}

// Sign is the Stripe-Signature header Stripe would send with payload at
// now: "t=<unix>,v1=<hex HMAC-SHA256 of "<unix>.<payload>" keyed with the
// endpoint secret's bytes>". It is written apart from package stripe's
// verifier on purpose: it stands in for Stripe.
func Sign(secret string, now time.Time, payload []byte) string {
	ts := strconv.FormatInt(now.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	io.WriteString(m, ts+".")
	m.Write(payload)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// SignedEvent builds an event of type typ about object with a new random
// ID (see Event) and signs it for the endpoint secret at now. Deliver the
// same payload and header twice to test a redelivery.
func SignedEvent(secret string, now time.Time, typ string, object any) (payload []byte, header string) {
	payload = Event("evt_fake_"+randomHex(12), now, typ, object)
	return payload, Sign(secret, now, payload)
}

// Deliver posts a signed event to a webhook endpoint as Stripe does, and
// returns the endpoint's status and body.
func Deliver(ctx context.Context, url string, payload []byte, header string) (status int, body []byte, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return 0, nil, fmt.Errorf("stripefake: deliver: %w", err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
	req.Header.Set("Stripe-Signature", header)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("stripefake: deliver: %w", err)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, body, fmt.Errorf("stripefake: deliver: read answer: %w", err)
	}
	return resp.StatusCode, body, nil
}
