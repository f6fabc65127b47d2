package adspend

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/leadrelay/leadrelay/shared/webhook"
)

// OAuthTimeout bounds one exchange at Google's token endpoint.
const OAuthTimeout = 15 * time.Second

// ExpiryMargin is how long before its expiry an access token is no longer
// used: one that would expire during an import is refreshed before it.
const ExpiryMargin = 60 * time.Second

// ErrRefreshRefused is what an error wraps when Google refuses the
// refresh token (invalid_grant): the user revoked the consent, the token
// expired or is not the client's. Only a new consent gives a new one.
var ErrRefreshRefused = errors.New("the refresh token was refused")

// maxLifetime bounds, in seconds, how long an access token is kept
// whatever its expires_in (Google's live an hour).
const maxLifetime = 24 * 60 * 60

// googleOAuth names the token endpoint in errors.
const googleOAuth = "Google OAuth"

// GoogleCredentials are an OAuth client and the refresh token its user's
// consent gave.
type GoogleCredentials struct {
	ClientID, ClientSecret, RefreshToken string
}

// GoogleOAuth exchanges refresh tokens for access tokens at Google's token
// endpoint (the refresh_token grant) and keeps each access token, per
// client id and refresh token, until ExpiryMargin before it expires: an
// hourly import exchanges about once an hour. Concurrent callers with the
// same credentials share one exchange. Safe for concurrent use; the zero
// value with TokenURL set is ready.
type GoogleOAuth struct {
	// TokenURL is the token endpoint (settings.GoogleTokenURL).
	TokenURL string
	Client   *http.Client
	// Now is the clock the expiries are read on; nil: time.Now.
	Now func() time.Time

	mu     sync.Mutex
	tokens map[googleKey]*cachedToken
}

// googleKey names a cached token: the refresh token only by its hash.
type googleKey struct {
	clientID string
	refresh  [sha256.Size]byte
}

// cachedToken is one credentials' access token.
type cachedToken struct {
	// exchange is held (a value sent) by the one caller exchanging the
	// refresh token.
	exchange chan struct{}
	// value and until (when to stop using it) are guarded by
	// GoogleOAuth.mu.
	value string
	until time.Time
}

// Token returns an access token for the credentials: the one kept, or a
// new one from the token endpoint. Its errors are *Error (Platform
// "Google OAuth"), never carrying the client secret or the refresh token.
func (o *GoogleOAuth) Token(ctx context.Context, c GoogleCredentials) (string, error) {
	if c.ClientID == "" || c.ClientSecret == "" || c.RefreshToken == "" {
		return "", &Error{Platform: googleOAuth, Err: errors.New("a client id, client secret and refresh token are all needed")}
	}
	t := o.token(googleKey{c.ClientID, sha256.Sum256([]byte(c.RefreshToken))})
	if v, ok := o.valid(t); ok {
		return v, nil
	}
	select {
	case t.exchange <- struct{}{}:
	case <-ctx.Done():
		return "", &Error{Platform: googleOAuth, Err: ctx.Err()}
	}
	defer func() { <-t.exchange }()
	if v, ok := o.valid(t); ok { // another caller exchanged it meanwhile
		return v, nil
	}
	start := o.now()
	v, lifetime, err := o.refresh(ctx, c)
	if err != nil {
		return "", err
	}
	o.mu.Lock()
	t.value, t.until = v, start.Add(lifetime-ExpiryMargin)
	o.mu.Unlock()
	return v, nil
}

// token is the credentials' cached token, added if new; tokens past their
// time are dropped meanwhile, so that rotated refresh tokens do not pile
// up.
func (o *GoogleOAuth) token(k googleKey) *cachedToken {
	o.mu.Lock()
	defer o.mu.Unlock()
	if t, ok := o.tokens[k]; ok {
		return t
	}
	if o.tokens == nil {
		o.tokens = map[googleKey]*cachedToken{}
	}
	now := o.now()
	for old, t := range o.tokens {
		if !t.until.IsZero() && !now.Before(t.until) {
			delete(o.tokens, old)
		}
	}
	t := &cachedToken{exchange: make(chan struct{}, 1)}
	o.tokens[k] = t
	return t
}

// valid returns t's access token if it may still be used.
func (o *GoogleOAuth) valid(t *cachedToken) (string, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return t.value, t.value != "" && o.now().Before(t.until)
}

func (o *GoogleOAuth) now() time.Time {
	if o.Now == nil {
		return time.Now()
	}
	return o.Now()
}

// tokenAnswer is the token endpoint's answer.
type tokenAnswer struct {
	AccessToken string      `json:"access_token"`
	ExpiresIn   json.Number `json:"expires_in"`
	TokenType   string      `json:"token_type"`
}

// refresh exchanges the refresh token for an access token and its
// lifetime (0 when the answer does not say: used once, not kept).
func (o *GoogleOAuth) refresh(ctx context.Context, c GoogleCredentials) (string, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, OAuthTimeout)
	defer cancel()
	form := url.Values{
		"grant_type": {"refresh_token"}, "client_id": {c.ClientID},
		"client_secret": {c.ClientSecret}, "refresh_token": {c.RefreshToken},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, &Error{Platform: googleOAuth, Err: webhook.Redacted(err, false)}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	body, err := send(o.Client, req, googleOAuth, oauthErrorMessage, c.ClientSecret, c.RefreshToken)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Status != 0 {
			switch code, _, _ := strings.Cut(e.Msg, ":"); code {
			case "invalid_grant":
				e.Err = fmt.Errorf("%w (%s): authorize the client again and store the new refresh token", ErrRefreshRefused, e.Msg)
			case "invalid_client", "unauthorized_client":
				e.Err = fmt.Errorf("the OAuth client was refused (%s): check client_id and the client_secret parameter", e.Msg)
			}
		}
		return "", 0, err
	}
	var a tokenAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return "", 0, &Error{Platform: googleOAuth, Status: http.StatusOK, Err: fmt.Errorf("the answer is not a token endpoint's: %w", err)}
	}
	if a.AccessToken == "" {
		return "", 0, &Error{Platform: googleOAuth, Status: http.StatusOK, Err: errors.New("the answer has no access_token")}
	}
	if a.TokenType != "" && !strings.EqualFold(a.TokenType, "Bearer") {
		return "", 0, &Error{Platform: googleOAuth, Status: http.StatusOK, Err: fmt.Errorf("token_type %q, want Bearer", shown(a.TokenType, nil))}
	}
	secs, _ := strconv.ParseInt(a.ExpiresIn.String(), 10, 64)
	return a.AccessToken, time.Duration(min(max(secs, 0), maxLifetime)) * time.Second, nil
}

// oauthErrorMessage reads the token endpoint's error answer
// ({"error", "error_description"}, RFC 6749 §5.2).
func oauthErrorMessage(body []byte) string {
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error == "" {
		return "no error message"
	}
	if e.Description == "" {
		return e.Error
	}
	return e.Error + ": " + e.Description
}
