package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/leadrelay/leadrelay/localstack/emulator"
	"github.com/leadrelay/leadrelay/shared/webhook"
)

const (
	sourceKey = "test-source-key"
	// sha256("test-source-key")
	sourceHash = "1855dc05b1f481bcb91a6a2df592d1719cdc0b9f2e8a1a2e49d06bc8b064e155"
	adminToken = "test-admin-token"
	secret     = "whsec_dGVzdC1zZWNyZXQtZm9yLXdlYmhvb2tz"
)

// buyer is a test buyer endpoint.
type buyer struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	status atomic.Int32 // answer with this status (default 200)
	bad    atomic.Int32 // signatures that did not verify
}

func newBuyer(t *testing.T) *buyer {
	b := &buyer{}
	b.status.Store(200)
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify([]string{secret}, r.Header, body, time.Now(), time.Minute); err != nil {
			b.bad.Add(1)
		}
		st := int(b.status.Load())
		if st < 300 {
			b.mu.Lock()
			b.bodies = append(b.bodies, body)
			b.mu.Unlock()
		}
		w.WriteHeader(st)
		fmt.Fprint(w, `{"status":"ok"}`)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *buyer) received() [][]byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([][]byte(nil), b.bodies...)
}

type env struct {
	t   *testing.T
	r   *Runner
	cfg aws.Config
}

func start(t *testing.T, configYAML string, mod func(*Options)) *env {
	t.Helper()
	cfg := emulator.Config(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(configYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	o := Options{
		Addr: "127.0.0.1:0", AdminToken: adminToken, ConfigFile: path, Prefix: emulator.Name("lr-"),
		AWS: cfg, Visibility: 5 * time.Second, Pollers: 3, AllowPrivateTargets: true, ConfigTTL: time.Minute, NoTasks: true,
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	}
	if testing.Verbose() {
		o.Log = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if mod != nil {
		mod(&o)
	}
	r, err := Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = r.Stop(ctx)
	})
	return &env{t: t, r: r, cfg: cfg}
}

// noonZone is a fixed-offset IANA zone in which it is now about midday,
// so that the daily caps of a test counted in it cannot roll over while
// the test runs, whenever it runs.
func noonZone() string {
	off := 12 - time.Now().UTC().Hour() // local = UTC + off hours
	switch {
	case off > 12:
		off -= 24
	case off < -12:
		off += 24
	}
	switch {
	case off == 0:
		return "Etc/GMT"
	case off > 0: // the Etc zones' signs are inverted: Etc/GMT-3 is UTC+3
		return fmt.Sprintf("Etc/GMT-%d", off)
	}
	return fmt.Sprintf("Etc/GMT+%d", -off)
}

func campaignYAML(buyerURL, caps string) string {
	return fmt.Sprintf(`
campaigns:
  - id: auto
    strict: true
    fields:
      phone: {type: phone, required: true, pii: true}
      email: {type: email, pii: true}
      state: {type: us_state, required: true}
      age:   {type: integer, min: 18, max: 100}
    dedupe: {fields: [phone, email], window: 720h}
  - id: other
    fields:
      phone: {type: phone, required: true}
sources:
  - id: src
    campaigns: [auto]
    api_key_sha256: %q
    payout: {type: fixed, amount: 4.00}
buyers:
  - id: acme
    timezone: %q
    delivery: {type: webhook, url: %q, secret: %q, timeout: 2s, max_attempts: 2}
    orders:
      - campaign: auto
        price: 25.00
        priority: 1
        filters:
          - {field: state, op: in, value: [CA, TX]}
        caps: {%s}
`, sourceHash, noonZone(), buyerURL, secret, caps)
}

type response struct {
	Status int
	Body   map[string]any
	Header http.Header
}

func (e *env) do(method, path, contentType, body string, headers map[string]string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.r.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := response{Status: resp.StatusCode, Header: resp.Header}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out.Body); err != nil {
			e.t.Fatalf("%s %s: answer is not JSON: %q", method, path, raw)
		}
	}
	return out
}

