package ingest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/queue"
)

// Meta Lead Ads: a page's leadgen webhook notifies each new lead by its
// leadgen_id (no answers in it); the webhook checks the notification's
// signature, queues one message per lead on the Meta queue and answers
// 200 at once, and HandleMeta (metafetch.go) fetches each lead from the
// Graph API and ingests it.

// MetaMaxBody is the largest Meta Lead Ads notification taken: Meta
// batches up to 1,000 changes in one.
const MetaMaxBody = 1 << 20

// MetaSignatureHeader carries a notification's signature: "sha256=" and
// the hex HMAC-SHA256 of the raw body under the Meta app's secret.
const MetaSignatureHeader = "X-Hub-Signature-256"

// maxChallenge bounds the hub.challenge echoed back (Meta's is a number).
const maxChallenge = 256

// metaSends is how many messages of one notification are sent at once.
const metaSends = 8

// MetaQueue is what ingest needs of the Meta queue.
type MetaQueue interface {
	Meta(ctx context.Context, m queue.Meta) error
}

func (h *Handler) metaRoutes(m *httpapi.Mux) {
	m.Handle("GET /v1/integrations/meta/webhook", func(ctx context.Context, req httpapi.Request, _ map[string]string) httpapi.Response {
		return h.metaVerify(ctx, req)
	})
	m.Handle("POST /v1/integrations/meta/webhook", func(ctx context.Context, req httpapi.Request, _ map[string]string) httpapi.Response {
		return h.metaNotification(ctx, req)
	})
}

// metaVerify answers the check Meta makes when a webhook subscription is
// set up: hub.mode "subscribe" and the verify token whose SHA-256 is
// configured (compared in constant time) get hub.challenge back as plain
// text; anything else 403.
func (h *Handler) metaVerify(ctx context.Context, req httpapi.Request) httpapi.Response {
	ix, refused := h.index(ctx)
	if refused != nil {
		return *refused
	}
	q := req.QueryStringParameters
	if q["hub.mode"] != "subscribe" || !ix.VerifyTokenMatches(q["hub.verify_token"]) {
		return httpapi.Error(http.StatusForbidden, "forbidden", "hub.mode must be subscribe and hub.verify_token the webhook subscription's verify token")
	}
	challenge := q["hub.challenge"]
	switch {
	case challenge == "":
		return httpapi.Fields(http.StatusBadRequest, "validation_failed", "hub.challenge is required",
			[]httpapi.FieldProblem{{Field: "hub.challenge", Code: "required", Message: "the challenge Meta sends, echoed back"}})
	case len(challenge) > maxChallenge:
		return httpapi.Fields(http.StatusBadRequest, "validation_failed", "hub.challenge is too long",
			[]httpapi.FieldProblem{{Field: "hub.challenge", Code: "too_long", Message: "at most " + strconv.Itoa(maxChallenge) + " characters"}})
	}
	h.Log.InfoContext(ctx, "Meta webhook subscription verified")
	return httpapi.Response{
		StatusCode: http.StatusOK,
		Headers:    map[string]string{"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"},
		Body:       challenge,
	}
}

// metaWebhook is a Meta webhook notification (the parts read; a change's
// value is read only for leadgen changes).
type metaWebhook struct {
	Entry []struct {
		ID      metaID `json:"id"`
		Changes []struct {
			Field string          `json:"field"`
			Value json.RawMessage `json:"value"`
		} `json:"changes"`
	} `json:"entry"`
}

// metaLeadgen is a leadgen change's value.
type metaLeadgen struct {
	LeadgenID   metaID `json:"leadgen_id"`
	PageID      metaID `json:"page_id"`
	FormID      metaID `json:"form_id"`
	CreatedTime metaID `json:"created_time"`
}

// metaID is an id Meta sends as a string or as a number.
type metaID string

// UnmarshalJSON reads a string or a number (kept exactly as written).
func (id *metaID) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*id = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*id = metaID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return errors.New("want a string or a number")
	}
	*id = metaID(n.String())
	return nil
}

// metaAnswer is what Meta is told: the leads queued, and those skipped
// (not a leadgen change of a connected page and form).
type metaAnswer struct {
	Status  string `json:"status"`
	Queued  int    `json:"queued"`
	Skipped int    `json:"skipped"`
}

