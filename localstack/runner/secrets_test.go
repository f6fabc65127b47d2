package runner

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/leadrelay/leadrelay/localstack/emulator"
	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/webhook"
)

// The secrets of the configuration below, and the values the SSM
// reference resolves to: none may appear in any answer, log line or
// timeline, nor in clear in the stored document.
const (
	secretWebhook  = "whsec_c2VjcmV0LXdlYmhvb2stc2lnbmluZy1rZXk="
	secretHeader   = "HEADER-SECRET-9f3a"
	secretPostback = "POSTBACK-SECRET-77c1"
	secretSlack    = "SLACKPATHSECRET4411"
	secretQuery    = "QUERYSECRET-5d2e"
	secretPingQ    = "PINGQUERYSECRET-0b7e"
	secretSSMValue = "SSM-RESOLVED-TOKEN-c81d"
	secretRotated  = "whsec_cm90YXRlZC1zZWNyZXQta2V5LXZhbHVl"
)

// lockedBuffer collects log lines from every handler's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Invariant 8: secrets are write-only. A full run — leads sold to a buyer
// that checks the signature and the bearer token read from SSM, a seller's
// ping to a ping URL with a key in its query, a postback, a Slack
// notification that fails — then every admin view of the configuration,
// a plan and a change of a secret, the audit log and the leads' timelines:
// no answer, log line or timeline holds a secret or a URL's query, and the
// stored document holds none in clear.
func TestSecretsAreWriteOnly(t *testing.T) {
	cfg := emulator.Config(t)
	prefix := emulator.Name("lr-")
	param := "/leadrelay/" + strings.TrimSuffix(prefix, "-") + "/acme-token"
	if _, err := ssm.NewFromConfig(cfg).PutParameter(context.Background(), &ssm.PutParameterInput{
		Name: aws.String(param), Value: aws.String(secretSSMValue), Type: ssmtypes.ParameterTypeSecureString,
	}); err != nil {
		t.Fatal(err)
	}
	var posts, badAuth, badSig, postbacks, badPostbacks sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/leads":
			if r.URL.Query().Get("key") != secretQuery || r.Header.Get("Authorization") != "Bearer "+secretSSMValue || r.Header.Get("X-Api-Key") != secretHeader {
				badAuth.Store(string(body), true)
			}
			if webhook.Verify([]string{secretWebhook, secretRotated}, r.Header, body, time.Now(), time.Minute) != nil {
				badSig.Store(string(body), true)
			}
			posts.Store(string(body), true)
			fmt.Fprint(w, `{"status":"ok"}`)
		case "/postback":
			if webhook.Verify([]string{secretPostback}, r.Header, body, time.Now(), time.Minute) != nil || r.URL.Query().Get("token") != secretQuery {
				badPostbacks.Store(string(body), true)
			}
			postbacks.Store(string(body), true)
		case "/ping":
			fmt.Fprint(w, `{"bid": 30.00, "bid_id": "b-1"}`)
		}
	}))
	defer srv.Close()
	doc := fmt.Sprintf(`
campaigns:
  - id: auto
    fields:
      phone: {type: phone, required: true, pii: true}
      state: {type: us_state, required: true}
  - id: solar
    distribution: ping_post
    fields:
      phone: {type: phone, pii: true}
      state: {type: us_state, required: true}
sources:
  - id: src
    campaigns: [auto, solar]
    api_key_sha256: %[1]q
    payout: {type: fixed, amount: 4.00}
    postback_url: "%[2]s/postback?token=%[3]s"
    postback_secret: %[4]q
buyers:
  - id: acme
    notify: {slack_url: "https://127.0.0.1:1/services/T0/B0/%[5]s"}
    delivery:
      type: webhook
      url: "%[2]s/leads?key=%[3]s"
      secret: %[6]q
      headers: {X-Api-Key: %[7]q}
      auth: {type: bearer, token: "ssm:%[8]s"}
    orders:
      - {campaign: auto, price: 25.00}
      - {campaign: solar, ping_url: "%[2]s/ping?token=%[9]s"}
`, sourceHash, srv.URL, secretQuery, secretPostback, secretSlack, secretWebhook, secretHeader, param, secretPingQ)
	logs := &lockedBuffer{}
	e := start(t, doc, func(o *Options) {
		o.Prefix = prefix
		o.Log = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	// seen are the answers; configViews those that show the document as
	// it is configured, where a URL keeps its query (an operator's own
	// URLs: only secret fields are write-only).
	var seen []string
	configViews := map[int]bool{}
	keep := func(r response) response {
		seen = append(seen, fmt.Sprint(r.Body))
		return r
	}
	view := func(body string) {
		configViews[len(seen)] = true
		seen = append(seen, body)
	}
	adm := map[string]string{"Authorization": "Bearer " + adminToken}

	// The run: leads sold (the buyer checks signature, query key, header
	// and the bearer token read from SSM), a ping claimed, postbacks sent.
	var ids []string
	for i := range 3 {
		r := keep(e.post(map[string]any{"phone": phone(100 + i), "state": "CA"}, nil))
		ids = append(ids, r.Body["lead_id"].(string))
	}
	ping := keep(e.doJSON("POST", "/v1/pings", map[string]any{"campaign": "solar", "fields": map[string]any{"state": "CA"}}))
	if ping.Status != 200 {
		t.Fatalf("ping: %d %v", ping.Status, ping.Body)
	}
	claim := keep(e.doJSON("POST", "/v1/leads", map[string]any{"campaign": "solar", "ping_id": ping.Body["ping_id"], "fields": map[string]any{"phone": phone(110), "state": "CA"}}))
	ids = append(ids, claim.Body["lead_id"].(string))
	for _, id := range ids {
		if st := e.waitStatus(id); st != "sold" {
			t.Fatalf("lead %s: %s", id, st)
		}
		keep(e.do("GET", "/v1/leads/"+id, "", "", map[string]string{"X-API-Key": sourceKey}))
		keep(e.do("GET", "/v1/admin/leads/"+id, "", "", adm))
	}
	count := func(m *sync.Map) int {
		n := 0
		m.Range(func(any, any) bool { n++; return true })
		return n
	}
	if count(&posts) != len(ids) || count(&badAuth) != 0 || count(&badSig) != 0 {
		t.Fatalf("buyer: %d posts, %d with a wrong key, header or token, %d unsigned", count(&posts), count(&badAuth), count(&badSig))
	}
	deadline := time.Now().Add(10 * time.Second)
	for count(&postbacks) < len(ids) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if count(&postbacks) < len(ids) || count(&badPostbacks) != 0 {
		t.Fatalf("postbacks: %d, %d badly signed", count(&postbacks), count(&badPostbacks))
	}

	// Every view of the configuration, a plan and a change of a secret.
	get := e.do("GET", "/v1/admin/config", "", "", adm)
	view(fmt.Sprint(get.Body))
	if d := get.Body["buyers"].([]any)[0].(map[string]any)["delivery"].(map[string]any); d["secret"] != config.SecretSet || d["auth"].(map[string]any)["token"] != "ssm:"+param {
		t.Fatalf("GET shows %v", d)
	}
	view(e.raw("GET", "/v1/admin/config", map[string]string{"Authorization": "Bearer " + adminToken, "Accept": "application/yaml"}))
	view(fmt.Sprint(e.do("GET", "/v1/admin/buyers/acme", "", "", adm).Body))
	view(fmt.Sprint(e.do("GET", "/v1/admin/sources/src", "", "", adm).Body))
	rotated := strings.Replace(doc, secretWebhook, secretRotated, 1)
	rotated = strings.Replace(rotated, "key="+secretQuery, "key="+secretQuery+"&v=2", 1)
	plan := keep(e.do("POST", "/v1/admin/config/plan", "application/yaml", rotated, adm))
	if plan.Status != 200 || !strings.Contains(fmt.Sprint(plan.Body), "delivery.secret") {
		t.Fatalf("plan: %d %v", plan.Status, plan.Body)
	}
	if r := keep(e.do("PUT", "/v1/admin/config", "application/yaml", rotated, adm)); r.Status != 200 || r.Body["changed"] != true {
		t.Fatalf("rotate: %d %v", r.Status, r.Body)
	}
	// The document as shown, put back, changes nothing.
	shown := e.raw("GET", "/v1/admin/config", map[string]string{"Authorization": "Bearer " + adminToken, "Accept": "application/yaml"})
	if r := keep(e.do("PUT", "/v1/admin/config", "application/yaml", shown, adm)); r.Status != 200 || r.Body["changed"] != false {
		t.Fatalf("the shown document put back: %d %v", r.Status, r.Body)
	}
	// A lead after the rotation is signed with the new secret.
	after := keep(e.post(map[string]any{"phone": phone(120), "state": "CA"}, nil))
	if st := e.waitStatus(after.Body["lead_id"].(string)); st != "sold" || count(&badSig) != 0 {
		t.Fatalf("after the rotation: %s, %d unsigned", st, count(&badSig))
	}
	keep(e.do("GET", "/v1/admin/audit", "", "", adm))
	keep(e.do("GET", "/v1/admin/leads?campaign=auto", "", "", adm))
	e.settle()

	// Nothing shown holds a secret; the stored document holds none in clear.
	stored := storedConfig(t, e)
	secrets := []string{secretWebhook, secretHeader, secretPostback, secretSlack, secretQuery, secretPingQ, secretSSMValue, secretRotated}
	for _, s := range secrets {
		query := s == secretQuery || s == secretPingQ
		for i, body := range seen {
			if query && configViews[i] {
				continue
			}
			if strings.Contains(body, s) {
				t.Errorf("answer %d holds %s: %.300s", i, s, body)
			}
		}
		if strings.Contains(logs.String(), s) {
			i := strings.Index(logs.String(), s)
			t.Errorf("a log line holds %s: …%s…", s, logs.String()[max(0, i-200):min(len(logs.String()), i+100)])
		}
		if s != secretQuery && s != secretPingQ && strings.Contains(stored, s) { // URLs are stored as given
			t.Errorf("the stored document holds %s in clear", s)
		}
	}
	if !strings.Contains(logs.String(), "Slack") {
		t.Error("the failed Slack notification was not logged: the test did not exercise it")
	}
}

// storedConfig is the configuration item's document as stored.
func storedConfig(t *testing.T, e *env) string {
	t.Helper()
	out, err := dynamodb.NewFromConfig(e.cfg).GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(e.r.App.Settings.Table),
		Key:       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "CONFIG"}, "sk": &types.AttributeValueMemberS{Value: "CURRENT"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(out.Item["doc"].(*types.AttributeValueMemberB).Value))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(zr)
	return string(raw)
}
