package adspend

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
)

const (
	clientID     = "1234-abc.apps.googleusercontent.com"
	clientSecret = "GOCSPX-secretClientSecret"
	refreshToken = "1//0secretRefreshToken"
)

// tokenEndpoint is a fake Google token endpoint: it checks the refresh
// grant and answers access tokens numbered by exchange ("ya29.fresh-1"…),
// or fail's answer when set.
type tokenEndpoint struct {
	*httptest.Server
	exchanges atomic.Int32
	mu        sync.Mutex
	fail      string // an error answer's body, answered with status
	status    int
	expiresIn string
	bad       []string
}

func newTokenEndpoint(t *testing.T) *tokenEndpoint {
	e := &tokenEndpoint{expiresIn: "3599"}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := e.exchanges.Add(1)
		e.mu.Lock()
		defer e.mu.Unlock()
		if r.Method != http.MethodPost || r.URL.Path != "/token" || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			e.bad = append(e.bad, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type"))
		}
		if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "refresh_token" || r.PostForm.Get("client_id") != clientID ||
			r.PostForm.Get("client_secret") != clientSecret || !strings.HasPrefix(r.PostForm.Get("refresh_token"), refreshToken) || len(r.URL.RawQuery) > 0 {
			e.bad = append(e.bad, fmt.Sprintf("form %v (%v)", r.PostForm, err))
		}
		w.Header().Set("Content-Type", "application/json")
		if e.fail != "" {
			w.WriteHeader(e.status)
			fmt.Fprint(w, e.fail)
			return
		}
		fmt.Fprintf(w, `{"access_token":"ya29.fresh-%d","expires_in":%s,"scope":"https://www.googleapis.com/auth/adwords","token_type":"Bearer"}`, n, e.expiresIn)
	}))
	t.Cleanup(func() {
		e.Close()
		e.mu.Lock()
		defer e.mu.Unlock()
		if len(e.bad) > 0 {
			t.Errorf("the token endpoint was asked %v", e.bad)
		}
	})
	return e
}

