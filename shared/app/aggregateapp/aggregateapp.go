// Package aggregateapp wires the aggregate function: the table's stream
// folded into the P&L. It links DynamoDB only.
package aggregateapp

import (
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/leadrelay/leadrelay/shared/aggregate"
	"github.com/leadrelay/leadrelay/shared/app/base"
	"github.com/leadrelay/leadrelay/shared/settings"
)

// New is the aggregate function's handler, built from its settings and
// AWS configuration without calling AWS.
func New(s settings.Settings, cfg aws.Config, log *slog.Logger) *aggregate.Handler {
	return Handler(base.New(s, cfg, log))
}

// Handler is the aggregate handler over a table built elsewhere.
func Handler(b *base.Base) *aggregate.Handler {
	return &aggregate.Handler{Store: b.Store, Log: b.Log}
}
