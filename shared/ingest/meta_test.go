package ingest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/queue"
	"github.com/leadrelay/leadrelay/shared/store"
)

// The vectors below were computed with openssl and sha256sum, not with
// the code under test:
//
//	printf %s "$metaBody" | openssl dgst -sha256 -hmac meta-app-secret-0123456789abcdef
//	printf %s EAAPageToken123 | openssl dgst -sha256 -hmac meta-app-secret-0123456789abcdef
//	printf %s meta-verify-token | sha256sum
const (
	metaAppSecret     = "meta-app-secret-0123456789abcdef"
	metaBody          = `{"object":"page","entry":[{"id":"1234567890","time":1735689600,"changes":[{"field":"leadgen","value":{"ad_id":"444","form_id":"555000111","leadgen_id":"9000000001","created_time":1735689600,"page_id":"1234567890","adgroup_id":"333"}},{"field":"leadgen","value":{"ad_id":"444","form_id":"555000111","leadgen_id":"9000000002","created_time":1735689601,"page_id":"1234567890","adgroup_id":"333"}}]}]}`
	metaBodySignature = "sha256=f169076d5d2df2751a4f7d1b5bd3d280391f4055d9d670ae5f77917849f731fa"
	metaPageToken     = "EAAPageToken123"
	metaTokenProof    = "27a3baea32775bedbce780074c5e0dec14fd333f71af1005384040e9d637269f"
	metaVerifyHash    = "9f27ea7db11f88dfa8b23793907b882c46c8bfe5fff01f0c5d50ed362310378b"
	metaTokenRef      = "ssm:/leadrelay/meta/page-1234567890"
)

// metaStore is a store that keeps Idempotency-Keys as the table does: a
// key written once answers its first response after (a ReplayError).
type metaStore struct {
	Store
	mu    sync.Mutex
	put   []store.NewLead
	keys  map[string]*store.ReplayError
	leads map[string]*lead.Record
}

func (s *metaStore) PutLead(_ context.Context, in store.NewLead) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if in.Idempotency != nil {
		if r, ok := s.keys[in.Idempotency.Key]; ok {
			return r
		}
		s.keys[in.Idempotency.Key] = &store.ReplayError{LeadID: in.Record.ID, Response: in.Idempotency.Response}
	}
	s.put = append(s.put, in)
	s.leads[in.Record.ID] = in.Record
	return nil
}

func (s *metaStore) GetLead(_ context.Context, id string, _ bool) (*lead.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.leads[id]; ok {
		return r, nil
	}
	return nil, store.ErrNotFound
}

func (s *metaStore) written() []store.NewLead {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]store.NewLead(nil), s.put...)
}

// metaQueues records the Meta and routing messages sent.
type metaQueues struct {
	mu     sync.Mutex
	err    error
	meta   []queue.Meta
	routed []queue.Route
}

func (q *metaQueues) Meta(_ context.Context, m queue.Meta) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return q.err
	}
	q.meta = append(q.meta, m)
	return nil
}

func (q *metaQueues) Route(_ context.Context, m queue.Route) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.routed = append(q.routed, m)
	return nil
}

func (q *metaQueues) queued() []queue.Meta {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]queue.Meta(nil), q.meta...)
}

type pageTokens map[string]string

func (p pageTokens) Resolve(_ context.Context, ref string) (string, error) {
	if v, ok := p[ref]; ok {
		return v, nil
	}
	return "", errors.New("no such parameter")
}

// fakeGraph serves leads by id, and answers status (when set) once per
// request while fail is above 0.
type fakeGraph struct {
	srv      *httptest.Server
	mu       sync.Mutex
	leads    map[string]string
	fail     int
	status   int
	body     string
	requests []*http.Request
}

func newFakeGraph(t *testing.T) *fakeGraph {
	g := &fakeGraph{leads: map[string]string{}}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.requests = append(g.requests, r)
		if g.fail > 0 {
			g.fail--
			w.WriteHeader(g.status)
			fmt.Fprint(w, g.body)
			return
		}
		id := strings.TrimPrefix(r.URL.Path, "/v21.0/")
		body, ok := g.leads[id]
		if !ok || r.URL.Query().Get("access_token") != metaPageToken {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":{"message":"Unsupported get request.","type":"GraphMethodException","code":100}}`)
			return
		}
		fmt.Fprint(w, body)
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *fakeGraph) failNext(n, status int, body string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.fail, g.status, g.body = n, status, body
}

