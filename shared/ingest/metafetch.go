package ingest

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/queue"
	"github.com/leadrelay/leadrelay/shared/ratelimit"
	"github.com/leadrelay/leadrelay/shared/webhook"
)

// GraphTimeout bounds one Graph API request when Handler.Graph is nil.
const GraphTimeout = 5 * time.Second

// MetaIdempotencyTTL is how long a leadgen_id is remembered: as long as
// its message may wait in the Meta DLQ (14 days) to be redriven, so that a
// lead notified twice is ingested once even if one notification comes
// back from the DLQ after the other was ingested.
const MetaIdempotencyTTL = 14 * 24 * time.Hour

// metaLeadFields are the fields of a lead asked of the Graph API.
const metaLeadFields = "field_data,created_time,form_id,is_organic"

// maxGraphBody bounds a Graph API answer read.
const maxGraphBody = 1 << 20

// PageTokens resolves a Meta page's access_token, an ssm: reference to an
// SSM SecureString parameter, to the token.
type PageTokens interface {
	Resolve(ctx context.Context, ref string) (string, error)
}

// HandleMeta consumes a batch of the Meta queue, its messages at once:
// each lead is fetched from the Graph API and ingested as its form's
// source (fetchMeta). A message that fails is reported in the answer, and
// SQS hands it over again after the queue's visibility timeout, then moves
// it to the Meta DLQ (limits.MetaMaxReceiveCount): a lead that cannot be
// fetched or ingested waits there for an operator, it is never dropped.
func (h *Handler) HandleMeta(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var (
		mu   sync.Mutex
		resp events.SQSEventResponse
		wg   sync.WaitGroup
	)
	for _, msg := range ev.Records {
		wg.Go(func() {
			err := h.fetchMeta(ctx, msg)
			if err == nil {
				return
			}
			var m queue.Meta
			_ = json.Unmarshal([]byte(msg.Body), &m)
			attrs := []any{"message_id", msg.MessageId, "leadgen_id", m.LeadgenID, "page_id", m.PageID, "form_id", m.FormID,
				"receive_count", queue.ReceiveCount(msg.Attributes), "error", err}
			var ge *graphError
			if errors.As(err, &ge) && ge.Transient() {
				h.Log.WarnContext(ctx, "Meta lead not fetched; SQS retries it", attrs...)
			} else {
				h.Log.ErrorContext(ctx, "Meta lead not ingested; SQS retries it, then moves it to the Meta DLQ for an operator", attrs...)
			}
			mu.Lock()
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: msg.MessageId})
			mu.Unlock()
		})
	}
	wg.Wait()
	return resp, nil
}

// fetchMeta fetches one notified lead from the Graph API with its page's
// token, maps its field_data by the form's fields, and ingests it through
// the path of every lead (checkLead, then accept) as the form's source
// into its campaign, with external_id "meta:<leadgen_id>" under the
// idempotency key "meta-lead:<leadgen_id>": a lead notified twice, or
// handed over again by SQS, is one lead. nil when the lead is ingested or
// known (the same leadgen_id before, a duplicate of an earlier lead, a
// suppressed contact); otherwise the error says why.
func (h *Handler) fetchMeta(ctx context.Context, msg events.SQSMessage) error {
	var m queue.Meta
	err := json.Unmarshal([]byte(msg.Body), &m)
	if err == nil && m.LeadgenID == "" {
		err = errors.New("no leadgen_id")
	}
	if err != nil {
		return fmt.Errorf("a Meta queue message that is not a lead (%.200q): %w", msg.Body, err)
	}
	log := h.Log.With("leadgen_id", m.LeadgenID, "page_id", m.PageID, "form_id", m.FormID)
	ix, err := h.Configs.Get(ctx)
	if err != nil {
		return fmt.Errorf("load configuration: %w", err)
	}
	page := ix.MetaPage(m.PageID)
	if page == nil {
		return fmt.Errorf("page %s is no longer connected (integrations.meta.pages)", m.PageID)
	}
	if h.PageTokens == nil {
		return errors.New("no resolver of Meta page tokens is configured")
	}
	token, err := h.PageTokens.Resolve(ctx, page.AccessToken)
	if err == nil && token == "" {
		err = errors.New("the parameter is empty")
	}
	if err != nil {
		return fmt.Errorf("page %s's access_token: %w", m.PageID, err)
	}
	gl, err := h.graphLead(ctx, m.LeadgenID, token)
	if err != nil {
		return err
	}
	formID := m.FormID
	if formID == "" {
		formID = gl.FormID
	}
	form := ix.MetaForm(m.PageID, formID)
	if form == nil {
		return fmt.Errorf("form %s of page %s is no longer connected", formID, m.PageID)
	}
	src := ix.Source(form.Source)
	if src == nil || src.Status == config.StatusPaused {
		return fmt.Errorf("the form's source %s is paused or gone: resume it, then redrive the Meta DLQ", form.Source)
	}
	if refused := ratelimit.Admit(ctx, h.Limits, h.Log, src.ID, ratelimit.Leads, ix.LeadRate(src)); refused != nil {
		return refusal("the form's source is over its rate", *refused)
	}
	p := posted{
		env:     envelope{Campaign: form.Campaign, ExternalID: "meta:" + m.LeadgenID, Fields: gl.fields(form.Fields)},
		src:     src,
		idemKey: "meta-lead:" + m.LeadgenID,
		idemTTL: MetaIdempotencyTTL,
	}
	p, refused := h.checkLead(ctx, ix, p)
	if refused != nil {
		return refusal("the campaign refuses the lead", *refused)
	}
	r, got := h.accept(ctx, ix, p)
	return metaIngested(ctx, log, r, got)
}

