// Package app wires LeadRelay's handlers to their AWS clients from a
// function's settings: the one place that knows which handler needs what.
// Each function's main and the local runner build an App and start the
// handler they serve.
package app

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/uuid"

	"github.com/leadrelay/leadrelay/shared/admin"
	"github.com/leadrelay/leadrelay/shared/aggregate"
	"github.com/leadrelay/leadrelay/shared/breaker"
	"github.com/leadrelay/leadrelay/shared/delivery"
	"github.com/leadrelay/leadrelay/shared/email"
	"github.com/leadrelay/leadrelay/shared/ingest"
	"github.com/leadrelay/leadrelay/shared/notify"
	"github.com/leadrelay/leadrelay/shared/pinger"
	"github.com/leadrelay/leadrelay/shared/queue"
	"github.com/leadrelay/leadrelay/shared/router"
	"github.com/leadrelay/leadrelay/shared/settings"
	"github.com/leadrelay/leadrelay/shared/store"
	"github.com/leadrelay/leadrelay/shared/sweeper"
	"github.com/leadrelay/leadrelay/shared/webhook"
)

// App holds the clients and adapters the handlers share.
type App struct {
	Settings settings.Settings
	DynamoDB *dynamodb.Client
	SQS      *sqs.Client
	Store    *store.Store
	Configs  *store.ConfigCache
	Queue    *queue.Sender
	Log      *slog.Logger
	Now      func() time.Time
	// Breakers are the buyers' circuit breakers, shared by the router and
	// delivery handlers of this process.
	Breakers *breaker.Breakers
	// SES sends email deliveries.
	SES *sesv2.Client
	// PingSecret signs and verifies ping_ids (ping.go: LoadPingSecret).
	PingSecret []byte
}

// New builds the clients from an AWS configuration (which honours
// AWS_ENDPOINT_URL). Each client gets its own retryer.
func New(s settings.Settings, cfg aws.Config, log *slog.Logger) *App {
	ddb := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) { so.MaxAttempts = 4 })
	})
	sq := sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) { so.MaxAttempts = 4 })
	})
	st := store.New(ddb, s.Table, time.Now)
	configs := store.NewConfigCache(st, s.ConfigTTL, log)
	st.CountLedgerIn(configs.LedgerLocation) // ledger days in the agency's timezone
	return &App{
		Settings: s,
		DynamoDB: ddb,
		SQS:      sq,
		Store:    st,
		Configs:  configs,
		Queue: queue.NewSender(sq, queue.URLs{
			Routing: s.RoutingQueueURL, RoutingDLQ: s.RoutingDLQURL,
			Delivery: s.DeliveryQueueURL, DeliveryDLQ: s.DeliveryDLQURL,
		}),
		Log:      log,
		Now:      time.Now,
		Breakers: breaker.New(st, s.ConfigTTL, time.Now, log),
		SES: sesv2.NewFromConfig(cfg, func(o *sesv2.Options) {
			o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) { so.MaxAttempts = 3 })
		}),
	}
}

// Ingest is the ingest function's handler.
func (a *App) Ingest() *ingest.Handler {
	return &ingest.Handler{
		Store: a.Store, Queue: a.Queue, Configs: a.Configs, Now: a.Now, Log: a.Log,
		NewID:      func() string { return uuid.Must(uuid.NewV7()).String() },
		PingSecret: func(context.Context) ([]byte, error) { return a.PingSecret, nil },
	}
}

// Router is the router function's handler.
func (a *App) Router() *router.Handler {
	return &router.Handler{Store: a.Store, Queue: a.Queue, Configs: a.Configs, Now: a.Now, Log: a.Log,
		Pinger: &pinger.HTTP{Client: webhook.NewClient(a.Settings.AllowPrivateTargets)}, Postbacks: a.postbacks(), Breakers: a.Breakers}
}

// Delivery is the delivery function's handler.
func (a *App) Delivery() *delivery.Handler {
	return &delivery.Handler{
		Store: a.Store, Queue: a.Queue, Configs: a.Configs, Postbacks: a.postbacks(), Breakers: a.Breakers,
		Webhook:  &webhook.Sender{Client: webhook.NewClient(a.Settings.AllowPrivateTargets)},
		Email:    &email.Sender{API: a.SES, From: a.Settings.EmailFrom},
		Slack:    &notify.Slack{Client: webhook.NewClient(a.Settings.AllowPrivateTargets)},
		QueueURL: a.Settings.DeliveryQueueURL,
		Now:      a.Now,
		Jitter:   func(d time.Duration) time.Duration { return rand.N(d) },
		Log:      a.Log,
	}
}

// Admin is the admin function's handler; token guards it where IAM does
// not (the local runner).
func (a *App) Admin(token string) *admin.Handler {
	return &admin.Handler{Store: a.Store, Queue: a.Queue, Now: a.Now, Token: token, Changed: a.Configs.Invalidate, Log: a.Log,
		Redriver: queue.NewRedriver(a.SQS, a.Queue.URLs()), Ledger: a.Store}
}

// Aggregator is the aggregate function's handler: the table's stream
// folded into the P&L.
func (a *App) Aggregator() *aggregate.Handler {
	return &aggregate.Handler{Store: a.Store, Log: a.Log}
}

// Sweeper is the sweeper function's handler.
func (a *App) Sweeper() *sweeper.Handler {
	return &sweeper.Handler{Store: a.Store, Queue: a.Queue, Configs: a.Configs, Now: a.Now, Log: a.Log}
}
