package sheets

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/leadrelay/leadrelay/shared/webhook"
)

// Scope is the OAuth scope of the access tokens: the Sheets API, read and
// write (the read checks whether a row landed).
const Scope = "https://www.googleapis.com/auth/spreadsheets"

// jwtBearer is the grant type of the service account flow (RFC 7523).
const jwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// Token lifetimes: an assertion asks for an hour, the most Google grants,
// and a token is used until TokenSlack before Google says it expires.
const (
	AssertionLifetime = time.Hour
	TokenSlack        = 60 * time.Second
)

// serviceAccount is the part of a service account's JSON key the token
// flow uses (the file the Google Cloud console downloads).
type serviceAccount struct {
	Type         string `json:"type"`
	ClientEmail  string `json:"client_email"`
	PrivateKeyID string `json:"private_key_id"`
	PrivateKey   string `json:"private_key"`
}

// account is one service account: its key, and its access token while
// it is good. lock (a one-slot channel, so that a waiter gives up with
// its context) guards the token: one request for a new token at a time
// per account, the others wait for it.
type account struct {
	sum   [32]byte // of the JSON key it was read from
	email string
	keyID string
	key   *rsa.PrivateKey

	lock  chan struct{}
	token string
	until time.Time // when to stop using token
}

// parseKey reads a service account's JSON key. Its errors never quote
// the key.
func parseKey(raw string) (*account, error) {
	var sa serviceAccount
	if err := json.Unmarshal([]byte(raw), &sa); err != nil {
		return nil, errors.New("not a service account's JSON key: not a JSON object")
	}
	if sa.Type != "" && sa.Type != "service_account" {
		return nil, fmt.Errorf("credentials of type %q: want a service account's JSON key (type service_account)", sa.Type)
	}
	if sa.ClientEmail == "" || sa.PrivateKey == "" {
		return nil, errors.New("not a service account's JSON key: no client_email or private_key")
	}
	block, _ := pem.Decode([]byte(sa.PrivateKey))
	if block == nil {
		return nil, errors.New("the service account's private_key is not PEM")
	}
	var key *rsa.PrivateKey
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, errors.New("the service account's private_key is not an RSA key")
		}
		key = rk
	} else if key, err = x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
		return nil, errors.New("the service account's private_key is not a PKCS #8 or PKCS #1 RSA key")
	}
	return &account{sum: sha256.Sum256([]byte(raw)), email: sa.ClientEmail, keyID: sa.PrivateKeyID, key: key, lock: make(chan struct{}, 1)}, nil
}

// assertion is the signed JWT (RS256) that asks tokenURL for an access
// token of the account: iss the account, scope Sheets, aud the token
// endpoint, an hour from now.
func (a *account) assertion(tokenURL string, now time.Time) (string, error) {
	header := map[string]string{"alg": "RS256", "typ": "JWT"}
	if a.keyID != "" {
		header["kid"] = a.keyID
	}
	claims := map[string]any{
		"iss": a.email, "scope": Scope, "aud": tokenURL,
		"iat": now.Unix(), "exp": now.Add(AssertionLifetime).Unix(),
	}
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signed := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(nil, a.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign the assertion: %w", err)
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// accounts keeps the service accounts by the reference their key was
// read from; a key that changed under its reference (a rotation) replaces
// the account, its token with it.
type accounts struct {
	mu sync.Mutex
	m  map[string]*account
}

// get returns the account of the key raw, read from ref.
func (as *accounts) get(ref, raw string) (*account, error) {
	sum := sha256.Sum256([]byte(raw))
	as.mu.Lock()
	a := as.m[ref]
	as.mu.Unlock()
	if a != nil && a.sum == sum {
		return a, nil
	}
	a, err := parseKey(raw)
	if err != nil {
		return nil, err
	}
	as.mu.Lock()
	defer as.mu.Unlock()
	if cur := as.m[ref]; cur != nil && cur.sum == sum {
		return cur, nil // another goroutine read it meanwhile
	}
	if as.m == nil {
		as.m = map[string]*account{}
	}
	as.m[ref] = a
	return a, nil
}

// tokenAnswer is the token endpoint's answer.
type tokenAnswer struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
	TokenType   string `json:"token_type"`
}

// accessToken returns a good access token of the account: the one it
// holds, or a new one from the token endpoint. A failure is a verdict:
// Google refusing the key (a 4xx) is a rejection, the endpoint failing
// (5xx, 429, no answer) transient.
func (s *Sender) accessToken(ctx context.Context, a *account) (string, *webhook.Verdict) {
	select {
	case a.lock <- struct{}{}:
	case <-ctx.Done():
		v := judged("Google's token endpoint", 0, nil, ctx.Err())
		return "", &v
	}
	defer func() { <-a.lock }()
	now := s.now()
	if a.token != "" && now.Before(a.until) {
		return a.token, nil
	}
	jwt, err := a.assertion(s.TokenURL, now)
	if err != nil {
		return "", &webhook.Verdict{Outcome: webhook.Rejected, Reason: ReasonCredentials, Detail: err.Error()}
	}
	form := url.Values{"grant_type": {jwtBearer}, "assertion": {jwt}}
	res := s.call(ctx, http.MethodPost, s.TokenURL, "", "application/x-www-form-urlencoded", []byte(form.Encode()), maxAnswer)
	if res.err != nil || res.status != http.StatusOK {
		v := judged("Google's token endpoint", res.status, res.body, res.err)
		v.Response = "" // the endpoint's answers are not kept
		if v.Outcome == webhook.Rejected {
			v.Reason = ReasonCredentialsRefused
			v.Detail = fmt.Sprintf("Google refused the key of service account %s: %s", a.email, strings.TrimPrefix(v.Detail, "Google's token endpoint answered "))
		}
		return "", &v
	}
	var t tokenAnswer
	if err := json.Unmarshal(res.body, &t); err != nil || t.AccessToken == "" || t.ExpiresIn <= 0 {
		return "", &webhook.Verdict{Outcome: webhook.Transient, Reason: ReasonTokenAnswer, Status: res.status,
			Detail: "Google's token endpoint answered 200 without an access token and its lifetime"}
	}
	a.token, a.until = t.AccessToken, now.Add(time.Duration(t.ExpiresIn)*time.Second-TokenSlack)
	return a.token, nil
}

// forget drops the account's token if it is still tok (Sheets answered
// 401 to it: revoked, or expired early), so the next request gets a new
// one.
func (s *Sender) forget(ctx context.Context, a *account, tok string) {
	select {
	case a.lock <- struct{}{}:
	case <-ctx.Done():
		return
	}
	if a.token == tok {
		a.token = ""
	}
	<-a.lock
}
