package runner

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/leadrelay/leadrelay/localstack/emulator"
	"github.com/leadrelay/leadrelay/shared/admin"
	"github.com/leadrelay/leadrelay/shared/money"
)

const (
	spendClientID     = "1234-abc.apps.googleusercontent.com"
	spendClientSecret = "GOCSPX-SpendClientSecret"
	spendRefreshToken = "1//0SpendRefreshToken"
)

// A Google account with an OAuth client: the import reads its client
// secret and refresh token from SSM, exchanges them at the token endpoint
// (LEADRELAY_GOOGLE_TOKEN_URL's fake) once for two imports, and reads
// Google Ads with the access token it got.
func TestSpendImportRefreshesGoogleTokens(t *testing.T) {
	p := newAdPlatforms(t)
	var (
		mu        sync.Mutex
		exchanges int
		refused   []string
	)
	token := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		exchanges++
		if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "refresh_token" || r.PostForm.Get("client_id") != spendClientID ||
			r.PostForm.Get("client_secret") != spendClientSecret || r.PostForm.Get("refresh_token") != spendRefreshToken {
			refused = append(refused, fmt.Sprint(r.PostForm))
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant","error_description":"Bad Request"}`)
			return
		}
		// The fake Google Ads API takes spendGoogleToken only.
		fmt.Fprintf(w, `{"access_token":%q,"expires_in":3599,"token_type":"Bearer"}`, spendGoogleToken)
	}))
	t.Cleanup(token.Close)
	cfg := emulator.Config(t)
	dir := "/" + strings.TrimSuffix(emulator.Name("leadrelay/spend-oauth-"), "-")
	for name, v := range map[string]string{"/meta": spendMetaToken, "/client-secret": spendClientSecret, "/refresh": spendRefreshToken, "/dev": spendDevToken} {
		if _, err := ssm.NewFromConfig(cfg).PutParameter(context.Background(), &ssm.PutParameterInput{
			Name: aws.String(dir + name), Value: aws.String(v), Type: ssmtypes.ParameterTypeSecureString, Overwrite: aws.Bool(true),
		}); err != nil {
			t.Fatal(err)
		}
	}
	doc := campaignYAML("http://127.0.0.1:9/buyer", "daily: 100") + fmt.Sprintf(`
integrations:
  spend:
    - platform: meta
      account_id: act_1001
      access_token: "ssm:%[1]s/meta"
      map:
        "100": {source: src, campaign: auto}
        "101": {source: src, campaign: auto}
    - platform: google
      account_id: "1234567890"
      client_id: %[2]q
      client_secret: "ssm:%[1]s/client-secret"
      refresh_token: "ssm:%[1]s/refresh"
      developer_token: "ssm:%[1]s/dev"
      map:
        "777": {source: src, campaign: auto}
`, dir, spendClientID)
	e := start(t, doc, func(o *Options) {
		o.MetaGraphURL = p.meta.URL + "/v21.0"
		o.GoogleAdsURL = p.google.URL + "/v18"
		o.GoogleTokenURL = token.URL + "/token"
	})
	const want = money.Amount(500 + 350 + 123)
	for run := 1; run <= 2; run++ {
		if err := e.r.Admin.RunTask(context.Background(), admin.Task{Task: admin.TaskSpend}); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		var total money.Amount
		for _, r := range e.report(p.since, p.until, "source") {
			total += r.AdSpend
		}
		if total != want {
			t.Fatalf("run %d: ad_spend %s, want %s", run, total.Decimal(), want.Decimal())
		}
	}
	mu.Lock()
	defer mu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	if exchanges != 1 || len(refused) > 0 || len(p.bad) > 0 {
		t.Fatalf("%d exchanges (want 1), refused %v, platforms refused %v", exchanges, refused, p.bad)
	}
}
