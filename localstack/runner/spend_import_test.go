package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
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
	spendMetaToken   = "EAASpendToken456"
	spendGoogleToken = "ya29.SpendToken789"
	spendDevToken    = "SpendDevToken000"
)

// adPlatforms are fake Meta Marketing and Google Ads APIs on loopback:
// each answers spend on the days it is asked for, and remembers them.
type adPlatforms struct {
	meta, google *httptest.Server
	mu           sync.Mutex
	since, until string
	calls        int
	bad          []string
}

func newAdPlatforms(t *testing.T) *adPlatforms {
	p := &adPlatforms{}
	p.meta = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		p.mu.Lock()
		defer p.mu.Unlock()
		p.calls++
		if r.URL.Path != "/v21.0/act_1001/insights" || q.Get("access_token") != spendMetaToken || q.Get("level") != "campaign" {
			p.bad = append(p.bad, "meta "+r.URL.Path)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if q.Get("after") == "" {
			var tr struct{ Since, Until string }
			_ = json.Unmarshal([]byte(q.Get("time_range")), &tr)
			p.since, p.until = tr.Since, tr.Until
			// The since day on the first page, the until day on the next.
			fmt.Fprintf(w, `{"data":[{"spend":"5.00","campaign_id":"100","date_start":%q},{"spend":"3.00","campaign_id":"999","date_start":%q}],
				"paging":{"next":%q}}`, tr.Since, tr.Since, p.meta.URL+r.URL.Path+"?access_token="+spendMetaToken+"&level=campaign&after=p2")
			return
		}
		fmt.Fprintf(w, `{"data":[{"spend":"2.50","campaign_id":"100","date_start":%[1]q},{"spend":"1.00","campaign_id":"101","date_start":%[1]q}],"paging":{}}`, p.until)
	}))
	t.Cleanup(p.meta.Close)
	between := regexp.MustCompile(`BETWEEN '([0-9-]+)' AND '([0-9-]+)'`)
	p.google = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		defer p.mu.Unlock()
		p.calls++
		m := between.FindStringSubmatch(string(body))
		if r.URL.Path != "/v18/customers/1234567890/googleAds:searchStream" || m == nil ||
			r.Header.Get("Authorization") != "Bearer "+spendGoogleToken || r.Header.Get("developer-token") != spendDevToken {
			p.bad = append(p.bad, "google "+r.URL.Path+" "+string(body))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, `[{"results":[{"campaign":{"id":"777"},"segments":{"date":%q},"metrics":{"costMicros":"1234999"}}]}]`, m[2])
	}))
	t.Cleanup(p.google.Close)
	return p
}

// The hourly import sets each platform's spend of yesterday and today:
// run twice, the P&L's ad_spend is one import's; a manual import of the
// same source and day is kept apart, and the platforms' next import does
// not replace it.
func TestSpendImportReplacesAndKeepsOriginsApart(t *testing.T) {
	p := newAdPlatforms(t)
	cfg := emulator.Config(t)
	dir := "/" + strings.TrimSuffix(emulator.Name("leadrelay/spend-"), "-")
	for name, v := range map[string]string{"/meta": spendMetaToken, "/google": spendGoogleToken, "/dev": spendDevToken} {
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
      access_token: "ssm:%[1]s/google"
      developer_token: "ssm:%[1]s/dev"
      map:
        "777": {source: src, campaign: auto}
`, dir)
	e := start(t, doc, func(o *Options) {
		o.MetaGraphURL = p.meta.URL + "/v21.0"
		o.GoogleAdsURL = p.google.URL + "/v18"
	})
	adSpend := func() money.Amount {
		t.Helper()
		var total money.Amount
		for _, r := range e.report(p.since, p.until, "source") {
			total += r.AdSpend
		}
		return total
	}
	// 5.00 (Meta, the first day) + 3.50 (Meta, the second: two campaigns)
	// + 1.23 (Google, 1,234,999 micros); Meta's unmapped 3.00 is not.
	const want = money.Amount(500 + 350 + 123)
	for run := 1; run <= 2; run++ {
		if err := e.r.Admin.RunTask(context.Background(), admin.Task{Task: admin.TaskSpend}); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if got := adSpend(); got != want {
			t.Fatalf("run %d: ad_spend %s, want %s (one import, not %d)", run, got.Decimal(), want.Decimal(), run)
		}
	}
	p.mu.Lock()
	calls, bad := p.calls, p.bad
	p.mu.Unlock()
	if calls != 6 || len(bad) > 0 || p.since == "" || p.since == p.until {
		t.Fatalf("platform calls %d, refused %v, days %s..%s", calls, bad, p.since, p.until)
	}
	// A manual import for the same source and day adds up with the
	// platforms' figures, and survives their next import.
	r := e.do("POST", "/v1/admin/spend", "application/json",
		fmt.Sprintf(`{"source":"src","campaign":"auto","date":%q,"amount":10.00}`, p.until), map[string]string{"Authorization": "Bearer " + adminToken})
	if r.Status != http.StatusOK {
		t.Fatalf("manual import: %d %v", r.Status, r.Body)
	}
	if got := adSpend(); got != want+1000 {
		t.Fatalf("with the manual import: ad_spend %s, want %s", got.Decimal(), (want + 1000).Decimal())
	}
	if err := e.r.Admin.RunTask(context.Background(), admin.Task{Task: admin.TaskSpend}); err != nil {
		t.Fatal(err)
	}
	if got := adSpend(); got != want+1000 {
		t.Fatalf("after another import: ad_spend %s, want %s", got.Decimal(), (want + 1000).Decimal())
	}
}