func (e *env) doJSON(method, path string, body any) response {
	e.t.Helper()
	b, _ := json.Marshal(body)
	return e.do(method, path, "application/json", string(b), map[string]string{"X-API-Key": sourceKey})
}

func (e *env) post(fields map[string]any, headers map[string]string) response {
	body, _ := json.Marshal(map[string]any{"campaign": "auto", "fields": fields})
	h := map[string]string{"X-API-Key": sourceKey}
	for k, v := range headers {
		h[k] = v
	}
	return e.do("POST", "/v1/leads", "application/json", string(body), h)
}

// waitStatus polls GET /v1/leads/{id} until the lead reaches a final status.
func (e *env) waitStatus(id string) string {
	e.t.Helper()
	return e.waitStatusAs(sourceKey, id)
}

// waitStatusAs is waitStatus for a lead of the source with key.
func (e *env) waitStatusAs(key, id string) string {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		r := e.do("GET", "/v1/leads/"+id, "", "", map[string]string{"X-API-Key": key})
		if r.Status != 200 {
			e.t.Fatalf("GET lead %s: %d %v", id, r.Status, r.Body)
		}
		switch st := r.Body["status"].(string); st {
		case "sold", "unsold", "rejected":
			return st
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.t.Fatalf("lead %s did not settle in 30s", id)
	return ""
}

func phone(i int) string { return fmt.Sprintf("+1415892%04d", 1000+i) }

// settle waits until the aggregate handler has folded in every ledger
// entry written so far: the P&L and the table's item count are then
// those of what the test did.
func (e *env) settle() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := e.r.SettleLedger(ctx); err != nil {
		e.t.Fatal(err)
	}
}

// itemCount counts the items of the test's table, once the ledger has
// settled, but the rate counters: a refused request still counts against
// its source's rate, as it should.
func (e *env) itemCount() int {
	e.t.Helper()
	e.settle()
	db := dynamodb.NewFromConfig(e.cfg)
	n := 0
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{
		TableName:                 aws.String(e.r.App.Settings.Table),
		Select:                    "COUNT",
		FilterExpression:          aws.String("NOT begins_with(pk, :rate)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":rate": &types.AttributeValueMemberS{Value: "RATE#"}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			e.t.Fatal(err)
		}
		n += int(page.Count)
	}
	return n
}

func TestLeadIsSoldDeliveredAndExplained(t *testing.T) {
	b := newBuyer(t)
	e := start(t, campaignYAML(b.srv.URL, "daily: 100"), nil)
	r := e.post(map[string]any{"phone": "(415) 892-7310", "email": "Ada@Example.com", "state": "ca", "age": 34}, nil)
	if r.Status != 202 || r.Body["status"] != "accepted" {
		t.Fatalf("post: %d %v", r.Status, r.Body)
	}
	id := r.Body["lead_id"].(string)
	if st := e.waitStatus(id); st != "sold" {
		t.Fatalf("status %s, want sold", st)
	}
	got := e.do("GET", "/v1/leads/"+id, "", "", map[string]string{"Authorization": "Bearer " + sourceKey})
	if got.Body["payout"] != 4.0 || got.Body["campaign"] != "auto" || got.Body["lead_id"] != id {
		t.Fatalf("source view: %v", got.Body)
	}
	bodies := b.received()
	if len(bodies) != 1 || b.bad.Load() != 0 {
		t.Fatalf("buyer got %d posts, %d badly signed", len(bodies), b.bad.Load())
	}
	var post struct {
		LeadID   string         `json:"lead_id"`
		Campaign string         `json:"campaign"`
		Price    float64        `json:"price"`
		Fields   map[string]any `json:"fields"`
	}
	if err := json.Unmarshal(bodies[0], &post); err != nil {
		t.Fatal(err)
	}
	if post.LeadID != id || post.Campaign != "auto" || post.Price != 25 || post.Fields["phone"] != "+14158927310" || post.Fields["state"] != "CA" {
		t.Fatalf("buyer post: %s", bodies[0])
	}
	adm := e.do("GET", "/v1/admin/leads/"+id, "", "", map[string]string{"Authorization": "Bearer " + adminToken})
	if adm.Status != 200 || adm.Body["status"] != "sold" {
		t.Fatalf("admin lead: %d %v", adm.Status, adm.Body)
	}
	var types []string
	for _, ev := range adm.Body["events"].([]any) {
		types = append(types, ev.(map[string]any)["type"].(string))
	}
	if strings.Join(types, ",") != "received,scored,routed,attempt,accepted" {
		t.Fatalf("timeline: %v", types)
	}
	// Scored before routing, with what made the score.
	detail, _ := adm.Body["score_detail"].(map[string]any)
	if sc, _ := adm.Body["score"].(float64); sc < 1 || detail == nil || detail["score"] != sc || len(detail["signals"].([]any)) == 0 {
		t.Fatalf("score %v, detail %v", adm.Body["score"], detail)
	}
	routed := adm.Body["events"].([]any)[2].(map[string]any)
	if routed["buyer"] != "acme" || routed["data"].(map[string]any)["orders"] != 1.0 {
		t.Fatalf("routed event: %v", routed)
	}
	if r := e.do("GET", "/v1/admin/leads/"+id, "", "", nil); r.Status != 401 {
		t.Fatalf("admin without token: %d", r.Status)
	}
}

