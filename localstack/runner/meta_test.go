package runner

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/leadrelay/leadrelay/localstack/emulator"
)

const (
	metaAppSecret = "meta-app-secret-0123456789abcdef"
	// metaVerifyHash is sha256("meta-verify-token") (sha256sum, not the code).
	metaVerifyHash = "9f27ea7db11f88dfa8b23793907b882c46c8bfe5fff01f0c5d50ed362310378b"
	metaPageToken  = "EAAPageToken123"
	metaPage       = "1234567890"
	metaForm       = "555000111"
)

// metaGraph is a fake Graph API on loopback: it serves leads by id to the
// page's token, answers 500 to the next requests of an id while told to,
// and counts the requests of each id.
type metaGraph struct {
	srv   *httptest.Server
	mu    sync.Mutex
	leads map[string]string
	fail  map[string]int
	asked map[string]int
	// events are what the Conversions API took (metacapi_test.go).
	events []capiEvent
}

func newMetaGraph(t *testing.T) *metaGraph {
	g := &metaGraph{leads: map[string]string{}, fail: map[string]int{}, asked: map[string]int{}}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimPrefix(r.URL.Path, "/v21.0/")
		g.mu.Lock()
		defer g.mu.Unlock()
		g.asked[id]++
		if r.Method == http.MethodPost && strings.HasSuffix(id, "/events") {
			g.conversions(w, r, strings.TrimSuffix(id, "/events"))
			return
		}
		if g.fail[id] > 0 {
			g.fail[id]--
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `{"error":{"message":"An unexpected error has occurred. Please retry your request later.","type":"OAuthException","code":2}}`)
			return
		}
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

// lead adds a lead the Graph API serves.
func (g *metaGraph) lead(id, phone string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.leads[id] = fmt.Sprintf(`{"created_time":"2025-01-01T00:00:00+0000","id":%q,"form_id":%q,"is_organic":false,
"field_data":[{"name":"full_name","values":["Ada Lovelace"]},{"name":"phone_number","values":[%q]},{"name":"state","values":["CA"]}]}`,
		id, metaForm, phone)
}

func (g *metaGraph) failNext(id string, n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.fail[id] = n
}

func (g *metaGraph) requests(id string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.asked[id]
}

func (g *metaGraph) total() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, c := range g.asked {
		n += c
	}
	return n
}

// secureParam puts an SSM SecureString on the emulator, under a name of
// this run, and returns its name.
func secureParam(t *testing.T, name, value string) string {
	t.Helper()
	param := "/" + strings.TrimSuffix(emulator.Name("leadrelay/meta-"), "-") + "/" + name
	if _, err := ssm.NewFromConfig(emulator.Config(t)).PutParameter(context.Background(), &ssm.PutParameterInput{
		Name: aws.String(param), Value: aws.String(value), Type: ssmtypes.ParameterTypeSecureString, Overwrite: aws.Bool(true),
	}); err != nil {
		t.Fatal(err)
	}
	return param
}

// startMeta runs LeadRelay with a Meta page connected: its token an SSM
// SecureString on the emulator, the Graph API the fake, the app secret set.
func startMeta(t *testing.T, b *buyer, g *metaGraph) *env {
	t.Helper()
	return startMetaWith(t, g, campaignYAML(b.srv.URL, "daily: 100"), "")
}

// startMetaWith runs LeadRelay on doc with a Meta page connected to its
// campaign auto and source src; more goes into integrations.meta.
func startMetaWith(t *testing.T, g *metaGraph, doc, more string) *env {
	t.Helper()
	param := secureParam(t, "page", metaPageToken)
	doc += fmt.Sprintf(`
integrations:
  meta:
    verify_token_sha256: %q
    pages:
      - page_id: %q
        access_token: "ssm:%s"
        forms:
          - {form_id: %q, source: src, campaign: auto, fields: {phone_number: phone, email: email, state: state}}
`, metaVerifyHash, metaPage, param, metaForm) + more
	return start(t, doc, func(o *Options) {
		o.MetaGraphURL = g.srv.URL + "/v21.0"
		o.MetaAppSecret = metaAppSecret
	})
}