// metaNotification takes a Meta webhook notification: its signature is
// checked on the raw body before anything is read from it (a missing or
// wrong one is 401 and queues nothing), then each leadgen change of a
// connected page and form is queued for HandleMeta and Meta is answered
// 200. A change of a page or form that is not connected is logged and
// skipped: answering otherwise would only make Meta retry what it cannot
// fix (docs/integrations.md says how to recover such a lead).
func (h *Handler) metaNotification(ctx context.Context, req httpapi.Request) httpapi.Response {
	body, refused := httpapi.BodyWithin(req, MetaMaxBody, "a Meta webhook notification")
	if refused != nil {
		return *refused
	}
	if h.MetaSecret == nil {
		h.Log.ErrorContext(ctx, "Meta notification, and no Meta app secret is configured")
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "Meta Lead Ads is not configured in this deployment")
	}
	secret, err := h.MetaSecret(ctx)
	if err != nil {
		h.Log.ErrorContext(ctx, "read the Meta app secret", "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "the notification cannot be verified now; retry")
	}
	if !validMetaSignature(secret, body, httpapi.Header(req, MetaSignatureHeader)) {
		return httpapi.Fields(http.StatusUnauthorized, "invalid_signature", "the notification's signature does not verify; nothing was queued",
			[]httpapi.FieldProblem{{Field: MetaSignatureHeader, Code: "invalid", Message: "want sha256= and the hex HMAC-SHA256 of the raw body under the Meta app's secret"}})
	}
	var in metaWebhook
	if err := json.Unmarshal(body, &in); err != nil {
		return httpapi.Error(http.StatusBadRequest, "invalid_json", "the body is not a Meta webhook notification: %v", err)
	}
	ix, refused := h.index(ctx)
	if refused != nil {
		return *refused
	}
	var leads []queue.Meta
	seen := map[string]bool{}
	skipped := 0
	for _, e := range in.Entry {
		for _, c := range e.Changes {
			if c.Field != "leadgen" {
				continue
			}
			var v metaLeadgen
			if err := json.Unmarshal(c.Value, &v); err != nil || v.LeadgenID == "" {
				h.Log.WarnContext(ctx, "Meta leadgen change without a leadgen_id; skipped", "page_id", string(e.ID))
				skipped++
				continue
			}
			m := queue.Meta{LeadgenID: string(v.LeadgenID), PageID: string(v.PageID), FormID: string(v.FormID)}
			if m.PageID == "" {
				m.PageID = string(e.ID) // a page's entry is the page
			}
			m.CreatedTime, _ = strconv.ParseInt(string(v.CreatedTime), 10, 64)
			log := h.Log.With("leadgen_id", m.LeadgenID, "page_id", m.PageID, "form_id", m.FormID)
			switch {
			case seen[m.LeadgenID]:
				continue // the same lead twice in one notification
			case ix.MetaPage(m.PageID) == nil:
				log.WarnContext(ctx, "Meta lead of a page that is not connected; skipped (connect it under integrations.meta.pages)")
				skipped++
				continue
			case ix.MetaForm(m.PageID, m.FormID) == nil:
				log.WarnContext(ctx, "Meta lead of a form that is not connected; skipped (add it to its page's forms)")
				skipped++
				continue
			}
			seen[m.LeadgenID] = true
			leads = append(leads, m)
		}
	}
	if err := h.queueMeta(ctx, leads); err != nil {
		// Meta retries the notification; the leads queued already are
		// ingested once (their idempotency key).
		h.Log.ErrorContext(ctx, "queue Meta leads", "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "the notification's leads could not be queued; retry")
	}
	return httpapi.JSON(http.StatusOK, metaAnswer{Status: "ok", Queued: len(leads), Skipped: skipped})
}

// validMetaSignature reports whether header is "sha256=" and the hex
// HMAC-SHA256 of body under secret, compared in constant time.
func validMetaSignature(secret, body []byte, header string) bool {
	sig, ok := strings.CutPrefix(strings.TrimSpace(header), "sha256=")
	if !ok || len(secret) == 0 {
		return false
	}
	got, err := hex.DecodeString(sig)
	if err != nil || len(got) != sha256.Size {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// queueMeta sends the leads to the Meta queue, metaSends at a time; the
// first error is returned once every send has ended.
func (h *Handler) queueMeta(ctx context.Context, leads []queue.Meta) error {
	if len(leads) > 0 && h.MetaQueue == nil {
		return errors.New("no Meta queue is configured")
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		slots = make(chan struct{}, metaSends)
	)
	for _, m := range leads {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			if err := h.MetaQueue.Meta(ctx, m); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return first
}