func TestUnsoldWhenNoOrderMatches(t *testing.T) {
	b := newBuyer(t)
	e := start(t, campaignYAML(b.srv.URL, "daily: 100"), nil)
	r := e.post(map[string]any{"phone": phone(1), "state": "NY"}, nil)
	id := r.Body["lead_id"].(string)
	if st := e.waitStatus(id); st != "unsold" {
		t.Fatalf("status %s", st)
	}
	adm := e.do("GET", "/v1/admin/leads/"+id, "", "", map[string]string{"Authorization": "Bearer " + adminToken})
	evs := adm.Body["events"].([]any)
	last := evs[len(evs)-1].(map[string]any)
	verdict := last["data"].(map[string]any)["verdicts"].([]any)[0].(map[string]any)
	if last["type"] != "no_buyer" || verdict["reason"] != "filter_failed" || !strings.Contains(verdict["detail"].(string), "NY") {
		t.Fatalf("no_buyer event: %v", last)
	}
}

func TestRejectedByEveryBuyer(t *testing.T) {
	b := newBuyer(t)
	b.status.Store(400)
	e := start(t, campaignYAML(b.srv.URL, "daily: 1"), nil)
	id := e.post(map[string]any{"phone": phone(2), "state": "TX"}, nil).Body["lead_id"].(string)
	if st := e.waitStatus(id); st != "rejected" {
		t.Fatalf("status %s", st)
	}
	// The cap the offer held was released: another lead can use it.
	b.status.Store(200)
	id2 := e.post(map[string]any{"phone": phone(3), "state": "TX"}, nil).Body["lead_id"].(string)
	if st := e.waitStatus(id2); st != "sold" {
		t.Fatalf("after release: %s", st)
	}
}

// Invariant 2: 50 concurrent leads against a daily cap of 10 → exactly 10 sold.
func TestDailyCapHoldsUnderConcurrency(t *testing.T) {
	b := newBuyer(t)
	e := start(t, campaignYAML(b.srv.URL, "daily: 10"), func(o *Options) { o.Pollers = 6 })
	ids := make([]string, 50)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.post(map[string]any{"phone": phone(100 + i), "state": "CA"}, nil)
			if r.Status != 202 {
				t.Errorf("post %d: %d %v", i, r.Status, r.Body)
				return
			}
			ids[i] = r.Body["lead_id"].(string)
		}()
	}
	wg.Wait()
	counts := map[string]int{}
	for _, id := range ids {
		counts[e.waitStatus(id)]++
	}
	if counts["sold"] != 10 || counts["unsold"] != 40 || len(b.received()) != 10 {
		t.Fatalf("statuses %v, buyer received %d; want 10 sold, 40 unsold", counts, len(b.received()))
	}
}

