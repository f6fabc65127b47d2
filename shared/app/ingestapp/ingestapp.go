// Package ingestapp wires the ingest function: sources' leads and buyers'
// returns. It links DynamoDB, SQS and, for the ping secret read on the
// first lead that claims a ping, SSM.
package ingestapp

import (
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/leadrelay/leadrelay/shared/app/base"
	"github.com/leadrelay/leadrelay/shared/app/models"
	"github.com/leadrelay/leadrelay/shared/app/queues"
	"github.com/leadrelay/leadrelay/shared/app/secret"
	"github.com/leadrelay/leadrelay/shared/ingest"
	"github.com/leadrelay/leadrelay/shared/queue"
	"github.com/leadrelay/leadrelay/shared/settings"
)

// New is the ingest function's handler, built from its settings and AWS
// configuration without calling AWS.
func New(s settings.Settings, cfg aws.Config, log *slog.Logger) *ingest.Handler {
	_, q := queues.New(s, cfg)
	return Handler(base.New(s, cfg, log), q, secret.Ping(s, cfg))
}

// Handler is the ingest handler over clients built elsewhere (the local
// runner shares them between handlers).
func Handler(b *base.Base, q *queue.Sender, pingSecret *secret.Cached) *ingest.Handler {
	return &ingest.Handler{
		Store: b.Store, Queue: q, Configs: b.Configs, Limits: b.Limits, Now: b.Now, Log: b.Log,
		NewID: base.NewID, PingSecret: pingSecret.Get,
		Outcomes: b.Store, Recents: b.Store, Models: &models.Cache{Store: b.Store, Now: b.Now, TTL: b.Settings.ModelTTL},
	}
}
