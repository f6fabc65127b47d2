// Package cognito signs the console's operators in through an Amazon
// Cognito user pool's hosted login: the authorization code flow with PKCE
// for a public app client (no client secret), then the ID token's RS256
// signature checked against the pool's published keys and its claims
// against the pool and the client. It calls Cognito over HTTPS with the
// standard library only; the console never holds AWS credentials.
package cognito

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Skew is how far apart Cognito's clock and this one may be: an ID token
// is accepted Skew after it expired and Skew before it was issued.
const Skew = time.Minute

// Scopes are the OAuth scopes the console asks for: the ID token then
// carries the operator's email address and whether it is verified.
const Scopes = "openid email"

// defaultTimeout bounds each call to Cognito when Client.HTTP is nil.
const defaultTimeout = 10 * time.Second

// maxBody bounds what is read of a response from Cognito.
const maxBody = 1 << 20

// Client signs operators in with one app client of one user pool. Its
// zero value is not usable: Domain, ClientID and Issuer are required. A
// Client is safe for concurrent use; it caches the pool's signing keys,
// so keep one per process (use it by pointer).
type Client struct {
	// Domain is the user pool domain's base URL, where the hosted login
	// and the token endpoint are, such as
	// https://leadrelay-3f2a9c.auth.us-east-1.amazoncognito.com.
	Domain string
	// ClientID is the app client's id (a public client, without a secret).
	ClientID string
	// Issuer is the user pool's issuer, such as
	// https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123;
	// its signing keys are at <Issuer>/.well-known/jwks.json.
	Issuer string
	// HTTP calls Cognito; nil means a client with a 10 s timeout.
	HTTP *http.Client
	// Now is the clock the tokens' times are checked against; nil means
	// time.Now.
	Now func() time.Time

	mu   sync.Mutex
	keys map[string]*rsa.PublicKey // the pool's signing keys by kid
}

// TokenError is the token endpoint's refusal of a code: Code is the OAuth
// error, such as "invalid_grant" (a code that is unknown, used or expired,
// or a verifier or redirect URI that does not match it).
type TokenError struct {
	StatusCode  int
	Code        string
	Description string
}

func (e *TokenError) Error() string {
	msg := fmt.Sprintf("token endpoint answered %d", e.StatusCode)
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.Description != "" {
		msg += ": " + e.Description
	}
	return msg
}

// AuthorizeURL is where the browser is sent to sign in: the hosted login
// of the pool's domain, asking for a code for the redirect URI, with the
// console's state and the S256 challenge of its PKCE verifier.
func (c *Client) AuthorizeURL(state, verifier, redirectURI string) string {
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {c.ClientID},
		"redirect_uri":          {redirectURI},
		"scope":                 {Scopes},
		"state":                 {state},
		"code_challenge":        {Challenge(verifier)},
		"code_challenge_method": {"S256"},
	}
	return c.base() + "/oauth2/authorize?" + q.Encode()
}

// Challenge is the S256 PKCE challenge of a verifier (RFC 7636): the
// unpadded base64url of its SHA-256.
func Challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Exchange trades the code from the callback, with the verifier whose
// challenge the authorization asked with, for the operator's verified
// identity: the ID token's subject and email address. The email address
// must be verified. A refusal of the code is a *TokenError.
func (c *Client) Exchange(ctx context.Context, code, verifier, redirectURI string) (subject, email string, err error) {
	if c.Domain == "" || c.ClientID == "" || c.Issuer == "" {
		return "", "", errors.New("cognito: Domain, ClientID and Issuer are required")
	}
	if code == "" || verifier == "" {
		return "", "", errors.New("cognito: exchange: no code or verifier")
	}
	idToken, err := c.token(ctx, code, verifier, redirectURI)
	if err != nil {
		return "", "", fmt.Errorf("cognito: exchange: %w", err)
	}
	claims, err := c.verify(ctx, idToken)
	if err != nil {
		return "", "", fmt.Errorf("cognito: ID token: %w", err)
	}
	return claims.Subject, claims.Email, nil
}