// Invariant 5: same dedupe key twice → one 202, one 409 naming the first lead.
func TestDuplicateRefused(t *testing.T) {
	b := newBuyer(t)
	e := start(t, campaignYAML(b.srv.URL, "daily: 100"), nil)
	var wg sync.WaitGroup
	results := make([]response, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = e.post(map[string]any{"phone": "415-892-7311", "state": "CA"}, nil)
		}()
	}
	wg.Wait()
	var accepted string
	dups := 0
	for _, r := range results {
		switch r.Status {
		case 202:
			if accepted != "" {
				t.Fatal("two leads accepted with the same phone")
			}
			accepted = r.Body["lead_id"].(string)
		case 409:
			dups++
		default:
			t.Fatalf("unexpected %d %v", r.Status, r.Body)
		}
	}
	if accepted == "" || dups != 7 {
		t.Fatalf("accepted %q, %d duplicates", accepted, dups)
	}
	r := e.post(map[string]any{"phone": "+1 415 892 7311", "state": "TX"}, nil)
	errBody := r.Body["error"].(map[string]any)
	if r.Status != 409 || errBody["code"] != "duplicate" || errBody["duplicate_of"] != accepted {
		t.Fatalf("duplicate answer: %d %v", r.Status, r.Body)
	}
	// The email key alone also catches a duplicate.
	e.post(map[string]any{"phone": phone(7), "email": "x@example.com", "state": "CA"}, nil)
	if r := e.post(map[string]any{"phone": phone(8), "email": "X@EXAMPLE.COM", "state": "CA"}, nil); r.Status != 409 {
		t.Fatalf("email duplicate: %d", r.Status)
	}
}

func TestIdempotencyKey(t *testing.T) {
	b := newBuyer(t)
	e := start(t, campaignYAML(b.srv.URL, "daily: 100"), nil)
	h := map[string]string{"Idempotency-Key": "order-778"}
	var wg sync.WaitGroup
	results := make([]response, 5)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = e.post(map[string]any{"phone": phone(20), "state": "CA"}, h)
		}()
	}
	wg.Wait()
	for _, r := range results {
		if r.Status != 202 || r.Body["lead_id"] != results[0].Body["lead_id"] {
			t.Fatalf("idempotent posts: %+v", results)
		}
	}
	e.waitStatus(results[0].Body["lead_id"].(string))
	if n := len(b.received()); n != 1 {
		t.Fatalf("buyer received %d leads, want 1", n)
	}
}

// Invariant 6: bad input gets a clear 4xx and changes nothing.
func TestBadInputChangesNothing(t *testing.T) {
	b := newBuyer(t)
	e := start(t, campaignYAML(b.srv.URL, "daily: 100"), nil)
	before := e.itemCount()
	key := map[string]string{"X-API-Key": sourceKey}
	big := `{"campaign":"auto","fields":{"phone":"4158927310","state":"CA","x":"` + strings.Repeat("a", 70<<10) + `"}}`
	cases := []struct {
		name, ct, body string
		headers        map[string]string
		status         int
		code, field    string
	}{
		{"malformed json", "application/json", `{"campaign":`, key, 400, "invalid_json", ""},
		{"not an object", "application/json", `[1,2]`, key, 400, "invalid_json", ""},
		{"wrong type", "application/json", `{"campaign":"auto","fields":{"phone":"4158927310","state":"CA","age":"old"}}`, key, 400, "validation_failed", "age"},
		{"bad phone", "application/json", `{"campaign":"auto","fields":{"phone":"12","state":"CA"}}`, key, 400, "validation_failed", "phone"},
		{"missing required", "application/json", `{"campaign":"auto","fields":{"state":"CA"}}`, key, 400, "validation_failed", "phone"},
		{"unknown field, strict campaign", "application/json", `{"campaign":"auto","fields":{"phone":"4158927310","state":"CA","shoe":"9"}}`, key, 400, "validation_failed", "shoe"},
		{"unknown envelope property", "application/json", `{"campaign":"auto","feilds":{}}`, key, 400, "validation_failed", "feilds"},
		{"no campaign", "application/json", `{"fields":{"phone":"4158927310"}}`, key, 400, "validation_failed", "campaign"},
		{"oversize", "application/json", big, key, 413, "payload_too_large", ""},
		{"wrong content type", "text/plain", `campaign=auto`, key, 415, "unsupported_media_type", ""},
		{"no key", "application/json", `{"campaign":"auto","fields":{}}`, nil, 401, "unauthorized", ""},
		{"wrong key", "application/json", `{"campaign":"auto","fields":{}}`, map[string]string{"X-API-Key": "nope"}, 401, "unauthorized", ""},
		{"unknown campaign", "application/json", `{"campaign":"boats","fields":{}}`, key, 404, "campaign_not_found", ""},
		{"campaign not allowed", "application/json", `{"campaign":"other","fields":{"phone":"4158927310"}}`, key, 403, "campaign_not_allowed", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do("POST", "/v1/leads", c.ct, c.body, c.headers)
			errBody, _ := r.Body["error"].(map[string]any)
			if r.Status != c.status || errBody == nil || errBody["code"] != c.code || errBody["message"] == "" {
				t.Fatalf("got %d %v; want %d %s", r.Status, r.Body, c.status, c.code)
			}
			if c.field != "" {
				fields, _ := errBody["fields"].([]any)
				found := false
				for _, f := range fields {
					found = found || f.(map[string]any)["field"] == c.field
				}
				if !found {
					t.Fatalf("fields %v do not name %q", fields, c.field)
				}
			}
		})
	}
	if after := e.itemCount(); after != before {
		t.Fatalf("bad input wrote %d items", after-before)
	}
}