// metaIngested reads ingest's answer to a Meta lead: accepted (the first
// answer again for a leadgen_id seen before), a duplicate of an earlier
// lead (counted as one), or a suppressed contact are done; anything else
// is an error.
func metaIngested(ctx context.Context, log *slog.Logger, r httpapi.Response, got ingested) error {
	switch {
	case got.Lead != "":
		log.InfoContext(ctx, "Meta lead ingested", "lead_id", got.Lead)
		return nil
	case got.DuplicateOf != "":
		log.InfoContext(ctx, "Meta lead duplicates an earlier lead", "duplicate_of", got.DuplicateOf)
		return nil
	case got.Suppressed:
		log.InfoContext(ctx, "Meta lead's contact is on a suppression list; not ingested")
		return nil
	}
	return refusal("ingest refused the lead", r)
}

// refusal is an error for an answer ingest gave a Meta lead: its status,
// code and the fields at fault (their names and codes, not the values).
func refusal(why string, r httpapi.Response) error {
	var b httpapi.ErrorBody
	_ = json.Unmarshal([]byte(r.Body), &b)
	var fields []string
	for _, f := range b.Error.Fields {
		fields = append(fields, f.Field+" "+f.Code)
	}
	if len(fields) > 0 {
		return fmt.Errorf("%s: %d %s (%s)", why, r.StatusCode, b.Error.Code, strings.Join(fields, ", "))
	}
	return fmt.Errorf("%s: %d %s", why, r.StatusCode, b.Error.Code)
}

// graphLeadData is a lead as the Graph API answers it.
type graphLeadData struct {
	ID          string `json:"id"`
	CreatedTime string `json:"created_time"`
	FormID      string `json:"form_id"`
	IsOrganic   bool   `json:"is_organic"`
	FieldData   []struct {
		Name   string   `json:"name"`
		Values []string `json:"values"`
	} `json:"field_data"`
}

// fields maps the lead's answers to campaign fields by the form's
// mapping (field_data name → campaign field), each its first value;
// unmapped answers are left out.
func (g *graphLeadData) fields(mapping map[string]string) map[string]any {
	out := map[string]any{}
	for _, f := range g.FieldData {
		if name, ok := mapping[f.Name]; ok && len(f.Values) > 0 && f.Values[0] != "" {
			out[name] = f.Values[0]
		}
	}
	return out
}

// graphError is a Graph API fetch that failed: no answer, or an error
// answer with Graph's error object.
type graphError struct {
	Status int // 0: no answer
	Code   int
	Type   string
	Msg    string
	Err    error
}

// transientGraphCodes are Graph error codes a retry may clear: unknown
// and temporary errors, and the application, user and page rate limits.
var transientGraphCodes = []int{1, 2, 4, 17, 32, 341, 613}

// Transient reports whether a retry may succeed: no answer, 429, 5xx, or a
// rate limit or temporary error by Graph's code. Otherwise (a bad or
// expired token, a deleted lead, a missing permission) an operator must
// act.
func (e *graphError) Transient() bool {
	return e.Status == 0 || e.Status == http.StatusTooManyRequests || e.Status >= 500 || slices.Contains(transientGraphCodes, e.Code)
}

func (e *graphError) Error() string {
	switch {
	case e.Status == 0:
		return fmt.Sprintf("Graph API: no answer: %v", e.Err)
	case e.Err != nil:
		return fmt.Sprintf("Graph API: %d: %v", e.Status, e.Err)
	}
	return fmt.Sprintf("Graph API: %d: %s (code %d, %s)", e.Status, e.Msg, e.Code, e.Type)
}

func (e *graphError) Unwrap() error { return e.Err }

// graphLead reads a lead from the Graph API with the page's token (and
// its appsecret_proof, which an app that requires it checks). Neither the
// token nor the URL with it is ever logged or put in an error.
func (h *Handler) graphLead(ctx context.Context, leadgenID, token string) (*graphLeadData, error) {
	q := url.Values{"access_token": {token}, "fields": {metaLeadFields}}
	if h.MetaSecret != nil {
		secret, err := h.MetaSecret(ctx)
		if err != nil {
			return nil, fmt.Errorf("read the Meta app secret: %w", err)
		}
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(token))
		q.Set("appsecret_proof", hex.EncodeToString(mac.Sum(nil)))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.GraphURL+"/"+url.PathEscape(leadgenID)+"?"+q.Encode(), nil)
	if err != nil {
		return nil, &graphError{Err: webhook.Redacted(err, false)}
	}
	client := h.Graph
	if client == nil {
		client = &http.Client{Timeout: GraphTimeout}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, &graphError{Err: webhook.Redacted(err, false)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxGraphBody))
	if err != nil {
		return nil, &graphError{Err: webhook.Redacted(err, false)}
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct {
				Message string `json:"message"`
				Type    string `json:"type"`
				Code    int    `json:"code"`
			} `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		// Graph may quote a malformed token back in its message.
		msg := e.Error.Message
		if token != "" {
			msg = strings.ReplaceAll(msg, token, "(token)")
		}
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		return nil, &graphError{Status: resp.StatusCode, Code: e.Error.Code, Type: e.Error.Type, Msg: msg}
	}
	var lead graphLeadData
	if err := json.Unmarshal(body, &lead); err != nil {
		return nil, &graphError{Status: resp.StatusCode, Err: fmt.Errorf("the lead is not JSON: %w", err)}
	}
	return &lead, nil
}