func (g *fakeGraph) asked() []*http.Request {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]*http.Request(nil), g.requests...)
}

func graphLeadJSON(id, phone string) string {
	return fmt.Sprintf(`{"created_time":"2025-01-01T00:00:00+0000","id":%q,"form_id":"555000111","is_organic":false,
"field_data":[{"name":"full_name","values":["Ada Lovelace"]},{"name":"phone_number","values":[%q]},
{"name":"email","values":["ada@example.com"]},{"name":"state","values":["CA"]},{"name":"favourite_colour","values":["blue"]}]}`, id, phone)
}

type metaEnv struct {
	h     *Handler
	st    *metaStore
	q     *metaQueues
	graph *fakeGraph
	logs  *bytes.Buffer
}

func metaFixture(t *testing.T) *metaEnv {
	t.Helper()
	h, _, _, _ := postFixture(t)
	ix, _ := h.Configs.Get(t.Context())
	c := ix.Config.Clone()
	c.Integrations.Meta = &config.Meta{VerifyTokenSHA256: metaVerifyHash, Pages: []config.MetaPage{{
		PageID: "1234567890", AccessToken: metaTokenRef,
		Forms: []config.MetaForm{{FormID: "555000111", Source: "src", Campaign: "auto",
			Fields: map[string]string{"phone_number": "phone", "email": "email", "full_name": "first_name", "state": "state", "zip_code": "zip"}}},
	}}}
	h.Configs = fixedConfig{config.NewIndex(c)}
	e := &metaEnv{
		h: h, st: &metaStore{keys: map[string]*store.ReplayError{}, leads: map[string]*lead.Record{}},
		q: &metaQueues{}, graph: newFakeGraph(t), logs: &bytes.Buffer{},
	}
	var ids atomic.Int32
	h.Store, h.Queue, h.MetaQueue = e.st, e.q, e.q
	h.NewID = func() string { return fmt.Sprintf("L%d", ids.Add(1)) }
	h.Log = slog.New(slog.NewJSONHandler(&syncWriter{w: e.logs}, nil))
	h.MetaSecret = func(context.Context) ([]byte, error) { return []byte(metaAppSecret), nil }
	h.PageTokens = pageTokens{metaTokenRef: metaPageToken}
	h.GraphURL = e.graph.srv.URL + "/v21.0"
	return e
}

// syncWriter serializes the concurrent writes of a batch's logs.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (e *metaEnv) notify(t *testing.T, body, signature string) httpapi.Response {
	t.Helper()
	headers := map[string]string{"Content-Type": "application/json"}
	if signature != "" {
		headers["X-Hub-Signature-256"] = signature
	}
	r, err := e.h.Handle(t.Context(), httpapi.Request{HTTPMethod: "POST", Path: "/v1/integrations/meta/webhook", Body: body, Headers: headers})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// sign signs a body as Meta does (the vectors above hold this to openssl).