func TestFormPostWithRedirect(t *testing.T) {
	b := newBuyer(t)
	e := start(t, campaignYAML(b.srv.URL, "daily: 100"), nil)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	form := "campaign=auto&phone=4158927399&state=TX&redirect=https%3A%2F%2Fexample.com%2Fthanks"
	req, _ := http.NewRequest("POST", e.r.URL+"/v1/leads", bytes.NewBufferString(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-API-Key", sourceKey)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "https://example.com/thanks" {
		t.Fatalf("form post: %d %v", resp.StatusCode, resp.Header)
	}
	form = "campaign=auto&phone=4158927398&state=TX"
	r := e.do("POST", "/v1/leads", "application/x-www-form-urlencoded", form, map[string]string{"X-API-Key": sourceKey})
	if r.Status != 202 || e.waitStatus(r.Body["lead_id"].(string)) != "sold" {
		t.Fatalf("form post: %d %v", r.Status, r.Body)
	}
}

func TestHealthAndConfigRoundTrip(t *testing.T) {
	b := newBuyer(t)
	e := start(t, campaignYAML(b.srv.URL, "daily: 100"), nil)
	if r := e.do("GET", "/v1/health", "", "", nil); r.Status != 200 || r.Body["status"] != "ok" {
		t.Fatalf("health: %d %v", r.Status, r.Body)
	}
	auth := map[string]string{"Authorization": "Bearer " + adminToken}
	cur := e.do("GET", "/v1/admin/config", "", "", auth)
	if cur.Status != 200 || len(cur.Body["campaigns"].([]any)) != 2 {
		t.Fatalf("get config: %d %v", cur.Status, cur.Body)
	}
	doc, _ := json.Marshal(cur.Body)
	again := e.do("PUT", "/v1/admin/config", "application/json", string(doc), auth)
	if again.Status != 200 || again.Body["changed"] != false {
		t.Fatalf("re-applying the same config: %d %v", again.Status, again.Body)
	}
	bad := e.do("PUT", "/v1/admin/config", "application/yaml", "campaigns:\n  - id: x\n    fields: {a: {type: nope}}\n", auth)
	fields := bad.Body["error"].(map[string]any)["fields"].([]any)
	f0 := fields[0].(map[string]any)
	if bad.Status != 400 || f0["field"] != "campaigns[0].fields.a.type" || f0["line"] != 3.0 {
		t.Fatalf("bad config: %d %v", bad.Status, bad.Body)
	}
	if after := e.do("GET", "/v1/admin/config", "", "", auth); after.Body["version"] != cur.Body["version"] {
		t.Fatal("a rejected config changed the stored one")
	}
}