// metaNotification is a page's leadgen notification of the leads.
func metaNotification(leadgenIDs ...string) string {
	var changes []string
	for _, id := range leadgenIDs {
		changes = append(changes, fmt.Sprintf(`{"field":"leadgen","value":{"ad_id":"444","form_id":%q,"leadgen_id":%q,"created_time":1735689600,"page_id":%q,"adgroup_id":"333"}}`,
			metaForm, id, metaPage))
	}
	return fmt.Sprintf(`{"object":"page","entry":[{"id":%q,"time":1735689600,"changes":[%s]}]}`, metaPage, strings.Join(changes, ","))
}

func metaSign(body string) string {
	mac := hmac.New(sha256.New, []byte(metaAppSecret))
	mac.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// notifyMeta posts a notification with the signature and returns the status.
func (e *env) notifyMeta(body, signature string) response {
	e.t.Helper()
	h := map[string]string{}
	if signature != "" {
		h["X-Hub-Signature-256"] = signature
	}
	return e.do("POST", "/v1/integrations/meta/webhook", "application/json", body, h)
}

// metaLeads are the leads of a phone, as the admin search finds them.
func (e *env) metaLeads(phone string) []map[string]any {
	e.t.Helper()
	r := e.do("GET", "/v1/admin/leads?phone="+url.QueryEscape(phone), "", "", map[string]string{"Authorization": "Bearer " + adminToken})
	if r.Status != http.StatusOK {
		e.t.Fatalf("search %s: %d %v", phone, r.Status, r.Body)
	}
	var out []map[string]any
	for _, l := range r.Body["leads"].([]any) {
		out = append(out, l.(map[string]any))
	}
	return out
}

// waitSold waits until the phone's only lead is sold, and returns it.
func (e *env) waitSold(phone string) map[string]any {
	e.t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	for time.Now().Before(deadline) {
		if ls := e.metaLeads(phone); len(ls) == 1 && ls[0]["status"] == "sold" {
			return ls[0]
		} else if len(ls) > 1 {
			e.t.Fatalf("%d leads for %s: %v", len(ls), phone, ls)
		}
		time.Sleep(200 * time.Millisecond)
	}
	e.t.Fatalf("no sold lead for %s in 40s: %v", phone, e.metaLeads(phone))
	return nil
}

// waitMetaDone waits until the Meta queue holds no message, visible or in
// flight: every lead notified is ingested (or failed and waits).
func (e *env) waitMetaDone() {
	e.t.Helper()
	api := sqs.NewFromConfig(e.cfg)
	deadline := time.Now().Add(40 * time.Second)
	for time.Now().Before(deadline) {
		out, err := api.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
			QueueUrl: aws.String(e.r.Queues.Meta),
			AttributeNames: []sqstypes.QueueAttributeName{
				sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
			},
		})
		if err != nil {
			e.t.Fatal(err)
		}
		if out.Attributes["ApproximateNumberOfMessages"] == "0" && out.Attributes["ApproximateNumberOfMessagesNotVisible"] == "0" {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.t.Fatal("the Meta queue did not empty in 40s")
}

// waitAsked waits until the Graph API was asked for the lead n times.
func waitAsked(t *testing.T, g *metaGraph, id string, n int) {
	t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	for g.requests(id) < n && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if got := g.requests(id); got < n {
		t.Fatalf("the Graph API was asked for %s %d time(s), want %d", id, got, n)
	}
}

// Meta Lead Ads end to end: the subscription check, a signed notification
// of two leads fetched from the Graph API and sold, the same notification
// again (Meta's retry) changing nothing, and a notification with a bad
// signature refused before anything is read or fetched. The answers match
// docs/openapi.yaml.
func TestMetaLeadAdsWebhook(t *testing.T) {
	b, g := newBuyer(t), newMetaGraph(t)
	e := startMeta(t, b, g)
	api := openAPI(t, e.r.URL)
	hook := e.r.URL + "/v1/integrations/meta/webhook"

	// The subscription check answers the challenge, as plain text.
	resp, err := http.Get(hook + "?hub.mode=subscribe&hub.verify_token=meta-verify-token&hub.challenge=1158201444")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(raw) != "1158201444" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("verification: %d %q %s", resp.StatusCode, raw, resp.Header.Get("Content-Type"))
	}
	for q, want := range map[string]int{
		"?hub.mode=subscribe&hub.verify_token=meta-verify-token&hub.challenge=1": 200,
		"?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1":             403,
	} {
		if got := checked(t, api, "GET", hook+q, "", nil); got != want {
			t.Errorf("GET %s: %d, want %d", q, got, want)
		}
	}

	// Two leads in one signed notification: each fetched and sold.
	g.lead("9000000001", phone(900))
	g.lead("9000000002", phone(901))
	body := metaNotification("9000000001", "9000000002")
	r := e.notifyMeta(body, metaSign(body))
	if r.Status != http.StatusOK || r.Body["queued"] != 2.0 {
		t.Fatalf("notification: %d %v", r.Status, r.Body)
	}
	first, second := e.waitSold(phone(900)), e.waitSold(phone(901))
	for id, l := range map[string]map[string]any{"9000000001": first, "9000000002": second} {
		full := e.adminLead(l["lead_id"].(string))
		if full["external_id"] != "meta:"+id || full["source"] != "src" || full["campaign"] != "auto" ||
			full["fields"].(map[string]any)["state"] != "CA" {
			t.Fatalf("lead of %s: %v", id, full)
		}
	}

	// Meta sends the same notification again: the leads are fetched
	// again and each is the lead it was (its idempotency key), not a
	// duplicate of it; nothing is written.
	e.waitMetaDone()
	before := e.itemCount()
	if got := checked(t, api, "POST", hook, body, map[string]string{"Content-Type": "application/json", "X-Hub-Signature-256": metaSign(body)}); got != 200 {
		t.Fatalf("again: %d", got)
	}
	waitAsked(t, g, "9000000001", 2)
	waitAsked(t, g, "9000000002", 2)
	e.waitMetaDone()
	if after := e.itemCount(); after != before {
		t.Fatalf("the same notification again wrote %d item(s)", after-before)
	}
	for _, p := range []string{phone(900), phone(901)} {
		if ls := e.metaLeads(p); len(ls) != 1 {
			t.Fatalf("%d leads for %s after the notification came twice", len(ls), p)
		}
	}
	if n := len(b.received()); n != 2 {
		t.Fatalf("the buyer got %d leads, want 2", n)
	}

	// A bad signature: 401, nothing queued, nothing fetched, nothing written.
	g.lead("9000000003", phone(902))
	other := metaNotification("9000000003")
	asked := g.total()
	for name, sig := range map[string]string{"none": "", "another body's": metaSign(body), "another secret's": "sha256=" + strings.Repeat("0", 64)} {
		if got := checked(t, api, "POST", hook, other, map[string]string{"Content-Type": "application/json", "X-Hub-Signature-256": sig}); got != 401 {
			t.Errorf("%s signature: %d, want 401", name, got)
		}
	}
	time.Sleep(2 * time.Second) // a queued message would be polled by now
	e.waitMetaDone()
	if g.total() != asked || len(e.metaLeads(phone(902))) != 0 || e.itemCount() != before {
		t.Fatalf("a badly signed notification was fetched (%d → %d requests) or wrote something", asked, g.total())
	}
}

// A Graph API 500 fails the message; SQS hands it over again after the
// visibility timeout, and the lead is fetched and sold once.
func TestMetaGraphErrorIsRetried(t *testing.T) {
	b, g := newBuyer(t), newMetaGraph(t)
	e := startMeta(t, b, g)
	g.lead("9000000010", phone(910))
	g.failNext("9000000010", 1)
	body := metaNotification("9000000010")
	if r := e.notifyMeta(body, metaSign(body)); r.Status != http.StatusOK || r.Body["queued"] != 1.0 {
		t.Fatalf("notification: %d %v", r.Status, r.Body)
	}
	l := e.waitSold(phone(910))
	if got := g.requests("9000000010"); got != 2 {
		t.Fatalf("the Graph API was asked %d times, want 2 (a 500, then the lead)", got)
	}
	if full := e.adminLead(l["lead_id"].(string)); full["external_id"] != "meta:9000000010" {
		t.Fatalf("lead %v", full)
	}
	if n := len(b.received()); n != 1 {
		t.Fatalf("the buyer got %d leads, want 1", n)
	}
}