// base is the domain without a trailing slash.
func (c *Client) base() string { return strings.TrimSuffix(c.Domain, "/") }

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: defaultTimeout}
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// token posts the code to the token endpoint and returns the ID token.
func (c *Client) token(ctx context.Context, code, verifier, redirectURI string) (string, error) {
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"client_id":     {c.ClientID},
		"code":          {code},
		"redirect_uri":  {redirectURI},
		"code_verifier": {verifier},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base()+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return "", fmt.Errorf("token endpoint: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		te := &TokenError{StatusCode: resp.StatusCode}
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(body, &e) == nil {
			te.Code, te.Description = e.Error, e.Description
		}
		return "", te
	}
	var tok struct {
		IDToken string `json:"id_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil {
		return "", fmt.Errorf("token endpoint: %w", err)
	}
	if tok.IDToken == "" {
		return "", errors.New("token endpoint: no id_token in the answer (is the openid scope allowed for the client?)")
	}
	return tok.IDToken, nil
}

// claims are the ID token's claims the console relies on.
type claims struct {
	Issuer        string   `json:"iss"`
	Subject       string   `json:"sub"`
	Audience      audience `json:"aud"`
	TokenUse      string   `json:"token_use"`
	Expires       int64    `json:"exp"`
	IssuedAt      int64    `json:"iat"`
	Email         string   `json:"email"`
	EmailVerified flag     `json:"email_verified"`
}

// audience is the aud claim: one string (Cognito's) or a list of them.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("aud: want a string or a list of strings")
	}
	*a = many
	return nil
}

// flag is a boolean claim, which Cognito writes as true or, for some
// users, as the string "true".
type flag bool

func (f *flag) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch x := v.(type) {
	case bool:
		*f = flag(x)
	case string:
		*f = flag(x == "true")
	default:
		*f = false
	}
	return nil
}

// verify checks an ID token: an RS256 signature by one of the issuer's
// keys, issued by the pool for this client, an ID token (not an access
// token), within its lifetime, for a verified email address.
func (c *Client) verify(ctx context.Context, token string) (*claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a signed JWT")
	}
	var header struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if err := decodeSegment(parts[0], &header); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if header.Alg != "RS256" {
		return nil, fmt.Errorf("algorithm %q, want RS256", header.Alg)
	}
	if header.Kid == "" {
		return nil, errors.New("no key id (kid) in the header")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	key, err := c.key(ctx, header.Kid)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], sig); err != nil {
		return nil, errors.New("bad signature")
	}

	var cl claims
	if err := decodeSegment(parts[1], &cl); err != nil {
		return nil, fmt.Errorf("claims: %w", err)
	}
	now := c.now()
	switch {
	case cl.Issuer != strings.TrimSuffix(c.Issuer, "/"):
		return nil, fmt.Errorf("issuer %q, want %q", cl.Issuer, c.Issuer)
	case len(cl.Audience) != 1 || cl.Audience[0] != c.ClientID:
		return nil, fmt.Errorf("audience %q, want the app client %q", []string(cl.Audience), c.ClientID)
	case cl.TokenUse != "id":
		return nil, fmt.Errorf("token_use %q, want id", cl.TokenUse)
	case cl.Expires == 0 || !now.Before(time.Unix(cl.Expires, 0).Add(Skew)):
		return nil, fmt.Errorf("expired at %s", time.Unix(cl.Expires, 0).UTC().Format(time.RFC3339))
	case cl.IssuedAt == 0 || time.Unix(cl.IssuedAt, 0).After(now.Add(Skew)):
		return nil, fmt.Errorf("issued at %s, in the future", time.Unix(cl.IssuedAt, 0).UTC().Format(time.RFC3339))
	case cl.Subject == "":
		return nil, errors.New("no subject")
	case cl.Email == "":
		return nil, errors.New("no email (is the email scope allowed for the client?)")
	case !bool(cl.EmailVerified):
		return nil, errors.New("email address not verified")
	}
	return &cl, nil
}

// decodeSegment decodes one base64url segment of a JWT as JSON into v.
func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// key returns the issuer's signing key kid. The keys are fetched once and
// kept; a kid they do not hold fetches them once more (Cognito rotated
// its keys). The ID token comes from the token endpoint over TLS, never
// from the browser, so an unknown kid is not an attacker's lever to make
// the function fetch the keys at will.
func (c *Client) key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if k, ok := c.keys[kid]; ok {
		return k, nil
	}
	keys, err := c.fetchKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	c.keys = keys
	if k, ok := keys[kid]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("key id %q is not among the issuer's signing keys", kid)
}

// fetchKeys reads the issuer's JSON Web Key Set: its RSA signing keys.
func (c *Client) fetchKeys(ctx context.Context) (map[string]*rsa.PublicKey, error) {
	u := strings.TrimSuffix(c.Issuer, "/") + "/.well-known/jwks.json"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	var set struct {
		Keys []struct {
			Kty string `json:"kty"`
			Kid string `json:"kid"`
			Use string `json:"use"`
			Alg string `json:"alg"`
			N   string `json:"n"`
			E   string `json:"e"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&set); err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	keys := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "RSA" || k.Kid == "" || (k.Use != "" && k.Use != "sig") || (k.Alg != "" && k.Alg != "RS256") {
			continue
		}
		pub, err := rsaKey(k.N, k.E)
		if err != nil {
			return nil, fmt.Errorf("GET %s: key %q: %w", u, k.Kid, err)
		}
		keys[k.Kid] = pub
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("GET %s: no RSA signing key", u)
	}
	return keys, nil
}

// rsaKey builds an RSA public key from a JWK's modulus and exponent.
func rsaKey(n, e string) (*rsa.PublicKey, error) {
	nb, err := base64.RawURLEncoding.DecodeString(n)
	if err != nil {
		return nil, fmt.Errorf("modulus: %w", err)
	}
	eb, err := base64.RawURLEncoding.DecodeString(e)
	if err != nil {
		return nil, fmt.Errorf("exponent: %w", err)
	}
	if len(eb) == 0 || len(eb) > 4 {
		return nil, errors.New("exponent out of range")
	}
	var exp int
	for _, b := range eb {
		exp = exp<<8 | int(b)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: exp}
	if pub.N.BitLen() < 2048 || exp < 3 || exp%2 == 0 {
		return nil, errors.New("not a 2048-bit or larger RSA key with an odd exponent")
	}
	return pub, nil
}
