// Package secret keeps secrets that are read on first use, not at cold
// start: the ping secret and the Meta app secret, which on AWS are SSM
// parameters, and the Meta pages' tokens (refs.go). A function that needs
// one makes no AWS request before its first event, and one whose events
// never need it never reads it.
package secret

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/leadrelay/leadrelay/shared/paramstore"
	"github.com/leadrelay/leadrelay/shared/pingtoken"
	"github.com/leadrelay/leadrelay/shared/settings"
)

// Cached reads a secret on the first Get and keeps it. A failed read is
// not kept: the next Get tries again. Safe for concurrent use; one read at
// a time.
type Cached struct {
	load func(context.Context) ([]byte, error)

	mu     sync.Mutex
	secret []byte
}

// New returns a Cached over load.
func New(load func(context.Context) ([]byte, error)) *Cached { return &Cached{load: load} }

// Get returns the secret, reading it the first time.
func (c *Cached) Get(ctx context.Context) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.secret != nil {
		return c.secret, nil
	}
	s, err := c.load(ctx)
	if err != nil {
		return nil, err
	}
	c.secret = s
	return s, nil
}

// Ping is the ping secret of the settings: LEADRELAY_PING_SECRET, or the
// SSM parameter LEADRELAY_PING_SECRET_PARAM names, read on first use
// (pingtoken.LoadSecret's rules). The SSM client is built then too.
func Ping(s settings.Settings, cfg aws.Config) *Cached {
	return New(func(ctx context.Context) ([]byte, error) {
		var r pingtoken.ParameterReader
		if s.PingSecret == "" && s.PingSecretParam != "" {
			r = paramstore.Reader{API: ssm.NewFromConfig(cfg)}
		}
		return pingtoken.LoadSecret(ctx, s.PingSecret, s.PingSecretParam, r)
	})
}

// Meta is the Meta app's secret of the settings, which verifies Meta Lead
// Ads notifications: LEADRELAY_META_APP_SECRET, or the SSM SecureString
// parameter LEADRELAY_META_APP_SECRET_PARAM names, read on first use. The
// SSM client is built then too. Neither set: every Get fails, and the
// webhook answers 503.
func Meta(s settings.Settings, cfg aws.Config) *Cached {
	return New(func(ctx context.Context) ([]byte, error) {
		switch {
		case s.MetaAppSecret != "":
			return []byte(s.MetaAppSecret), nil
		case s.MetaAppSecretParam == "":
			return nil, errors.New("no Meta app secret: set LEADRELAY_META_APP_SECRET_PARAM")
		}
		v, err := paramstore.Reader{API: ssm.NewFromConfig(cfg)}.Parameter(ctx, s.MetaAppSecretParam)
		if err != nil {
			return nil, fmt.Errorf("the Meta app secret %s: %w", s.MetaAppSecretParam, err)
		}
		if v == "" {
			return nil, fmt.Errorf("the Meta app secret %s is empty", s.MetaAppSecretParam)
		}
		return []byte(v), nil
	})
}

// Twilio is the Twilio account's auth token, which checks the voice
// webhooks' signatures: LEADRELAY_TWILIO_AUTH_TOKEN, or the SSM
// SecureString parameter LEADRELAY_TWILIO_AUTH_TOKEN_PARAM names, read on
// first use. Neither set: every Get fails, and the webhooks answer 503.
func Twilio(s settings.Settings, cfg aws.Config) *Cached {
	return New(func(ctx context.Context) ([]byte, error) {
		switch {
		case s.TwilioAuthToken != "":
			return []byte(s.TwilioAuthToken), nil
		case s.TwilioAuthTokenParam == "":
			return nil, errors.New("no Twilio auth token: set LEADRELAY_TWILIO_AUTH_TOKEN_PARAM")
		}
		v, err := paramstore.Reader{API: ssm.NewFromConfig(cfg)}.Parameter(ctx, s.TwilioAuthTokenParam)
		if err != nil {
			return nil, fmt.Errorf("the Twilio auth token %s: %w", s.TwilioAuthTokenParam, err)
		}
		if v == "" {
			return nil, fmt.Errorf("the Twilio auth token %s is empty", s.TwilioAuthTokenParam)
		}
		return []byte(v), nil
	})
}
