package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/leadrelay/leadrelay/shared/app/ingestapp"
	"github.com/leadrelay/leadrelay/shared/app/pingapp"
	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/settings"
)

const module = "github.com/leadrelay/leadrelay"

// loadDefaultConfig is the AWS clients config.LoadDefaultConfig links in
// every function (credentials: SSO, STS, console sign-in).
var loadDefaultConfig = []string{"signin", "sso", "ssooidc", "sts"}

// linked is what a function's bootstrap may link: the AWS service clients
// it calls, its one handler, and whether it validates phone numbers
// (github.com/nyaruka/phonenumbers: about 4 MB and 10 ms of init of its
// own, docs/deploy.md#cold-start).
var linked = map[string]struct {
	services []string
	handler  string
	phones   bool
}{
	"ingest": {[]string{"dynamodb", "sqs", "ssm"}, "ingest", true},
	// kms: the configuration's sealed secrets (admin seals them; router
	// and delivery open them for postbacks, signing, auth and Slack).
	"router":   {[]string{"dynamodb", "kms", "sqs"}, "router", false},
	"delivery": {[]string{"dynamodb", "kms", "sesv2", "sqs"}, "delivery", false},
	// ssm: the ad spend accounts' tokens, read on use by the admin
	// function's "spend" task.
	"admin":     {[]string{"dynamodb", "kms", "sqs", "ssm"}, "admin", true},
	"ping":      {[]string{"dynamodb", "ssm"}, "ping", true},
	"aggregate": {[]string{"dynamodb"}, "aggregate", false},
	"sweeper":   {[]string{"dynamodb", "sqs"}, "sweeper", false},
}

// Each function links only what it serves: the AWS clients its handler
// calls (beyond those config.LoadDefaultConfig brings), its own handler
// and no other, phonenumbers only if it validates phones, and nothing of
// the local runner, the CLI or the CDK app.
func TestFunctionsLinkOnlyWhatTheyServe(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out, err := exec.Command(goCmd, "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, module+"/functions/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	handlers := []string{"ingest", "router", "delivery", "admin", "ping", "aggregate", "sweeper"}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		fn := strings.TrimPrefix(f[0], module+"/functions/")
		want, ok := linked[fn]
		if !ok {
			t.Errorf("functions/%s: not in this test's table", fn)
			continue
		}
		seen++
		var services, hs []string
		phones := false
		for _, d := range f[1:] {
			if s, ok := strings.CutPrefix(d, "github.com/aws/aws-sdk-go-v2/service/"); ok && !strings.Contains(s, "/") &&
				!slices.Contains(loadDefaultConfig, s) {
				services = append(services, s)
			}
			if h, ok := strings.CutPrefix(d, module+"/shared/"); ok && slices.Contains(handlers, h) {
				hs = append(hs, h)
			}
			phones = phones || d == "github.com/nyaruka/phonenumbers"
			if d == module+"/shared/app" { // every handler: the local runner's
				t.Errorf("functions/%s links %s", fn, d)
			}
			for _, banned := range []string{module + "/localstack", module + "/cmd", module + "/infra",
				"github.com/aws/aws-cdk-go", "github.com/getkin/kin-openapi", "github.com/spf13/cobra"} {
				if d == banned || strings.HasPrefix(d, banned+"/") {
					t.Errorf("functions/%s links %s", fn, d)
				}
			}
		}
		slices.Sort(services)
		if !slices.Equal(services, want.services) {
			t.Errorf("functions/%s links the AWS clients %v, want %v", fn, services, want.services)
		}
		if !slices.Equal(hs, []string{want.handler}) {
			t.Errorf("functions/%s links the handlers %v, want [%s]", fn, hs, want.handler)
		}
		if phones != want.phones {
			t.Errorf("functions/%s links phonenumbers: %v, want %v", fn, phones, want.phones)
		}
	}
	if seen != len(linked) {
		t.Errorf("go list found %d functions, the table names %d", seen, len(linked))
	}
}

// fakeAWS answers SSM GetParameter with the secret (or 400 while failing)
// and DynamoDB with an empty item, and records the operations asked.
type fakeAWS struct {
	mu    sync.Mutex
	fail  bool
	calls []string
}

