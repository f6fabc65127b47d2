// Package ingestapp wires the ingest function: sources' leads and buyers'
// returns, ad platforms' lead forms, and the Meta queue's leads fetched
// from the Graph API. It links DynamoDB, SQS and, for the secrets read on
// first use (the ping secret, the Meta app secret, the Meta pages'
// tokens), SSM.
package ingestapp

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/leadrelay/leadrelay/shared/app/base"
	"github.com/leadrelay/leadrelay/shared/app/models"
	"github.com/leadrelay/leadrelay/shared/app/queues"
	"github.com/leadrelay/leadrelay/shared/app/secret"
	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/ingest"
	"github.com/leadrelay/leadrelay/shared/pinger"
	"github.com/leadrelay/leadrelay/shared/queue"
	"github.com/leadrelay/leadrelay/shared/settings"
	"github.com/leadrelay/leadrelay/shared/webhook"
)

// New is the ingest function's handler, built from its settings and AWS
// configuration without calling AWS.
func New(s settings.Settings, cfg aws.Config, log *slog.Logger) *ingest.Handler {
	_, q := queues.New(s, cfg)
	return Handler(base.New(s, cfg, log), q, Secrets{Ping: secret.Ping(s, cfg), Meta: secret.Meta(s, cfg), PageTokens: secret.SSMRefs(cfg), Twilio: secret.Twilio(s, cfg)})
}

// Secrets are the ingest handler's secrets, each read on first use.
type Secrets struct {
	// Ping verifies the ping_ids leads claim.
	Ping *secret.Cached
	// Meta is the Meta app's secret: it verifies Meta Lead Ads
	// notifications and signs the Graph API requests (appsecret_proof).
	Meta *secret.Cached
	// PageTokens resolves the Meta pages' access_token references.
	PageTokens *secret.Refs
	// Twilio is the Twilio auth token: it checks the voice webhooks'
	// signatures (nil: calls answer 503).
	Twilio *secret.Cached
}

// Handler is the ingest handler over clients built elsewhere (the local
// runner shares them between handlers).
func Handler(b *base.Base, q *queue.Sender, sec Secrets) *ingest.Handler {
	return &ingest.Handler{
		Store: b.Store, Queue: q, Configs: b.Configs, Limits: b.Limits, Now: b.Now, Log: b.Log,
		NewID: base.NewID, PingSecret: sec.Ping.Get,
		Outcomes: b.Store, Recents: b.Store, Models: &models.Cache{Store: b.Store, Now: b.Now, TTL: b.Settings.ModelTTL},
		MetaSecret: sec.Meta.Get, MetaQueue: q, PageTokens: sec.PageTokens, Balances: b.Store,
		GraphURL: b.Settings.MetaGraphURL, Graph: &http.Client{Timeout: ingest.GraphTimeout},
		Calls: b.Store, PublicURL: b.Settings.PublicURL, TwilioToken: twilioToken(sec.Twilio),
		Pinger: &pinger.HTTP{Client: webhook.NewClient(b.Settings.AllowPrivateTargets)},
	}
}

func twilioToken(c *secret.Cached) func(context.Context) ([]byte, error) {
	if c == nil {
		return nil
	}
	return c.Get
}

// Invoke is the ingest function's Lambda entry: an API Gateway request
// (Handle), or a batch of the Meta queue from its event source mapping
// (HandleMeta, whose answer lists the messages that failed).
func Invoke(h *ingest.Handler) func(ctx context.Context, event json.RawMessage) (any, error) {
	return func(ctx context.Context, event json.RawMessage) (any, error) {
		var probe struct {
			Records []struct {
				EventSource string `json:"eventSource"`
			} `json:"Records"`
		}
		if err := json.Unmarshal(event, &probe); err == nil && len(probe.Records) > 0 && probe.Records[0].EventSource == "aws:sqs" {
			var ev events.SQSEvent
			if err := json.Unmarshal(event, &ev); err != nil {
				return nil, fmt.Errorf("ingest: an SQS event that does not decode: %w", err)
			}
			return h.HandleMeta(ctx, ev)
		}
		var req httpapi.Request
		if err := json.Unmarshal(event, &req); err != nil {
			return nil, fmt.Errorf("ingest: an event that is neither a request nor an SQS batch: %w", err)
		}
		return h.Handle(ctx, req)
	}
}
