package cognito

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testClientID = "3n4b5urk1ft4fl3mg5e62d9ado"
	testPool     = "us-east-1_TestPool1"
	testRedirect = "https://api.example.com/prod/console/callback"
)

// signingKey is one of the fake pool's RSA keys.
type signingKey struct {
	kid string
	key *rsa.PrivateKey
}

func newKey(t *testing.T, kid string) signingKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{kid, k}
}

// grant is a code the fake's hosted login handed out: the PKCE challenge
// and redirect URI it was asked with, and the ID token it trades for.
type grant struct {
	challenge, redirectURI string
	idToken                string
}

// fakeCognito is a user pool's domain and issuer on loopback: the token
// endpoint and the JWKS.
type fakeCognito struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	jwks      []signingKey // the keys published
	grants    map[string]grant
	jwksGets  int
	tokenForm url.Values // the last token request
}

func newFake(t *testing.T, published ...signingKey) *fakeCognito {
	f := &fakeCognito{t: t, jwks: published, grants: map[string]grant{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth2/token", f.token)
	mux.HandleFunc("GET /"+testPool+"/.well-known/jwks.json", f.keys)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeCognito) issuer() string { return f.srv.URL + "/" + testPool }

func (f *fakeCognito) client(now time.Time) *Client {
	return &Client{Domain: f.srv.URL, ClientID: testClientID, Issuer: f.issuer(), HTTP: f.srv.Client(), Now: func() time.Time { return now }}
}

func (f *fakeCognito) publish(keys ...signingKey) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.jwks = keys
}

// authorize does what the hosted login does: it reads the authorization
// URL the client built and hands out a code for it, which trades for
// idToken.
func (f *fakeCognito) authorize(authURL, idToken string) (code string) {
	f.t.Helper()
	u, err := url.Parse(authURL)
	if err != nil {
		f.t.Fatal(err)
	}
	q := u.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("client_id") != testClientID || q.Get("response_type") != "code" {
		f.t.Fatalf("authorize URL %s", authURL)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	code = "code-" + q.Get("state")
	f.grants[code] = grant{challenge: q.Get("code_challenge"), redirectURI: q.Get("redirect_uri"), idToken: idToken}
	return code
}

func (f *fakeCognito) token(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		http.Error(w, "content type", http.StatusBadRequest)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokenForm = r.PostForm
	refuse := func(code, desc string) {
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
	}
	if _, _, ok := r.BasicAuth(); ok {
		refuse("invalid_client", "a public client has no secret")
		return
	}
	if r.PostForm.Get("grant_type") != "authorization_code" || r.PostForm.Get("client_id") != testClientID {
		refuse("invalid_request", "grant type or client")
		return
	}
	g, ok := f.grants[r.PostForm.Get("code")]
	delete(f.grants, r.PostForm.Get("code")) // a code is used once
	if !ok || g.redirectURI != r.PostForm.Get("redirect_uri") || Challenge(r.PostForm.Get("code_verifier")) != g.challenge {
		refuse("invalid_grant", "")
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	json.NewEncoder(w).Encode(map[string]any{
		"id_token": g.idToken, "access_token": "access", "refresh_token": "refresh", "expires_in": 3600, "token_type": "Bearer",
	})
}

func (f *fakeCognito) keys(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.jwksGets++
	type jwk struct {
		Kid string `json:"kid"`
		Kty string `json:"kty"`
		Alg string `json:"alg"`
		Use string `json:"use"`
		N   string `json:"n"`
		E   string `json:"e"`
	}
	var set struct {
		Keys []jwk `json:"keys"`
	}
	for _, k := range f.jwks {
		set.Keys = append(set.Keys, jwk{
			Kid: k.kid, Kty: "RSA", Alg: "RS256", Use: "sig",
			N: base64.RawURLEncoding.EncodeToString(k.key.N.Bytes()),
			E: base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.key.E)).Bytes()),
		})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(set)
}

func (f *fakeCognito) gets() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.jwksGets
}

// idClaims are a good ID token's claims, issued at now.
func (f *fakeCognito) idClaims(now time.Time) map[string]any {
	return map[string]any{
		"sub": "6f1e2a7c-0000-4000-8000-000000000001", "email": "ops@agency.example", "email_verified": true,
		"iss": f.issuer(), "aud": testClientID, "token_use": "id", "auth_time": now.Unix(),
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "cognito:username": "6f1e2a7c-0000-4000-8000-000000000001",
	}
}

