// Package adminapp wires the admin function: the operators' API, and the
// scheduled scoring trainings, feedback loops, ad spend imports and buyer
// billing. It links DynamoDB, SQS (redrive), KMS (secrets) and, for the ad
// accounts' tokens and the Stripe key read on use, SSM.
package adminapp

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/leadrelay/leadrelay/shared/admin"
	"github.com/leadrelay/leadrelay/shared/adspend"
	"github.com/leadrelay/leadrelay/shared/app/base"
	"github.com/leadrelay/leadrelay/shared/app/queues"
	"github.com/leadrelay/leadrelay/shared/app/sealing"
	"github.com/leadrelay/leadrelay/shared/app/secret"
	"github.com/leadrelay/leadrelay/shared/conversions"
	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/notify"
	"github.com/leadrelay/leadrelay/shared/queue"
	"github.com/leadrelay/leadrelay/shared/secrets"
	"github.com/leadrelay/leadrelay/shared/settings"
	"github.com/leadrelay/leadrelay/shared/webhook"
)

// New is the admin function's handler, built from its settings and AWS
// configuration without calling AWS. On AWS, IAM guards it: no token.
func New(s settings.Settings, cfg aws.Config, log *slog.Logger) *admin.Handler {
	sq, q := queues.New(s, cfg)
	h := Handler(base.New(s, cfg, log), sq, q, sealing.Keeper(s, cfg), "")
	refs := secret.SSMRefs(cfg)
	h.AdSpend = AdSpend(s, refs)
	h.ConversionSender = Conversions(s, refs)
	h.Billing, h.Refs = NewStripe(s, refs), refs
	return h
}

// Conversions sends Meta's leads' stages to the Conversions API at the
// settings' Graph API URL, its token's ssm: reference resolved by refs.
func Conversions(s settings.Settings, refs conversions.Refs) *conversions.Client {
	return &conversions.Client{Meta: &conversions.Meta{BaseURL: s.MetaGraphURL, Client: &http.Client{Timeout: conversions.Timeout}}, Refs: refs}
}

// AdSpend reads the ad accounts' spend from the platforms at the
// settings' base URLs, their tokens' ssm: references resolved by refs.
// Google accounts with an OAuth client get their access tokens at the
// settings' token endpoint, kept by this client (the instance's) until
// they expire.
func AdSpend(s settings.Settings, refs adspend.Refs) *adspend.Client {
	return &adspend.Client{
		Meta:        &adspend.Meta{GraphURL: s.MetaGraphURL, Client: &http.Client{Timeout: adspend.Timeout}},
		Google:      &adspend.Google{BaseURL: s.GoogleAdsURL, Client: &http.Client{Timeout: adspend.Timeout}},
		GoogleOAuth: &adspend.GoogleOAuth{TokenURL: s.GoogleTokenURL, Client: &http.Client{Timeout: adspend.OAuthTimeout}},
		Refs:        refs,
	}
}

// Handler is the admin handler over clients built elsewhere; token guards
// it where IAM does not (the local runner).
func Handler(b *base.Base, sq *sqs.Client, q *queue.Sender, k secrets.Keeper, token string) *admin.Handler {
	return &admin.Handler{
		Store: b.Store, Queue: q, Now: b.Now, Token: token, Changed: b.Configs.Invalidate, Log: b.Log,
		Redriver: queue.NewRedriver(sq, q.URLs()), Ledger: b.Store, Secrets: k, Models: b.Store, ConversionQueue: b.Store,
		Balances: b.Store, Charges: b.Store,
		Slack: &notify.Slack{Client: webhook.NewClient(b.Settings.AllowPrivateTargets)},
	}
}

// Invoke is the admin function's Lambda entry: an API Gateway request, or
// a scheduled task ({"task": "train"|"feedback"|"spend"|"conversions"|"billing"},
// admin.RunTask).
func Invoke(h *admin.Handler) func(ctx context.Context, event json.RawMessage) (any, error) {
	return func(ctx context.Context, event json.RawMessage) (any, error) {
		var t admin.Task
		if err := json.Unmarshal(event, &t); err == nil && t.Task != "" {
			return nil, h.RunTask(ctx, t)
		}
		var req httpapi.Request
		if err := json.Unmarshal(event, &req); err != nil {
			return nil, fmt.Errorf("admin: an event that is neither a request nor a task: %w", err)
		}
		return h.Handle(ctx, req)
	}
}
