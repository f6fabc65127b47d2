package admin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/adspend"
	"github.com/leadrelay/leadrelay/shared/config"
)

const (
	oauthClientID     = "1234-abc.apps.googleusercontent.com"
	oauthClientSecret = "GOCSPX-secretClientSecret"
	oauthRefresh      = "1//0secretRefreshToken"
	oauthRevoked      = "1//0secretRevokedToken"
	oauthDevToken     = "secretDevToken"
)

// oauthSpendYAML has two Google accounts read with the OAuth client: the
// first's refresh token is good, the second's consent was revoked.
const oauthSpendYAML = `
timezone: America/New_York
campaigns:
  - id: auto
    fields: {phone: {type: phone}}
  - id: solar
    fields: {phone: {type: phone}}
sources:
  - {id: fb, campaigns: [auto, solar], api_key_sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}
  - {id: gads, campaigns: [solar], api_key_sha256: "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"}
buyers: []
integrations:
  spend:
    - platform: google
      account_id: "1234567890"
      client_id: "1234-abc.apps.googleusercontent.com"
      client_secret: "ssm:/leadrelay/google/client-secret"
      refresh_token: "ssm:/leadrelay/google/refresh-token"
      developer_token: "ssm:/leadrelay/google/dev"
      map:
        "777": {source: gads, campaign: solar}
    - platform: google
      account_id: "2222222222"
      client_id: "1234-abc.apps.googleusercontent.com"
      client_secret: "ssm:/leadrelay/google/client-secret"
      refresh_token: "ssm:/leadrelay/google/revoked"
      developer_token: "ssm:/leadrelay/google/dev"
      map:
        "888": {source: fb, campaign: auto}
`

// memRefs resolves references from a map.
type memRefs map[string]string

func (r memRefs) Resolve(_ context.Context, ref string) (string, error) {
	if v, ok := r[ref]; ok {
		return v, nil
	}
	return "", fmt.Errorf("no parameter %s", ref)
}

// googleFakes are Google's token endpoint and Google Ads API on loopback:
// the token endpoint answers "ya29.fresh-<n>" to the good refresh token's
// n-th exchange and invalid_grant to the revoked one; Google Ads answers
// a campaign's cost only to the latest token issued.
type googleFakes struct {
	token, ads *httptest.Server
	mu         sync.Mutex
	exchanges  map[string]int // by refresh token
	issued     string
	bearers    []string // what Google Ads received
	bad        []string
}

func newGoogleFakes(t *testing.T) *googleFakes {
	g := &googleFakes{exchanges: map[string]int{}}
	g.token = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		defer g.mu.Unlock()
		if err := r.ParseForm(); err != nil || r.Method != http.MethodPost || r.PostForm.Get("grant_type") != "refresh_token" ||
			r.PostForm.Get("client_id") != oauthClientID || r.PostForm.Get("client_secret") != oauthClientSecret {
			g.bad = append(g.bad, fmt.Sprintf("token %s %v", r.Method, r.PostForm))
		}
		rt := r.PostForm.Get("refresh_token")
		g.exchanges[rt]++
		w.Header().Set("Content-Type", "application/json")
		if rt != oauthRefresh {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant","error_description":"Token has been expired or revoked."}`)
			return
		}
		g.issued = fmt.Sprintf("ya29.fresh-%d", g.exchanges[rt])
		fmt.Fprintf(w, `{"access_token":%q,"expires_in":3599,"token_type":"Bearer"}`, g.issued)
	}))
	t.Cleanup(g.token.Close)
	between := regexp.MustCompile(`BETWEEN '([0-9-]+)' AND '([0-9-]+)'`)
	g.ads = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		g.mu.Lock()
		defer g.mu.Unlock()
		bearer := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		g.bearers = append(g.bearers, bearer)
		m := between.FindStringSubmatch(string(body))
		if bearer == "" || bearer != g.issued || r.Header.Get("developer-token") != oauthDevToken ||
			r.URL.Path != "/v18/customers/1234567890/googleAds:searchStream" || m == nil {
			g.bad = append(g.bad, fmt.Sprintf("ads %s with %q (issued %q)", r.URL.Path, bearer, g.issued))
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `[{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}]`)
			return
		}
		fmt.Fprintf(w, `[{"results":[{"campaign":{"id":"777"},"segments":{"date":%q},"metrics":{"costMicros":"1234999"}}]}]`, m[2])
	}))
	t.Cleanup(g.ads.Close)
	t.Cleanup(func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if len(g.bad) > 0 {
			t.Errorf("the fakes were asked %v", g.bad)
		}
	})
	return g
}