// sign makes an RS256 JWT of claims with key, naming kid in its header.
func sign(t *testing.T, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	seg := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signed := seg(map[string]string{"alg": "RS256", "kid": kid}) + "." + seg(claims)
	digest := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// signIn runs the flow: the authorization URL, the hosted login's code
// for idToken, the exchange.
func signIn(t *testing.T, f *fakeCognito, c *Client, state, idToken string) (string, string, error) {
	t.Helper()
	verifier := "verifier-" + state + "-0123456789abcdefghijklmnopqrstuvwxyz"
	code := f.authorize(c.AuthorizeURL(state, verifier, testRedirect), idToken)
	return c.Exchange(context.Background(), code, verifier, testRedirect)
}

func TestAuthorizeURL(t *testing.T) {
	c := &Client{Domain: "https://leadrelay-3f2a.auth.us-east-1.amazoncognito.com/", ClientID: testClientID}
	got := c.AuthorizeURL("st@te", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", testRedirect)
	u, err := url.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "https" || u.Host != "leadrelay-3f2a.auth.us-east-1.amazoncognito.com" || u.Path != "/oauth2/authorize" {
		t.Errorf("endpoint %s", got)
	}
	want := url.Values{
		"response_type": {"code"}, "client_id": {testClientID}, "redirect_uri": {testRedirect},
		"scope": {"openid email"}, "state": {"st@te"},
		// RFC 7636, appendix B.
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"},
	}
	if q := u.Query(); q.Encode() != want.Encode() {
		t.Errorf("query\n got %s\nwant %s", q.Encode(), want.Encode())
	}
	if !strings.Contains(u.RawQuery, "scope=openid+email") {
		t.Errorf("scope in %s", u.RawQuery)
	}
}

func TestExchange(t *testing.T) {
	now := time.Unix(1_790_000_000, 0)
	k := newKey(t, "key-1")
	f := newFake(t, k)
	c := f.client(now)

	sub, email, err := signIn(t, f, c, "s1", sign(t, k.key, k.kid, f.idClaims(now)))
	if err != nil {
		t.Fatal(err)
	}
	if sub != "6f1e2a7c-0000-4000-8000-000000000001" || email != "ops@agency.example" {
		t.Errorf("got %q %q", sub, email)
	}
	form := f.tokenForm
	for k, want := range map[string]string{"grant_type": "authorization_code", "client_id": testClientID, "code": "code-s1", "redirect_uri": testRedirect} {
		if got := form.Get(k); got != want {
			t.Errorf("token request %s = %q, want %q", k, got, want)
		}
	}
	if form.Has("client_secret") {
		t.Error("a public client sends no secret")
	}

	// The keys are kept: a second sign-in does not fetch them again.
	if _, _, err := signIn(t, f, c, "s2", sign(t, k.key, k.kid, f.idClaims(now))); err != nil {
		t.Fatal(err)
	}
	if n := f.gets(); n != 1 {
		t.Errorf("JWKS fetched %d times, want once", n)
	}
}

// Each flaw of the ID token is refused, with what was wrong in the error
// and never the token itself.
func TestExchangeRefusesBadTokens(t *testing.T) {
	now := time.Unix(1_790_000_000, 0)
	k := newKey(t, "key-1")
	other := newKey(t, "key-1") // same kid, another key
	f := newFake(t, k)
	c := f.client(now)

	with := func(change func(map[string]any)) map[string]any {
		cl := f.idClaims(now)
		change(cl)
		return cl
	}
	good := f.idClaims(now)
	for _, tc := range []struct {
		name, token, want string
	}{
		{"bad signature", sign(t, other.key, k.kid, good), "bad signature"},
		{"tampered claims", tamper(t, sign(t, k.key, k.kid, good)), "bad signature"},
		{"wrong audience", sign(t, k.key, k.kid, with(func(m map[string]any) { m["aud"] = "another-client" })), "audience"},
		{"wrong issuer", sign(t, k.key, k.kid, with(func(m map[string]any) { m["iss"] = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other" })), "issuer"},
		{"access token", sign(t, k.key, k.kid, with(func(m map[string]any) { m["token_use"] = "access" })), "token_use"},
		{"expired", sign(t, k.key, k.kid, with(func(m map[string]any) {
			m["iat"], m["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
		})), "expired"},
		{"expired beyond the skew", sign(t, k.key, k.kid, with(func(m map[string]any) { m["exp"] = now.Add(-Skew - time.Second).Unix() })), "expired"},
		{"issued in the future", sign(t, k.key, k.kid, with(func(m map[string]any) { m["iat"] = now.Add(Skew + time.Minute).Unix() })), "future"},
		{"email not verified", sign(t, k.key, k.kid, with(func(m map[string]any) { m["email_verified"] = false })), "not verified"},
		{"email verified missing", sign(t, k.key, k.kid, with(func(m map[string]any) { delete(m, "email_verified") })), "not verified"},
		{"no email", sign(t, k.key, k.kid, with(func(m map[string]any) { delete(m, "email") })), "no email"},
		{"no subject", sign(t, k.key, k.kid, with(func(m map[string]any) { delete(m, "sub") })), "no subject"},
		{"alg none", unsigned(t, good), "algorithm"},
		{"not a JWT", "opaque-token", "not a signed JWT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := signIn(t, f, c, strings.ReplaceAll(tc.name, " ", "-"), tc.token)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error about %q", err, tc.want)
			}
			if strings.Contains(err.Error(), tc.token) || strings.Contains(err.Error(), strings.Split(tc.token, ".")[0]+".") {
				t.Errorf("the error carries the token: %v", err)
			}
		})
	}

	// Within the skew, an expired token still passes; so does Cognito's
	// "true" as a string.
	for name, cl := range map[string]map[string]any{
		"expired within the skew": with(func(m map[string]any) { m["exp"] = now.Add(-Skew / 2).Unix() }),
		"email_verified string":   with(func(m map[string]any) { m["email_verified"] = "true" }),
	} {
		if _, _, err := signIn(t, f, c, strings.ReplaceAll(name, " ", "-"), sign(t, k.key, k.kid, cl)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// tamper changes the claims of a signed token, keeping its signature.
func tamper(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m["email"] = "attacker@example.com"
	b, _ = json.Marshal(m)
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

// unsigned is an "alg": "none" token of claims.
func unsigned(t *testing.T, claims map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(map[string]string{"alg": "none", "kid": "key-1"})
	c, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + "."
}

// Cognito rotates its keys: a token signed by a key the client has not
// seen fetches the JWKS again, once; a kid the pool does not publish
// either is refused after that one fetch.
func TestExchangeKeyRotation(t *testing.T) {
	now := time.Unix(1_790_000_000, 0)
	k1, k2 := newKey(t, "key-1"), newKey(t, "key-2")
	f := newFake(t, k1)
	c := f.client(now)

	if _, _, err := signIn(t, f, c, "before", sign(t, k1.key, k1.kid, f.idClaims(now))); err != nil {
		t.Fatal(err)
	}
	f.publish(k1, k2)
	if _, _, err := signIn(t, f, c, "after", sign(t, k2.key, k2.kid, f.idClaims(now))); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	if n := f.gets(); n != 2 {
		t.Errorf("JWKS fetched %d times, want twice (the first sign-in, the rotation)", n)
	}

	rogue := newKey(t, "key-3")
	_, _, err := signIn(t, f, c, "rogue", sign(t, rogue.key, rogue.kid, f.idClaims(now)))
	if err == nil || !strings.Contains(err.Error(), `"key-3"`) {
		t.Fatalf("unknown kid: %v", err)
	}
	if n := f.gets(); n != 3 {
		t.Errorf("JWKS fetched %d times, want 3 (one more for the unknown kid)", n)
	}
	// The keys fetched last are kept: key-2 still verifies without a fetch.
	if _, _, err := signIn(t, f, c, "again", sign(t, k2.key, k2.kid, f.idClaims(now))); err != nil || f.gets() != 3 {
		t.Errorf("after the unknown kid: %v, %d fetches", err, f.gets())
	}
}

// The token endpoint's refusal of a code is a *TokenError with the OAuth
// error: a verifier that does not match the challenge, a code used twice.
func TestExchangeInvalidGrant(t *testing.T) {
	now := time.Unix(1_790_000_000, 0)
	k := newKey(t, "key-1")
	f := newFake(t, k)
	c := f.client(now)
	idToken := sign(t, k.key, k.kid, f.idClaims(now))

	code := f.authorize(c.AuthorizeURL("s", "the-verifier-0123456789-0123456789-0123456789", testRedirect), idToken)
	_, _, err := c.Exchange(context.Background(), code, "another-verifier-0123456789-0123456789-0123", testRedirect)
	var te *TokenError
	if !errors.As(err, &te) || te.Code != "invalid_grant" || te.StatusCode != http.StatusBadRequest {
		t.Fatalf("wrong verifier: %v", err)
	}
	if !strings.HasPrefix(err.Error(), "cognito: exchange: ") {
		t.Errorf("error %q: want it wrapped with its context", err)
	}

	code = f.authorize(c.AuthorizeURL("t", "the-verifier-0123456789-0123456789-0123456789", testRedirect), idToken)
	if _, _, err := c.Exchange(context.Background(), code, "the-verifier-0123456789-0123456789-0123456789", testRedirect); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Exchange(context.Background(), code, "the-verifier-0123456789-0123456789-0123456789", testRedirect)
	if !errors.As(err, &te) || te.Code != "invalid_grant" {
		t.Fatalf("code used twice: %v", err)
	}
	if f.gets() != 1 {
		t.Errorf("JWKS fetched %d times, want once", f.gets())
	}
}

// Exchange needs the pool's domain, client and issuer, and the code and
// verifier; an unreachable Cognito is an error with its context.
func TestExchangeErrors(t *testing.T) {
	ctx := context.Background()
	if _, _, err := (&Client{}).Exchange(ctx, "c", "v", testRedirect); err == nil {
		t.Error("a zero Client exchanged")
	}
	c := &Client{Domain: "http://127.0.0.1:1", ClientID: testClientID, Issuer: "http://127.0.0.1:1/" + testPool}
	if _, _, err := c.Exchange(ctx, "", "v", testRedirect); err == nil {
		t.Error("no code: exchanged")
	}
	if _, _, err := c.Exchange(ctx, "c", "v", testRedirect); err == nil || !strings.Contains(err.Error(), "cognito: exchange") {
		t.Errorf("unreachable: %v", err)
	}
}

// *Client is what the console asks for.
var _ interface {
	AuthorizeURL(state, verifier, redirectURI string) string
	Exchange(ctx context.Context, code, verifier, redirectURI string) (subject, email string, err error)
} = (*Client)(nil)
