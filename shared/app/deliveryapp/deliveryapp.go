// Package deliveryapp wires the delivery function: the delivery queue's
// consumer. It links DynamoDB, SQS, SES (email deliveries) and HTTP to
// buyers, Google Sheets, sources' postbacks and Slack.
package deliveryapp

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/leadrelay/leadrelay/shared/app/base"
	"github.com/leadrelay/leadrelay/shared/app/queues"
	"github.com/leadrelay/leadrelay/shared/app/sealing"
	"github.com/leadrelay/leadrelay/shared/breaker"
	"github.com/leadrelay/leadrelay/shared/delivery"
	"github.com/leadrelay/leadrelay/shared/email"
	"github.com/leadrelay/leadrelay/shared/notify"
	"github.com/leadrelay/leadrelay/shared/queue"
	"github.com/leadrelay/leadrelay/shared/secrets"
	"github.com/leadrelay/leadrelay/shared/settings"
	"github.com/leadrelay/leadrelay/shared/sheets"
	"github.com/leadrelay/leadrelay/shared/webhook"
)

// New is the delivery function's handler, built from its settings and
// AWS configuration without calling AWS.
func New(s settings.Settings, cfg aws.Config, log *slog.Logger) *delivery.Handler {
	b := base.New(s, cfg, log)
	sealing.Open(b, sealing.Keeper(s, cfg), secrets.Extension{}) // signing, auth, Slack, postbacks
	_, q := queues.New(s, cfg)
	h := Handler(b, q, b.Breakers(), SES(cfg))
	// Sheets buyers' keys, read through the extension when a row is
	// appended, each kept for secrets.DefaultParamTTL.
	h.Sheets = Sheets(b, (&secrets.Params{Resolver: secrets.Extension{}, Now: b.Now}).Get)
	return h
}

// Sheets is the sender of Google Sheets deliveries, to the settings'
// Sheets API and token endpoint; credentials reads the ssm: references
// of the service accounts' keys.
func Sheets(b *base.Base, credentials func(ctx context.Context, ref string) (string, error)) *sheets.Sender {
	return &sheets.Sender{
		SheetsURL: b.Settings.SheetsURL, TokenURL: b.Settings.GoogleTokenURL, Credentials: credentials,
		Client: sheets.NewClient(), Now: b.Now, Log: b.Log,
	}
}

// SES is the client email deliveries are sent with.
func SES(cfg aws.Config) *sesv2.Client {
	return sesv2.NewFromConfig(cfg, func(o *sesv2.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) { so.MaxAttempts = 3 })
	})
}

// Handler is the delivery handler over clients built elsewhere (the local
// runner shares them, and the breakers, with the router).
func Handler(b *base.Base, q *queue.Sender, breakers *breaker.Breakers, ses *sesv2.Client) *delivery.Handler {
	s := b.Settings
	return &delivery.Handler{
		Store: b.Store, Queue: q, Configs: b.Configs, Postbacks: b.Postbacks(), Breakers: breakers,
		Webhook:  &webhook.Sender{Client: webhook.NewClient(s.AllowPrivateTargets)},
		Email:    &email.Sender{API: ses, From: s.EmailFrom},
		Slack:    &notify.Slack{Client: webhook.NewClient(s.AllowPrivateTargets)},
		QueueURL: s.DeliveryQueueURL,
		Now:      b.Now,
		Jitter:   func(d time.Duration) time.Duration { return rand.N(d) },
		Log:      b.Log,
	}
}
