// Package adspend reads ad platforms' daily spend over HTTP: a Meta ad
// account's insights (the Marketing API) and a Google Ads customer's
// campaign cost (searchStream). Each answers rows of a day, the
// platform's id and an exact amount in cents; what an id counts against
// is the admin function's business. Tokens travel in the request only:
// neither a token nor a URL with its query is ever put in an error.
package adspend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/money"
	"github.com/leadrelay/leadrelay/shared/webhook"
)

// Timeout bounds one request to a platform.
const Timeout = 30 * time.Second

// maxBody bounds one answer (a page of insights, a searchStream answer).
const maxBody = 8 << 20

// maxPages bounds the pages of one Meta insights query.
const maxPages = 200

// Row is one platform id's spend on one day.
type Row struct {
	// Day is the date the platform reports it on (YYYY-MM-DD, the
	// account's timezone).
	Day string
	// ID is the campaign's, ad set's or ad's id on the platform.
	ID     string
	Amount money.Amount
}

// Refs resolves the accounts' ssm: references to their values (the
// wiring's secret.Refs).
type Refs interface {
	Resolve(ctx context.Context, reference string) (string, error)
}

// Client reads a configured account's spend from its platform, resolving
// its tokens' references on use.
type Client struct {
	Meta   *Meta
	Google *Google
	// GoogleOAuth gets the access tokens of Google accounts configured
	// with an OAuth client and refresh token.
	GoogleOAuth *GoogleOAuth
	Refs        Refs
}

// Spend reads the account's spend on the days since..until (YYYY-MM-DD,
// both included): Meta's at the account's level, Google's per campaign.
func (c *Client) Spend(ctx context.Context, a *config.SpendAccount, since, until string) ([]Row, error) {
	if c.Refs == nil {
		return nil, errors.New("no reader of ssm: references")
	}
	switch a.Platform {
	case config.SpendPlatformMeta:
		if c.Meta == nil {
			return nil, errors.New("no Meta client")
		}
		token, err := c.resolve(ctx, "access_token", a.AccessToken)
		if err != nil {
			return nil, err
		}
		return c.Meta.Insights(ctx, a.AccountID, token, a.SpendLevel(), since, until)
	case config.SpendPlatformGoogle:
		if c.Google == nil {
			return nil, errors.New("no Google Ads client")
		}
		token, err := c.googleToken(ctx, a)
		if err != nil {
			return nil, err
		}
		dev, err := c.resolve(ctx, "developer_token", a.DeveloperToken)
		if err != nil {
			return nil, err
		}
		return c.Google.CampaignCost(ctx, GoogleQuery{
			CustomerID: a.AccountID, Token: token, DeveloperToken: dev, LoginCustomerID: a.LoginCustomerID, Since: since, Until: until,
		})
	}
	return nil, fmt.Errorf("unknown platform %q", a.Platform)
}

// googleToken is the Google account's access token: its access_token's
// value, or one its OAuth client's refresh token gets.
func (c *Client) googleToken(ctx context.Context, a *config.SpendAccount) (string, error) {
	if !a.GoogleOAuth() {
		return c.resolve(ctx, "access_token", a.AccessToken)
	}
	if c.GoogleOAuth == nil {
		return "", errors.New("no Google OAuth token source")
	}
	secret, err := c.resolve(ctx, "client_secret", a.ClientSecret)
	if err != nil {
		return "", err
	}
	refresh, err := c.resolve(ctx, "refresh_token", a.RefreshToken)
	if err != nil {
		return "", err
	}
	token, err := c.GoogleOAuth.Token(ctx, GoogleCredentials{ClientID: a.ClientID, ClientSecret: secret, RefreshToken: refresh})
	if err != nil {
		return "", fmt.Errorf("access token from refresh_token: %w", err)
	}
	return token, nil
}

// resolve reads the reference of the account's field.
func (c *Client) resolve(ctx context.Context, field, reference string) (string, error) {
	v, err := c.Refs.Resolve(ctx, reference)
	if err != nil {
		return "", fmt.Errorf("%s: %w", field, err)
	}
	return v, nil
}

// Error is a platform's refusal or a failure to reach it.
type Error struct {
	Platform string
	Status   int // 0: no answer
	Msg      string
	Err      error
}

func (e *Error) Error() string {
	switch {
	case e.Status == 0:
		return fmt.Sprintf("%s: no answer: %v", e.Platform, e.Err)
	case e.Err != nil:
		return fmt.Sprintf("%s: %d: %v", e.Platform, e.Status, e.Err)
	}
	return fmt.Sprintf("%s: %d: %s", e.Platform, e.Status, e.Msg)
}

func (e *Error) Unwrap() error { return e.Err }

// get sends req and reads its answer; an answer other than 200 is an
// *Error with the platform's message, the secrets taken out.
func get(client *http.Client, req *http.Request, platform string, secrets ...string) ([]byte, error) {
	return send(client, req, platform, errorMessage, secrets...)
}

// send is get with the reader of the platform's error answers.
func send(client *http.Client, req *http.Request, platform string, message func([]byte) string, secrets ...string) ([]byte, error) {
	if client == nil {
		client = &http.Client{Timeout: Timeout}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, &Error{Platform: platform, Err: webhook.Redacted(err, false)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, &Error{Platform: platform, Err: webhook.Redacted(err, false)}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &Error{Platform: platform, Status: resp.StatusCode, Msg: shown(message(body), secrets)}
	}
	return body, nil
}

// errorMessage reads a platform's error answer: Graph's
// {"error":{"message"}}, Google's, or Google's searchStream's array of them.
func errorMessage(body []byte) string {
	type e struct {
		Error struct {
			Message string `json:"message"`
			Status  string `json:"status"`
			Type    string `json:"type"`
			Code    int    `json:"code"`
		} `json:"error"`
	}
	var one e
	if json.Unmarshal(body, &one) != nil {
		var many []e
		if json.Unmarshal(body, &many) == nil && len(many) > 0 {
			one = many[0]
		}
	}
	m := one.Error
	if m.Message == "" {
		return "no error message"
	}
	kind := m.Status
	if kind == "" {
		kind = m.Type
	}
	return fmt.Sprintf("%s (code %d, %s)", m.Message, m.Code, kind)
}

// shown is a platform's message as it may be shown: without the request's
// secrets (a platform may quote a malformed token back), and bounded.
func shown(msg string, secrets []string) string {
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "(token)")
		}
	}
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return msg
}
