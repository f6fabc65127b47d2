// Package routerapp wires the router function: the routing queue's
// consumer. It links DynamoDB, SQS and HTTP to buyers' ping URLs and
// sources' postbacks.
package routerapp

import (
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/leadrelay/leadrelay/shared/app/base"
	"github.com/leadrelay/leadrelay/shared/app/queues"
	"github.com/leadrelay/leadrelay/shared/app/sealing"
	"github.com/leadrelay/leadrelay/shared/breaker"
	"github.com/leadrelay/leadrelay/shared/pinger"
	"github.com/leadrelay/leadrelay/shared/queue"
	"github.com/leadrelay/leadrelay/shared/router"
	"github.com/leadrelay/leadrelay/shared/secrets"
	"github.com/leadrelay/leadrelay/shared/settings"
	"github.com/leadrelay/leadrelay/shared/webhook"
)

// New is the router function's handler, built from its settings and AWS
// configuration without calling AWS.
func New(s settings.Settings, cfg aws.Config, log *slog.Logger) *router.Handler {
	b := base.New(s, cfg, log)
	sealing.Open(b, sealing.Keeper(s, cfg), secrets.Extension{}) // postback secrets
	_, q := queues.New(s, cfg)
	return Handler(b, q, b.Breakers())
}

// Handler is the router handler over clients built elsewhere (the local
// runner shares them, and the breakers, with delivery).
func Handler(b *base.Base, q *queue.Sender, breakers *breaker.Breakers) *router.Handler {
	return &router.Handler{
		Store: b.Store, Queue: q, Configs: b.Configs, Now: b.Now, Log: b.Log,
		Pinger:    &pinger.HTTP{Client: webhook.NewClient(b.Settings.AllowPrivateTargets)},
		Postbacks: b.Postbacks(), Breakers: breakers,
	}
}