func sign(body string) string {
	mac := hmac.New(sha256.New, []byte(metaAppSecret))
	mac.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func metaMessage(id, leadgenID string) events.SQSMessage {
	body, _ := json.Marshal(queue.Meta{LeadgenID: leadgenID, PageID: "1234567890", FormID: "555000111", CreatedTime: 1735689600})
	return events.SQSMessage{MessageId: id, Body: string(body), Attributes: map[string]string{"ApproximateReceiveCount": "1"}}
}

func (e *metaEnv) fetch(t *testing.T, msgs ...events.SQSMessage) []string {
	t.Helper()
	resp, err := e.h.HandleMeta(t.Context(), events.SQSEvent{Records: msgs})
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	return failed
}

// The signature is "sha256=" and the HMAC-SHA256 of the raw body under
// the app secret: openssl's vector verifies, anything else does not.
func TestMetaSignatureVectors(t *testing.T) {
	secret := []byte(metaAppSecret)
	for _, c := range []struct {
		name, body, header string
		secret             []byte
		want               bool
	}{
		{"openssl's vector", metaBody, metaBodySignature, secret, true},
		{"upper-case hex", metaBody, "sha256=" + strings.ToUpper(strings.TrimPrefix(metaBodySignature, "sha256=")), secret, true},
		{"an empty body", "{}", "sha256=929d9658415e51a343cb7e6786bc81fc705d895266d1ba3a5b0cf1c20f848b26", secret, true},
		{"another secret", metaBody, metaBodySignature, []byte("another-secret"), false},
		{"a body changed by a byte", strings.Replace(metaBody, "9000000002", "9000000003", 1), metaBodySignature, secret, false},
		{"a body re-encoded (whitespace)", strings.Replace(metaBody, `"object":"page"`, `"object": "page"`, 1), metaBodySignature, secret, false},
		{"no sha256= prefix", metaBody, strings.TrimPrefix(metaBodySignature, "sha256="), secret, false},
		{"sha1=", metaBody, "sha1=" + strings.TrimPrefix(metaBodySignature, "sha256="), secret, false},
		{"truncated", metaBody, metaBodySignature[:40], secret, false},
		{"not hex", metaBody, "sha256=zz", secret, false},
		{"missing", metaBody, "", secret, false},
		{"no secret", metaBody, metaBodySignature, nil, false},
	} {
		if got := validMetaSignature(c.secret, []byte(c.body), c.header); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// Meta's subscription check: the right mode and verify token get the
// challenge back as plain text; anything else 403.
func TestMetaVerification(t *testing.T) {
	e := metaFixture(t)
	get := func(q map[string]string) httpapi.Response {
		r, err := e.h.Handle(t.Context(), httpapi.Request{HTTPMethod: "GET", Path: "/v1/integrations/meta/webhook", QueryStringParameters: q})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := get(map[string]string{"hub.mode": "subscribe", "hub.verify_token": "meta-verify-token", "hub.challenge": "1158201444"})
	if r.StatusCode != http.StatusOK || r.Body != "1158201444" || !strings.HasPrefix(r.Headers["Content-Type"], "text/plain") {
		t.Fatalf("verification: %d %q %v", r.StatusCode, r.Body, r.Headers)
	}
	for name, q := range map[string]map[string]string{
		"wrong token":   {"hub.mode": "subscribe", "hub.verify_token": "meta-verify-tokem", "hub.challenge": "1"},
		"no token":      {"hub.mode": "subscribe", "hub.challenge": "1"},
		"wrong mode":    {"hub.mode": "unsubscribe", "hub.verify_token": "meta-verify-token", "hub.challenge": "1"},
		"no parameters": nil,
	} {
		if r := get(q); r.StatusCode != http.StatusForbidden || errorCode(t, r) != "forbidden" || strings.Contains(r.Body, `"1"`) {
			t.Errorf("%s: %d %s", name, r.StatusCode, r.Body)
		}
	}
	if r := get(map[string]string{"hub.mode": "subscribe", "hub.verify_token": "meta-verify-token"}); r.StatusCode != http.StatusBadRequest ||
		!strings.Contains(r.Body, `"field":"hub.challenge"`) {
		t.Errorf("no challenge: %d %s", r.StatusCode, r.Body)
	}
	// Without Meta configured, no token verifies.
	h, _, _, _ := postFixture(t)
	r, _ = h.Handle(t.Context(), httpapi.Request{HTTPMethod: "GET", Path: "/v1/integrations/meta/webhook",
		QueryStringParameters: map[string]string{"hub.mode": "subscribe", "hub.verify_token": "meta-verify-token", "hub.challenge": "1"}})
	if r.StatusCode != http.StatusForbidden {
		t.Errorf("without Meta configured: %d %s", r.StatusCode, r.Body)
	}
}

// A signed notification with two leadgen changes queues two messages,
// and answers 200 at once (nothing is fetched yet).
func TestMetaNotificationQueuesEachLead(t *testing.T) {
	e := metaFixture(t)
	r := e.notify(t, metaBody, metaBodySignature)
	if r.StatusCode != http.StatusOK || !strings.Contains(r.Body, `"queued":2`) {
		t.Fatalf("notification: %d %s", r.StatusCode, r.Body)
	}
	want := []queue.Meta{
		{LeadgenID: "9000000001", PageID: "1234567890", FormID: "555000111", CreatedTime: 1735689600},
		{LeadgenID: "9000000002", PageID: "1234567890", FormID: "555000111", CreatedTime: 1735689601},
	}
	got := e.q.queued()
	if len(got) != 2 || !((got[0] == want[0] && got[1] == want[1]) || (got[0] == want[1] && got[1] == want[0])) {
		t.Fatalf("queued %+v, want %+v", got, want)
	}
	if len(e.graph.asked()) != 0 || len(e.st.written()) != 0 {
		t.Fatal("the webhook fetched or wrote a lead")
	}
	// API Gateway's base64 body: the signature is of the raw bytes.
	e.q.meta = nil
	r, _ = e.h.Handle(t.Context(), httpapi.Request{HTTPMethod: "POST", Path: "/v1/integrations/meta/webhook",
		Body: base64.StdEncoding.EncodeToString([]byte(metaBody)), IsBase64Encoded: true,
		Headers: map[string]string{"x-hub-signature-256": metaBodySignature}})
	if r.StatusCode != http.StatusOK || len(e.q.queued()) != 2 {
		t.Fatalf("base64 body: %d %s, %d queued", r.StatusCode, r.Body, len(e.q.queued()))
	}
}

// A missing or wrong signature is 401 invalid_signature and queues
// nothing; so does an app secret that cannot be read (503).
func TestMetaBadSignatureQueuesNothing(t *testing.T) {
	e := metaFixture(t)
	for name, sig := range map[string]string{
		"missing":         "",
		"another body's":  sign("{}"),
		"another secret":  "sha256=" + strings.Repeat("ab", 32),
		"no prefix":       strings.TrimPrefix(metaBodySignature, "sha256="),
		"an empty digest": "sha256=",
	} {
		r := e.notify(t, metaBody, sig)
		if r.StatusCode != http.StatusUnauthorized || errorCode(t, r) != "invalid_signature" || !strings.Contains(r.Body, `"field":"X-Hub-Signature-256"`) {
			t.Errorf("%s: %d %s", name, r.StatusCode, r.Body)
		}
	}
	// Not JSON is not read before its signature is checked.
	if r := e.notify(t, `{"entry":`, sign(`{"entry"`)); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("unsigned garbage: %d %s", r.StatusCode, r.Body)
	}
	if r := e.notify(t, `{"entry":`, sign(`{"entry":`)); r.StatusCode != http.StatusBadRequest || errorCode(t, r) != "invalid_json" {
		t.Errorf("signed garbage: %d %s", r.StatusCode, r.Body)
	}
	e.h.MetaSecret = func(context.Context) ([]byte, error) { return nil, errors.New("SSM is down") }
	if r := e.notify(t, metaBody, metaBodySignature); r.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("no secret: %d %s", r.StatusCode, r.Body)
	}
	if q := e.q.queued(); len(q) != 0 {
		t.Fatalf("queued %+v", q)
	}
}

// Leads of a page or form that is not connected are skipped (logged):
// Meta cannot fix them. A queue that fails is 503, for Meta to retry.
func TestMetaNotificationSkipsWhatIsNotConnected(t *testing.T) {
	e := metaFixture(t)
	body := `{"object":"page","entry":[
{"id":"1234567890","time":1,"changes":[
 {"field":"leadgen","value":{"leadgen_id":"9000000001","page_id":"1234567890","form_id":"555000111","created_time":1}},
 {"field":"leadgen","value":{"leadgen_id":"9000000002","page_id":"1234567890","form_id":"555000999","created_time":1}},
 {"field":"leadgen","value":{"leadgen_id":"9000000001","page_id":"1234567890","form_id":"555000111","created_time":1}}]},
{"id":"999","time":1,"changes":[{"field":"leadgen","value":{"leadgen_id":"9000000003","page_id":"999","form_id":"555000111","created_time":1}}]},
{"id":"1234567890","time":1,"changes":[
 {"field":"feed","value":{"item":"status"}},
 {"field":"leadgen","value":{"leadgen_id":9000000004,"form_id":555000111,"created_time":1}}]}]}`
	r := e.notify(t, body, sign(body))
	if r.StatusCode != http.StatusOK || !strings.Contains(r.Body, `"queued":2`) || !strings.Contains(r.Body, `"skipped":2`) {
		t.Fatalf("%d %s", r.StatusCode, r.Body)
	}
	got := e.q.queued()
	ids := map[string]queue.Meta{}
	for _, m := range got {
		ids[m.LeadgenID] = m
	}
	// Numbers are ids too; an entry's id is its page.
	if _, ok := ids["9000000001"]; !ok || ids["9000000004"].PageID != "1234567890" || ids["9000000004"].FormID != "555000111" || len(ids) != 2 {
		t.Fatalf("queued %+v", got)
	}
	if !strings.Contains(e.logs.String(), "not connected") {
		t.Fatalf("skips not logged: %s", e.logs)
	}
	e.q.meta, e.q.err = nil, errors.New("SQS is down")
	if r := e.notify(t, metaBody, metaBodySignature); r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("queue down: %d %s", r.StatusCode, r.Body)
	}
}

// A queued lead is fetched with its page's token (and appsecret_proof),
// its field_data mapped by the form's fields, and ingested as the form's
// source with its leadgen_id as external id and idempotency key.
func TestMetaFetchMapsAndIngests(t *testing.T) {
	e := metaFixture(t)
	e.graph.leads["9000000001"] = graphLeadJSON("9000000001", "+14158927310")
	if failed := e.fetch(t, metaMessage("m1", "9000000001")); len(failed) != 0 {
		t.Fatalf("failed %v: %s", failed, e.logs)
	}
	reqs := e.graph.asked()
	if len(reqs) != 1 {
		t.Fatalf("%d Graph requests", len(reqs))
	}
	q := reqs[0].URL.Query()
	if reqs[0].Method != http.MethodGet || reqs[0].URL.Path != "/v21.0/9000000001" || q.Get("access_token") != metaPageToken ||
		q.Get("fields") != "field_data,created_time,form_id,is_organic" || q.Get("appsecret_proof") != metaTokenProof {
		t.Fatalf("Graph request %s %s", reqs[0].Method, reqs[0].URL)
	}
	put := e.st.written()
	if len(put) != 1 {
		t.Fatalf("%d leads written", len(put))
	}
	rec := put[0].Record
	f := rec.Fields
	if f["phone"] != "+14158927310" || f["email"] != "ada@example.com" || f["first_name"] != "Ada Lovelace" || f["state"] != "CA" ||
		f["favourite_colour"] != nil || len(f) != 4 {
		t.Fatalf("fields %v", f)
	}
	if rec.Source != "src" || rec.Campaign != "auto" || rec.ExternalID != "meta:9000000001" || rec.Test ||
		put[0].Idempotency == nil || put[0].Idempotency.Key != "meta-lead:9000000001" || put[0].Idempotency.TTL != MetaIdempotencyTTL {
		t.Fatalf("record %+v, idempotency %+v", rec.Lead, put[0].Idempotency)
	}
	if len(e.q.routed) != 1 || e.q.routed[0].Lead.ID != rec.ID {
		t.Fatalf("routed %+v", e.q.routed)
	}
	if strings.Contains(e.logs.String(), metaPageToken) {
		t.Fatalf("the logs hold the page token: %s", e.logs)
	}
}

// The same leadgen_id twice (in one batch, and again later) is one lead.
func TestMetaSameLeadTwiceIsOneLead(t *testing.T) {
	e := metaFixture(t)
	e.graph.leads["9000000001"] = graphLeadJSON("9000000001", "+14158927310")
	if failed := e.fetch(t, metaMessage("m1", "9000000001"), metaMessage("m2", "9000000001")); len(failed) != 0 {
		t.Fatalf("failed %v: %s", failed, e.logs)
	}
	if failed := e.fetch(t, metaMessage("m3", "9000000001")); len(failed) != 0 {
		t.Fatalf("again: failed %v", failed)
	}
	if put := e.st.written(); len(put) != 1 {
		t.Fatalf("%d leads written, want 1", len(put))
	}
	if len(e.q.routed) != 1 {
		t.Fatalf("routed %d times", len(e.q.routed))
	}
}

// A Graph 500 (or 429, or no answer) fails the message, for SQS to retry;
// the retry ingests it. A 4xx (a bad token, a deleted lead) fails it too,
// for the DLQ. Neither logs the token.
func TestMetaGraphFailuresFailTheMessage(t *testing.T) {
	e := metaFixture(t)
	e.graph.leads["9000000001"] = graphLeadJSON("9000000001", "+14158927310")
	e.graph.failNext(1, http.StatusInternalServerError, `{"error":{"message":"An unexpected error has occurred.","type":"OAuthException","code":2}}`)
	if failed := e.fetch(t, metaMessage("m1", "9000000001")); len(failed) != 1 || failed[0] != "m1" {
		t.Fatalf("Graph 500: failed %v", failed)
	}
	if len(e.st.written()) != 0 {
		t.Fatal("a lead written without its data")
	}
	if failed := e.fetch(t, metaMessage("m1", "9000000001")); len(failed) != 0 {
		t.Fatalf("retry: failed %v: %s", failed, e.logs)
	}
	if len(e.st.written()) != 1 {
		t.Fatalf("%d leads after the retry", len(e.st.written()))
	}

	e.graph.failNext(1, http.StatusBadRequest, `{"error":{"message":"Malformed access token `+metaPageToken+`","type":"OAuthException","code":190}}`)
	if failed := e.fetch(t, metaMessage("m2", "9000000002")); len(failed) != 1 {
		t.Fatalf("Graph 400: failed %v", failed)
	}
	e.h.GraphURL = "http://127.0.0.1:1/v21.0" // nothing listens
	if failed := e.fetch(t, metaMessage("m3", "9000000003")); len(failed) != 1 {
		t.Fatalf("no answer: failed %v", failed)
	}
	logs := e.logs.String()
	if strings.Contains(logs, metaPageToken) || strings.Contains(logs, "access_token=") {
		t.Fatalf("the logs hold the token or the Graph URL's query: %s", logs)
	}
	for _, want := range []string{`"code 190`, "Malformed access token (token)", "Graph API: no answer"} {
		if !strings.Contains(logs, strings.TrimPrefix(want, `"`)) {
			t.Errorf("the logs do not say %q: %s", want, logs)
		}
	}
}

// A lead the campaign refuses, a page token that cannot be read, a form
// no longer connected, a message that is not a lead: each fails the
// message (the DLQ then holds it for an operator) and writes nothing.
func TestMetaLeadsThatCannotBeIngestedFail(t *testing.T) {
	e := metaFixture(t)
	e.graph.leads["9000000001"] = strings.Replace(graphLeadJSON("9000000001", "+14158927310"), `["CA"]`, `["Narnia"]`, 1)
	e.graph.leads["9000000002"] = graphLeadJSON("9000000002", "+14158927311")
	other := metaMessage("m3", "9000000002")
	other.Body = strings.Replace(other.Body, "555000111", "555000999", 1)
	failed := e.fetch(t, metaMessage("m1", "9000000001"), other, events.SQSMessage{MessageId: "m4", Body: "{"})
	if len(failed) != 3 {
		t.Fatalf("failed %v, want m1, m3, m4", failed)
	}
	e.h.PageTokens = pageTokens{}
	if failed := e.fetch(t, metaMessage("m2", "9000000002")); len(failed) != 1 {
		t.Fatalf("no token: failed %v", failed)
	}
	if put := e.st.written(); len(put) != 0 {
		t.Fatalf("%d leads written", len(put))
	}
	if logs := e.logs.String(); !strings.Contains(logs, "400 validation_failed (state invalid)") || !strings.Contains(logs, `"leadgen_id":"9000000001"`) {
		t.Fatalf("the refusal does not name the field: %s", logs)
	}
}