func (f *fakeAWS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	op := r.Header.Get("X-Amz-Target")
	f.mu.Lock()
	f.calls = append(f.calls, op)
	fail := f.fail
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	switch {
	case op == "AmazonSSM.GetParameter" && !fail:
		_ = json.NewEncoder(w).Encode(map[string]any{"Parameter": map[string]any{
			"Name": "/leadrelay/ping-secret", "Type": "SecureString", "Value": "0123456789abcdef0123456789abcdef"}})
	case strings.HasPrefix(op, "DynamoDB_"):
		_, _ = w.Write([]byte(`{}`))
	default:
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"__type":"ValidationException","message":"no"}`))
	}
}

func (f *fakeAWS) asked() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func fakeConfig(t *testing.T) (*fakeAWS, settings.Settings, aws.Config) {
	f := &fakeAWS{}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	s, err := settings.FromEnv(func(k string) string {
		return map[string]string{"LEADRELAY_PING_SECRET_PARAM": "/leadrelay/ping-secret"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
	return f, s, cfg
}

// Ingest reads the ping secret from SSM on the first claim that needs it,
// once; building it calls nothing.
func TestIngestReadsThePingSecretOnFirstUse(t *testing.T) {
	f, s, cfg := fakeConfig(t)
	h := ingestapp.New(s, cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if c := f.asked(); len(c) != 0 {
		t.Fatalf("building the ingest handler asked AWS %v", c)
	}
	for range 2 {
		if secret, err := h.PingSecret(t.Context()); err != nil || !bytes.Equal(secret, []byte("0123456789abcdef0123456789abcdef")) {
			t.Fatalf("ping secret: %q %v", secret, err)
		}
	}
	if c := f.asked(); !slices.Equal(c, []string{"AmazonSSM.GetParameter"}) {
		t.Fatalf("AWS asked %v, want one GetParameter", c)
	}
}

// The ping function answers 503 while its secret cannot be read, then
// serves once it can.
func TestPingAnswers503UntilItsSecretIsRead(t *testing.T) {
	f, s, cfg := fakeConfig(t)
	h := pingapp.New(s, cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if c := f.asked(); len(c) != 0 {
		t.Fatalf("building the ping handler asked AWS %v", c)
	}
	req := httpapi.Request{HTTPMethod: "POST", Path: "/v1/pings", Body: `{"campaign":"auto","fields":{}}`,
		Headers: map[string]string{"Content-Type": "application/json"}}
	f.mu.Lock()
	f.fail = true
	f.mu.Unlock()
	r, err := h.Handle(context.Background(), req)
	if err != nil || r.StatusCode != 503 || !strings.Contains(r.Body, `"unavailable"`) {
		t.Fatalf("without a secret: %d %s %v", r.StatusCode, r.Body, err)
	}
	f.mu.Lock()
	f.fail = false
	f.mu.Unlock()
	// Now the handler runs: the (empty) configuration knows no source key.
	if r, err = h.Handle(context.Background(), req); err != nil || r.StatusCode != 401 {
		t.Fatalf("with the secret: %d %s %v", r.StatusCode, r.Body, err)
	}
	if c := f.asked(); len(c) != 3 || c[0] != "AmazonSSM.GetParameter" || c[1] != "AmazonSSM.GetParameter" || !strings.HasPrefix(c[2], "DynamoDB_") {
		t.Fatalf("AWS asked %v", c)
	}
}

// Ingest reads the Meta app secret from SSM on the first notification,
// once; building it calls nothing. Without a secret or its parameter,
// asking for it fails (the webhook answers 503).
func TestIngestReadsTheMetaSecretOnFirstUse(t *testing.T) {
	f, _, cfg := fakeConfig(t)
	s, err := settings.FromEnv(func(k string) string {
		return map[string]string{"LEADRELAY_META_APP_SECRET_PARAM": "/leadrelay/meta-app-secret"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	h := ingestapp.New(s, cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if c := f.asked(); len(c) != 0 {
		t.Fatalf("building the ingest handler asked AWS %v", c)
	}
	for range 2 {
		if secret, err := h.MetaSecret(t.Context()); err != nil || !bytes.Equal(secret, []byte("0123456789abcdef0123456789abcdef")) {
			t.Fatalf("Meta secret: %q %v", secret, err)
		}
	}
	if c := f.asked(); !slices.Equal(c, []string{"AmazonSSM.GetParameter"}) {
		t.Fatalf("AWS asked %v, want one GetParameter", c)
	}
	none, _ := settings.FromEnv(func(string) string { return "" })
	if _, err := ingestapp.New(none, cfg, slog.New(slog.NewJSONHandler(io.Discard, nil))).MetaSecret(t.Context()); err == nil {
		t.Fatal("a Meta secret without one configured")
	}
}
