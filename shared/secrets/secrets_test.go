package secrets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/leadrelay/leadrelay/shared/config"
)

var key = bytes.Repeat([]byte{7}, 32)

const doc = `
campaigns:
  - id: auto
    fields: {phone: {type: phone}}
sources:
  - id: src
    campaigns: [auto]
    api_key_sha256: "1855dc05b1f481bcb91a6a2df592d1719cdc0b9f2e8a1a2e49d06bc8b064e155"
    postback_url: https://src.example/pb?token=QUERYSECRET
    postback_secret: PBSECRET
buyers:
  - id: acme
    notify: {slack_url: "https://hooks.slack.com/services/T0/B0/SLACKSECRET"}
    delivery:
      type: webhook
      url: https://acme.example/leads
      secret: whsec_V0hTRUNSRVQ=
      headers: {X-Api-Key: HEADERSECRET}
      auth: {type: bearer, token: "ssm:/leadrelay/acme/token"}
`

func parseDoc(t *testing.T) *config.Config {
	t.Helper()
	c, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type fakeParams map[string]string

func (f fakeParams) Parameter(_ context.Context, name string) (string, error) {
	if v, ok := f[name]; ok {
		return v, nil
	}
	return "", errors.New("no such parameter")
}

func TestSealedDocumentsHoldNoSecretAndOpenBack(t *testing.T) {
	ctx := context.Background()
	k := Local{Key: key}
	next := parseDoc(t)
	if err := Seal(ctx, next, &config.Config{}, k); err != nil {
		t.Fatal(err)
	}
	raw, _ := next.JSON()
	for _, s := range []string{"PBSECRET", "SLACKSECRET", "V0hTRUNSRVQ", "HEADERSECRET"} {
		if bytes.Contains(raw, []byte(s)) {
			t.Fatalf("the sealed document holds %s: %s", s, raw)
		}
	}
	if !bytes.Contains(raw, []byte(`"ssm:/leadrelay/acme/token"`)) {
		t.Fatal("a reference is kept as it is")
	}
	// The stored document parses (a sealed Slack URL is not a URL).
	again, err := config.Parse(raw)
	if err != nil {
		t.Fatalf("a sealed document does not parse: %v", err)
	}
	// Applying the same document again keeps every sealed value.
	next2 := parseDoc(t)
	if err := Seal(ctx, next2, again, k); err != nil {
		t.Fatal(err)
	}
	if raw2, _ := next2.JSON(); !bytes.Equal(raw, raw2) {
		t.Fatalf("the same document sealed again differs:\n%s\n%s", raw, raw2)
	}
	// The functions open it back: values, and the reference resolved.
	p := &Params{Resolver: fakeParams{"/leadrelay/acme/token": "TOKENSECRET"}}
	if err := Open(ctx, again, k, p); err != nil {
		t.Fatal(err)
	}
	b := again.Buyers[0]
	if b.Delivery.Secret != "whsec_V0hTRUNSRVQ=" || b.Delivery.Headers["X-Api-Key"] != "HEADERSECRET" ||
		b.Notify.SlackURL != "https://hooks.slack.com/services/T0/B0/SLACKSECRET" || b.Delivery.Auth.Token != "TOKENSECRET" ||
		again.Sources[0].PostbackSecret != "PBSECRET" {
		t.Fatalf("opened %+v %+v", b, again.Sources[0])
	}
	// Another key opens nothing.
	if err := Open(ctx, mustParse(t, raw), Local{Key: bytes.Repeat([]byte{8}, 32)}, p); err == nil {
		t.Fatal("a sealed value opened with another key")
	}
}

func mustParse(t *testing.T, raw []byte) *config.Config {
	t.Helper()
	c, err := config.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestShownSecretsAndKeptMarkers(t *testing.T) {
	c := parseDoc(t)
	shown := config.ShowSecrets(c)
	raw, _ := shown.JSON()
	for _, s := range []string{"PBSECRET", "SLACKSECRET", "V0hTRUNSRVQ", "HEADERSECRET"} {
		if bytes.Contains(raw, []byte(s)) {
			t.Fatalf("shown document holds %s", s)
		}
	}
	if shown.Buyers[0].Delivery.Auth.Token != "ssm:/leadrelay/acme/token" || shown.Buyers[0].Delivery.Secret != config.SecretSet {
		t.Fatalf("shown %+v", shown.Buyers[0].Delivery)
	}
	// A document put back as it was shown keeps the stored values.
	back := mustParse(t, raw)
	if err := config.KeepSecrets(back, c); err != nil {
		t.Fatal(err)
	}
	if back.Buyers[0].Delivery.Secret != c.Buyers[0].Delivery.Secret || back.Buyers[0].Delivery.Headers["X-Api-Key"] != "HEADERSECRET" {
		t.Fatalf("kept %+v", back.Buyers[0].Delivery)
	}
	// "(set)" where nothing is stored is refused, naming the field.
	err := config.KeepSecrets(mustParse(t, raw), &config.Config{})
	var ce *config.Error
	if !errors.As(err, &ce) || len(ce.Problems) != 4 || !strings.Contains(ce.Error(), "buyers[acme].delivery.secret") {
		t.Fatalf("keep without a stored value: %v", err)
	}
}

type fakeKMS struct{ generated, decrypted int }

func (f *fakeKMS) GenerateDataKey(_ context.Context, in *kms.GenerateDataKeyInput, _ ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error) {
	f.generated++
	plain := bytes.Repeat([]byte{9}, 32)
	return &kms.GenerateDataKeyOutput{Plaintext: plain, CiphertextBlob: append([]byte("enc:"), plain...), KeyId: in.KeyId}, nil
}

func (f *fakeKMS) Decrypt(_ context.Context, in *kms.DecryptInput, _ ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	f.decrypted++
	blob, ok := bytes.CutPrefix(in.CiphertextBlob, []byte("enc:"))
	if !ok {
		return nil, errors.New("InvalidCiphertextException")
	}
	return &kms.DecryptOutput{Plaintext: blob}, nil
}

func TestKMSEnvelope(t *testing.T) {
	ctx := context.Background()
	api := &fakeKMS{}
	sealer := &KMS{API: api, KeyID: "alias/leadrelay"}
	a, _ := sealer.Seal(ctx, "one")
	b, _ := sealer.Seal(ctx, "two")
	if api.generated != 1 {
		t.Fatalf("%d data keys for one process", api.generated)
	}
	opener := &KMS{API: api, KeyID: "alias/leadrelay"} // another process
	for want, sealed := range map[string]string{"one": a, "two": b} {
		if got, err := opener.Open(ctx, sealed); err != nil || got != want {
			t.Fatalf("open: %q %v", got, err)
		}
	}
	if api.decrypted != 1 {
		t.Fatalf("%d KMS decrypts for one data key", api.decrypted)
	}
	local, _ := Local{Key: key}.Seal(ctx, "x")
	if _, err := opener.Open(ctx, local); err == nil {
		t.Fatal("a locally sealed value opened with KMS")
	}
}

func TestParamsCacheAndKeepTheLastGoodValue(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	store := fakeParams{"/p": "v1"}
	p := &Params{Resolver: store, TTL: time.Minute, Now: func() time.Time { return now }}
	ctx := context.Background()
	if v, _ := p.Get(ctx, "ssm:/p"); v != "v1" {
		t.Fatal(v)
	}
	store["/p"] = "v2"
	if v, _ := p.Get(ctx, "ssm:/p"); v != "v1" {
		t.Fatalf("within the TTL: %s", v)
	}
	now = now.Add(2 * time.Minute)
	if v, _ := p.Get(ctx, "ssm:/p"); v != "v2" {
		t.Fatalf("after the TTL: %s", v)
	}
	delete(store, "/p")
	now = now.Add(2 * time.Minute)
	if v, err := p.Get(ctx, "ssm:/p"); err != nil || v != "v2" {
		t.Fatalf("the store failing: %q %v; want the last good value", v, err)
	}
	if _, err := p.Get(ctx, "ssm:/missing"); err == nil {
		t.Fatal("a missing parameter resolved")
	}
}

func TestExtensionReadsThroughTheLocalEndpoint(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/systemsmanager/parameters/get" || r.URL.Query().Get("name") != "/leadrelay/x" ||
			r.URL.Query().Get("withDecryption") != "true" || r.Header.Get("X-Aws-Parameters-Secrets-Token") != "session" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, `{"Parameter":{"Name":"/leadrelay/x","Type":"SecureString","Value":"s3cret"}}`)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	t.Setenv("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", u.Port())
	t.Setenv("AWS_SESSION_TOKEN", "session")
	if v, err := (Extension{}).Parameter(context.Background(), "/leadrelay/x"); err != nil || v != "s3cret" {
		t.Fatalf("%q %v", v, err)
	}
	if _, err := (Extension{}).Parameter(context.Background(), "/leadrelay/missing"); err == nil {
		t.Fatal("a refused read resolved")
	}
}

// A Meta page's access_token is resolved by the ingest function when it
// fetches a lead, not when a function opens the configuration: Open
// leaves the reference (and reads no parameter for it), Seal keeps it.
func TestOpenLeavesReferencesResolvedOnUse(t *testing.T) {
	ctx := context.Background()
	c := mustParse(t, []byte(doc+`
integrations:
  meta:
    verify_token_sha256: "9f27ea7db11f88dfa8b23793907b882c46c8bfe5fff01f0c5d50ed362310378b"
    pages:
      - page_id: "1234567890"
        access_token: "ssm:/leadrelay/meta/page"
        forms: [{form_id: "555", source: src, campaign: auto, fields: {phone_number: phone}}]
`))
	if err := Seal(ctx, c, &config.Config{}, Local{Key: key}); err != nil {
		t.Fatal(err)
	}
	asked := fakeParams{"/leadrelay/acme/token": "TOKENSECRET"} // no /leadrelay/meta/page: reading it fails
	if err := Open(ctx, c, Local{Key: key}, &Params{Resolver: asked}); err != nil {
		t.Fatalf("open: %v", err)
	}
	if got := c.Integrations.Meta.Pages[0].AccessToken; got != "ssm:/leadrelay/meta/page" {
		t.Fatalf("the page token is %q, want the reference", got)
	}
	if c.Buyers[0].Delivery.Auth.Token != "TOKENSECRET" {
		t.Fatal("the other references are resolved")
	}
}
