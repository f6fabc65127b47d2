// Package base builds what every LeadRelay function shares: the table
// (its DynamoDB client and store), the cached configuration, the logger
// and the clock. It imports no other AWS service, so a function that
// needs only the table links only DynamoDB.
package base

import (
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/uuid"

	"github.com/leadrelay/leadrelay/shared/breaker"
	"github.com/leadrelay/leadrelay/shared/postback"
	"github.com/leadrelay/leadrelay/shared/ratelimit"
	"github.com/leadrelay/leadrelay/shared/settings"
	"github.com/leadrelay/leadrelay/shared/store"
	"github.com/leadrelay/leadrelay/shared/webhook"
)

// Base holds the table's client and adapters.
type Base struct {
	Settings settings.Settings
	DynamoDB *dynamodb.Client
	Store    *store.Store
	Configs  *store.ConfigCache
	// Limits holds the sources to their rates (ingest and ping): one per
	// process, its leases shared by the handlers of the process.
	Limits *ratelimit.Limiter
	Log    *slog.Logger
	Now    func() time.Time
}

// New builds the DynamoDB client from an AWS configuration (which honours
// AWS_ENDPOINT_URL), the store and the configuration cache. It calls no
// AWS API.
func New(s settings.Settings, cfg aws.Config, log *slog.Logger) *Base {
	ddb := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) { so.MaxAttempts = 4 })
	})
	st := store.New(ddb, s.Table, time.Now)
	configs := store.NewConfigCache(st, s.ConfigTTL, log)
	st.CountLedgerIn(configs.LedgerLocation) // ledger days in the agency's timezone
	limits := &ratelimit.Limiter{Counter: st, Now: time.Now}
	return &Base{Settings: s, DynamoDB: ddb, Store: st, Configs: configs, Limits: limits, Log: log, Now: time.Now}
}

// Breakers are the buyers' circuit breakers, kept in the table. The
// router and delivery handlers of one process share one.
func (b *Base) Breakers() *breaker.Breakers {
	return breaker.New(b.Store, b.Settings.ConfigTTL, b.Now, b.Log)
}

// NewID names a lead or a ping: a UUIDv7, in time order.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// Postbacks is the sender of sources' postbacks the router and delivery
// handlers share.
func (b *Base) Postbacks() *postback.Sender {
	return &postback.Sender{
		Configs: b.Configs,
		Client:  webhook.NewClient(b.Settings.AllowPrivateTargets),
		Now:     b.Now,
		Log:     b.Log,
	}
}
