// Package sweeperapp wires the sweeper function: lost messages sent
// again. It links DynamoDB and SQS.
package sweeperapp

import (
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/leadrelay/leadrelay/shared/app/base"
	"github.com/leadrelay/leadrelay/shared/app/queues"
	"github.com/leadrelay/leadrelay/shared/queue"
	"github.com/leadrelay/leadrelay/shared/settings"
	"github.com/leadrelay/leadrelay/shared/sweeper"
)

// New is the sweeper function's handler, built from its settings and AWS
// configuration without calling AWS.
func New(s settings.Settings, cfg aws.Config, log *slog.Logger) *sweeper.Handler {
	_, q := queues.New(s, cfg)
	return Handler(base.New(s, cfg, log), q)
}

// Handler is the sweeper handler over clients built elsewhere.
func Handler(b *base.Base, q *queue.Sender) *sweeper.Handler {
	return &sweeper.Handler{Store: b.Store, Queue: q, Configs: b.Configs, Now: b.Now, Log: b.Log}
}
