// Package secret keeps a secret that is read on first use, not at cold
// start: the ping secret, which on AWS is an SSM parameter. A function
// that needs it makes no AWS request before its first event, and one
// whose events never need it never reads it.
package secret

import (
	"context"
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