// googleAds is a fake searchStream that answers one row to the Bearer
// token it expects, 401 to any other.
func googleAds(t *testing.T, want *string, calls *atomic.Int32) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if got := r.Header.Get("Authorization"); got != "Bearer "+*want || r.Header.Get("developer-token") != devToken {
			t.Errorf("Google Ads got Authorization %q, want the refreshed token %q", got, *want)
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `[{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}]`)
			return
		}
		fmt.Fprint(w, `[{"results":[{"campaign":{"id":"777"},"segments":{"date":"2024-05-01"},"metrics":{"costMicros":"1000000"}}]}]`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var oauthAccount = config.SpendAccount{
	Platform: "google", AccountID: "1234567890", ClientID: clientID,
	ClientSecret: "ssm:/leadrelay/google/client-secret", RefreshToken: "ssm:/leadrelay/google/refresh-token", DeveloperToken: "ssm:/d",
}

var oauthRefs = refs{"ssm:/leadrelay/google/client-secret": clientSecret, "ssm:/leadrelay/google/refresh-token": refreshToken, "ssm:/d": devToken}

// A Google account with an OAuth client reads with the access token its
// refresh token gets: one exchange serves imports until 60 s before the
// token expires; then a new one is exchanged and used.
func TestGoogleOAuthRefreshesAndKeeps(t *testing.T) {
	te := newTokenEndpoint(t)
	want := "ya29.fresh-1"
	var adsCalls atomic.Int32
	ads := googleAds(t, &want, &adsCalls)
	clk := &clock{now: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}
	c := &Client{
		Google:      &Google{BaseURL: ads.URL},
		GoogleOAuth: &GoogleOAuth{TokenURL: te.URL + "/token", Now: clk.Now},
		Refs:        oauthRefs,
	}
	spend := func() {
		t.Helper()
		rows, err := c.Spend(t.Context(), &oauthAccount, "2024-05-01", "2024-05-01")
		if err != nil || len(rows) != 1 || rows[0].Amount != 100 {
			t.Fatalf("rows %v, %v", rows, err)
		}
	}
	spend()
	clk.Add(30 * time.Minute)
	spend()
	if n := te.exchanges.Load(); n != 1 {
		t.Fatalf("%d exchanges for two imports within the hour, want 1", n)
	}
	// 3599 s less the 60 s margin: still the first token 1 s before…
	clk.Add(3599*time.Second - 60*time.Second - 30*time.Minute - time.Second)
	spend()
	if n := te.exchanges.Load(); n != 1 {
		t.Fatalf("%d exchanges before the margin, want 1", n)
	}
	// …and a new one from then on.
	clk.Add(time.Second)
	want = "ya29.fresh-2"
	spend()
	spend()
	if n, m := te.exchanges.Load(), adsCalls.Load(); n != 2 || m != 5 {
		t.Fatalf("%d exchanges and %d Google Ads calls, want 2 and 5", n, m)
	}
}

// Each refresh token has its access token; another client id is another
// token even for the same refresh token.
func TestGoogleOAuthKeepsTokensApart(t *testing.T) {
	te := newTokenEndpoint(t)
	o := &GoogleOAuth{TokenURL: te.URL + "/token"}
	ctx := t.Context()
	a, err := o.Token(ctx, GoogleCredentials{clientID, clientSecret, refreshToken + "-a"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := o.Token(ctx, GoogleCredentials{clientID, clientSecret, refreshToken + "-b"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := o.Token(ctx, GoogleCredentials{clientID, clientSecret, refreshToken + "-a"})
	if err != nil {
		t.Fatal(err)
	}
	if a == b || again != a || te.exchanges.Load() != 2 {
		t.Fatalf("tokens %s %s %s after %d exchanges", a, b, again, te.exchanges.Load())
	}
	for k := range o.tokens {
		if strings.Contains(fmt.Sprint(k), refreshToken) {
			t.Fatalf("the cache keeps the refresh token: %v", k)
		}
	}
}

// Concurrent callers with the same credentials share one exchange.
func TestGoogleOAuthConcurrent(t *testing.T) {
	te := newTokenEndpoint(t)
	o := &GoogleOAuth{TokenURL: te.URL + "/token"}
	var wg sync.WaitGroup
	tokens := make([]string, 20)
	for i := range tokens {
		wg.Go(func() {
			v, err := o.Token(context.Background(), GoogleCredentials{clientID, clientSecret, refreshToken})
			if err != nil {
				t.Error(err)
			}
			tokens[i] = v
		})
	}
	wg.Wait()
	for _, v := range tokens {
		if v != "ya29.fresh-1" {
			t.Fatalf("tokens %v", tokens)
		}
	}
	if n := te.exchanges.Load(); n != 1 {
		t.Fatalf("%d exchanges, want 1", n)
	}
}

// A refused refresh token (consent revoked) is ErrRefreshRefused with
// Google's reason and what to do; a refused client says so; neither
// carries the client secret or the refresh token, not even when Google
// quotes them, and Google Ads is not asked.
func TestGoogleOAuthRefusals(t *testing.T) {
	te := newTokenEndpoint(t)
	var adsCalls atomic.Int32
	none := ""
	ads := googleAds(t, &none, &adsCalls)
	c := &Client{Google: &Google{BaseURL: ads.URL}, GoogleOAuth: &GoogleOAuth{TokenURL: te.URL + "/token"}, Refs: oauthRefs}
	for _, tc := range []struct {
		status     int
		body, says string
		refused    bool
	}{
		{400, `{"error":"invalid_grant","error_description":"Token has been expired or revoked."}`, "invalid_grant: Token has been expired or revoked.", true},
		{400, `{"error":"invalid_grant","error_description":"Bad Request ` + refreshToken + `"}`, "authorize the client again", true},
		{401, `{"error":"invalid_client","error_description":"The OAuth client was not found. ` + clientSecret + `"}`, "check client_id", false},
		{500, `<html>oops</html>`, "500: no error message", false},
		{200, `{"token_type":"Bearer"}`, "no access_token", false},
		{200, `{"access_token":"x","token_type":"MAC"}`, `token_type "MAC"`, false},
	} {
		te.mu.Lock()
		te.fail, te.status = tc.body, tc.status
		te.mu.Unlock()
		_, err := c.Spend(t.Context(), &oauthAccount, "2024-05-01", "2024-05-01")
		var e *Error
		if !errors.As(err, &e) || e.Platform != "Google OAuth" || !strings.Contains(err.Error(), tc.says) ||
			!strings.Contains(err.Error(), "refresh_token") || errors.Is(err, ErrRefreshRefused) != tc.refused {
			t.Errorf("%d %s: %v", tc.status, tc.body, err)
		}
		if err != nil && (strings.Contains(err.Error(), clientSecret) || strings.Contains(err.Error(), refreshToken)) {
			t.Errorf("the error carries a secret: %v", err)
		}
	}
	if n := adsCalls.Load(); n != 0 {
		t.Errorf("Google Ads asked %d times without a token", n)
	}
}

// An endpoint that does not answer: the exchange ends with the context,
// and the error names neither secret.
func TestGoogleOAuthTimeout(t *testing.T) {
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-done }))
	defer srv.Close()
	defer close(done)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := (&GoogleOAuth{TokenURL: srv.URL + "/token"}).Token(ctx, GoogleCredentials{clientID, clientSecret, refreshToken})
	var e *Error
	if !errors.As(err, &e) || e.Status != 0 || !errors.Is(err, context.DeadlineExceeded) ||
		strings.Contains(err.Error(), clientSecret) || strings.Contains(err.Error(), refreshToken) {
		t.Fatalf("err %v", err)
	}
}

// A reference that does not resolve names its field; a client without a
// token source says so.
func TestGoogleOAuthReferences(t *testing.T) {
	c := &Client{Google: &Google{BaseURL: "http://127.0.0.1:9"}, GoogleOAuth: &GoogleOAuth{TokenURL: "http://127.0.0.1:9/token"},
		Refs: refs{"ssm:/leadrelay/google/client-secret": clientSecret}}
	if _, err := c.Spend(t.Context(), &oauthAccount, "2024-05-01", "2024-05-01"); err == nil || !strings.HasPrefix(err.Error(), "refresh_token:") {
		t.Errorf("unresolved: %v", err)
	}
	c = &Client{Google: &Google{BaseURL: "http://127.0.0.1:9"}, Refs: oauthRefs}
	if _, err := c.Spend(t.Context(), &oauthAccount, "2024-05-01", "2024-05-01"); err == nil || !strings.Contains(err.Error(), "OAuth") {
		t.Errorf("no token source: %v", err)
	}
}