// oauthFixture is the admin handler over the real ad spend client, its
// token source and the import on one settable clock.
func oauthFixture(t *testing.T, g *googleFakes) (*Handler, *spendLedger, *bytes.Buffer, *time.Time) {
	t.Helper()
	c, err := config.Parse([]byte(oauthSpendYAML))
	if err != nil {
		t.Fatal(err)
	}
	// 15:00 UTC on the 2nd: the days are the 1st and the 2nd in New York.
	now := time.Date(2026, 12, 2, 15, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	lg, logs := &spendLedger{}, &bytes.Buffer{}
	h := &Handler{
		Store: &configStore{cfg: c}, Ledger: lg, Now: clock, Log: slog.New(slog.NewJSONHandler(logs, nil)),
		AdSpend: &adspend.Client{
			Google:      &adspend.Google{BaseURL: g.ads.URL + "/v18"},
			GoogleOAuth: &adspend.GoogleOAuth{TokenURL: g.token.URL + "/token", Now: clock},
			Refs: memRefs{
				"ssm:/leadrelay/google/client-secret": oauthClientSecret, "ssm:/leadrelay/google/refresh-token": oauthRefresh,
				"ssm:/leadrelay/google/revoked": oauthRevoked, "ssm:/leadrelay/google/dev": oauthDevToken,
			},
		},
	}
	return h, lg, logs, &now
}

// Two imports within the hour exchange the refresh token once and read
// Google Ads with the refreshed token; an hour later the token has
// expired and the next import refreshes it. The account whose consent was
// revoked fails each time with invalid_grant, named in the log and the
// error, and the spend it maps to is not written.
func TestImportSpendGoogleOAuth(t *testing.T) {
	g := newGoogleFakes(t)
	h, lg, logs, now := oauthFixture(t, g)
	run := func() error {
		t.Helper()
		err := h.RunTask(t.Context(), Task{Task: TaskSpend})
		if err == nil {
			t.Fatal("the revoked account's import did not fail")
		}
		return err
	}
	err := run()
	*now = now.Add(30 * time.Minute)
	run()
	g.mu.Lock()
	if g.exchanges[oauthRefresh] != 1 || strings.Join(g.bearers, " ") != "ya29.fresh-1 ya29.fresh-1" {
		t.Errorf("after two imports: %d exchanges, Google Ads got %v", g.exchanges[oauthRefresh], g.bearers)
	}
	g.mu.Unlock()
	*now = now.Add(time.Hour)
	run()
	g.mu.Lock()
	if g.exchanges[oauthRefresh] != 2 || strings.Join(g.bearers, " ") != "ya29.fresh-1 ya29.fresh-1 ya29.fresh-2" {
		t.Errorf("after the token expired: %d exchanges, Google Ads got %v", g.exchanges[oauthRefresh], g.bearers)
	}
	// A refused refresh token is not kept: each import asks again.
	if g.exchanges[oauthRevoked] != 3 {
		t.Errorf("the revoked token was exchanged %d times, want 3", g.exchanges[oauthRevoked])
	}
	g.mu.Unlock()

	if !errors.Is(err, adspend.ErrRefreshRefused) || !strings.Contains(err.Error(), "google:2222222222") ||
		!strings.Contains(err.Error(), "invalid_grant") || strings.Contains(err.Error(), "google:1234567890") {
		t.Errorf("err %v", err)
	}
	// Only the good account's target is written, each time; fb/auto,
	// the revoked account's, is kept as it was.
	if len(lg.set) != 3 {
		t.Fatalf("SetSpend called %d times", len(lg.set))
	}
	for i, s := range lg.set {
		if got, want := shownSpends(s), "google/gads/solar/2026-12-01=0 google/gads/solar/2026-12-02=1.23"; got != want {
			t.Errorf("import %d set %s, want %s", i+1, got, want)
		}
	}
	out := logs.String()
	if !strings.Contains(out, `"account":"google:2222222222"`) || !strings.Contains(out, "invalid_grant") || !strings.Contains(out, `"kept":["fb/auto"]`) {
		t.Errorf("logs:\n%s", out)
	}
	for _, secret := range []string{oauthClientSecret, oauthRefresh, oauthRevoked, oauthDevToken, "ya29.fresh"} {
		if strings.Contains(out, secret) || strings.Contains(err.Error(), secret) {
			t.Errorf("%s is in the logs or the error", secret)
		}
	}
}
