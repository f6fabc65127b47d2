// Package pingapp wires the ping function: sellers' pings answered with
// claimable bids. It links DynamoDB (configuration, breakers), HTTP to
// buyers' ping URLs and, for the ping secret read on the first ping, SSM.
package pingapp

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/leadrelay/leadrelay/shared/app/base"
	"github.com/leadrelay/leadrelay/shared/app/secret"
	"github.com/leadrelay/leadrelay/shared/breaker"
	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/ping"
	"github.com/leadrelay/leadrelay/shared/pinger"
	"github.com/leadrelay/leadrelay/shared/settings"
	"github.com/leadrelay/leadrelay/shared/webhook"
)

// New is the ping function's handler, built from its settings and AWS
// configuration without calling AWS.
func New(s settings.Settings, cfg aws.Config, log *slog.Logger) *Handler {
	b := base.New(s, cfg, log)
	return NewHandler(b, b.Breakers(), secret.Ping(s, cfg))
}

// Handler is the ping handler once its secret is read: the first request
// reads it, and while it cannot be read every request is answered 503.
type Handler struct {
	secret *secret.Cached
	log    *slog.Logger
	build  func(secret []byte) *ping.Handler

	mu sync.Mutex // one build at a time
	h  atomic.Pointer[ping.Handler]
}

// NewHandler is the ping handler over clients built elsewhere (the local
// runner shares them, and the breakers, with the router and delivery).
func NewHandler(b *base.Base, breakers *breaker.Breakers, pingSecret *secret.Cached) *Handler {
	return &Handler{secret: pingSecret, log: b.Log, build: func(s []byte) *ping.Handler {
		return &ping.Handler{
			Configs: b.Configs, Limits: b.Limits, Secret: s, Now: b.Now, Log: b.Log, Breakers: breakers,
			Pinger: &pinger.HTTP{Client: webhook.NewClient(b.Settings.AllowPrivateTargets)},
			NewID:  base.NewID,
		}
	}}
}

// Handle answers one API Gateway proxy request.
func (h *Handler) Handle(ctx context.Context, req httpapi.Request) (httpapi.Response, error) {
	inner, err := h.handler(ctx)
	if err != nil {
		h.log.ErrorContext(ctx, "read the ping secret", "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "pings cannot be answered now; retry"), nil
	}
	return inner.Handle(ctx, req)
}

// handler is the ping handler, built on the first request whose secret
// could be read.
func (h *Handler) handler(ctx context.Context) (*ping.Handler, error) {
	if p := h.h.Load(); p != nil {
		return p, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if p := h.h.Load(); p != nil {
		return p, nil
	}
	s, err := h.secret.Get(ctx)
	if err != nil {
		return nil, err
	}
	p := h.build(s)
	h.h.Store(p)
	return p, nil
}
