// Package app wires LeadRelay's handlers to their AWS clients: the one
// place that knows which handler needs what. Each function has its own
// package below it (ingestapp, routerapp, deliveryapp, adminapp, pingapp,
// aggregateapp, sweeperapp) whose New builds that function's handler and
// only the clients it uses, so its bootstrap links nothing else; they
// share base (the table, the configuration), queues (SQS) and secret (the
// ping and Meta secrets and the Meta pages' tokens, read on first use).
//
// App is every handler in one process over one set of clients: the local
// runner's. No function imports it.
package app

import (
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/leadrelay/leadrelay/shared/admin"
	"github.com/leadrelay/leadrelay/shared/aggregate"
	"github.com/leadrelay/leadrelay/shared/app/adminapp"
	"github.com/leadrelay/leadrelay/shared/app/aggregateapp"
	"github.com/leadrelay/leadrelay/shared/app/base"
	"github.com/leadrelay/leadrelay/shared/app/deliveryapp"
	"github.com/leadrelay/leadrelay/shared/app/ingestapp"
	"github.com/leadrelay/leadrelay/shared/app/pingapp"
	"github.com/leadrelay/leadrelay/shared/app/queues"
	"github.com/leadrelay/leadrelay/shared/app/routerapp"
	"github.com/leadrelay/leadrelay/shared/app/sealing"
	"github.com/leadrelay/leadrelay/shared/app/secret"
	"github.com/leadrelay/leadrelay/shared/app/sweeperapp"
	"github.com/leadrelay/leadrelay/shared/breaker"
	"github.com/leadrelay/leadrelay/shared/delivery"
	"github.com/leadrelay/leadrelay/shared/ingest"
	"github.com/leadrelay/leadrelay/shared/paramstore"
	"github.com/leadrelay/leadrelay/shared/queue"
	"github.com/leadrelay/leadrelay/shared/router"
	"github.com/leadrelay/leadrelay/shared/secrets"
	"github.com/leadrelay/leadrelay/shared/settings"
	"github.com/leadrelay/leadrelay/shared/sweeper"
)

// App holds the clients and adapters the handlers share: the table's
// (base.Base: Settings, DynamoDB, Store, Configs, Log, Now) and the rest.
type App struct {
	*base.Base
	SQS   *sqs.Client
	Queue *queue.Sender
	// Breakers are the buyers' circuit breakers, shared by the router,
	// delivery and ping handlers of this process.
	Breakers *breaker.Breakers
	// SES sends email deliveries.
	SES *sesv2.Client
	// PingSecret signs and verifies ping_ids, read on first use.
	PingSecret *secret.Cached
	// MetaSecret verifies Meta Lead Ads notifications, and PageTokens
	// resolves the Meta pages' tokens, each read on first use.
	MetaSecret *secret.Cached
	// TwilioToken checks Twilio's voice webhooks, read on first use.
	TwilioToken *secret.Cached
	PageTokens  *secret.Refs
	// Secrets seals the configuration's secret values (admin) and opens
	// them for the handlers that use them (sealing).
	Secrets secrets.Keeper
}

// New builds the clients from an AWS configuration (which honours
// AWS_ENDPOINT_URL). It calls no AWS API.
func New(s settings.Settings, cfg aws.Config, log *slog.Logger) *App {
	b := base.New(s, cfg, log)
	sq, q := queues.New(s, cfg)
	k := sealing.Keeper(s, cfg)
	// One process serves every handler: the configuration they share is
	// opened, references read with the SSM client (no extension locally).
	sealing.Open(b, k, paramstore.Reader{API: ssm.NewFromConfig(cfg)})
	return &App{Base: b, SQS: sq, Queue: q, Breakers: b.Breakers(), SES: deliveryapp.SES(cfg), PingSecret: secret.Ping(s, cfg),
		MetaSecret: secret.Meta(s, cfg), TwilioToken: secret.Twilio(s, cfg), PageTokens: secret.SSMRefs(cfg), Secrets: k}
}

// Ingest is the ingest function's handler.
func (a *App) Ingest() *ingest.Handler {
	return ingestapp.Handler(a.Base, a.Queue, ingestapp.Secrets{Ping: a.PingSecret, Meta: a.MetaSecret, PageTokens: a.PageTokens, Twilio: a.TwilioToken})
}

// Router is the router function's handler.
func (a *App) Router() *router.Handler { return routerapp.Handler(a.Base, a.Queue, a.Breakers) }

// Delivery is the delivery function's handler.
func (a *App) Delivery() *delivery.Handler {
	h := deliveryapp.Handler(a.Base, a.Queue, a.Breakers, a.SES)
	h.Sheets = deliveryapp.Sheets(a.Base, a.PageTokens.Resolve) // the same SSM references' reader as the Meta pages'
	return h
}

// Admin is the admin function's handler; token guards it where IAM does
// not (the local runner).
func (a *App) Admin(token string) *admin.Handler {
	h := adminapp.Handler(a.Base, a.SQS, a.Queue, a.Secrets, token)
	h.AdSpend = adminapp.AdSpend(a.Settings, a.PageTokens) // the same SSM references' reader as the Meta pages'
	h.ConversionSender = adminapp.Conversions(a.Settings, a.PageTokens)
	h.Billing, h.Refs = adminapp.NewStripe(a.Settings, a.PageTokens), a.PageTokens
	return h
}

// Ping is the ping function's handler (POST /v1/pings).
func (a *App) Ping() *pingapp.Handler { return pingapp.NewHandler(a.Base, a.Breakers, a.PingSecret) }

// Aggregator is the aggregate function's handler: the table's stream
// folded into the P&L.
func (a *App) Aggregator() *aggregate.Handler { return aggregateapp.Handler(a.Base) }

// Sweeper is the sweeper function's handler.
func (a *App) Sweeper() *sweeper.Handler { return sweeperapp.Handler(a.Base, a.Queue) }
