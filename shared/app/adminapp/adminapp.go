// Package adminapp wires the admin function: the operators' API and its
// console, and the scheduled scoring trainings, feedback loops, ad spend
// imports and buyer billing. It links DynamoDB, SQS (redrive), KMS
// (secrets) and, for the ad accounts' tokens and the Stripe key read on
// use, SSM.
package adminapp

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/leadrelay/leadrelay/shared/admin"
	"github.com/leadrelay/leadrelay/shared/adspend"
	"github.com/leadrelay/leadrelay/shared/app/base"
	"github.com/leadrelay/leadrelay/shared/app/queues"
	"github.com/leadrelay/leadrelay/shared/app/sealing"
	"github.com/leadrelay/leadrelay/shared/app/secret"
	"github.com/leadrelay/leadrelay/shared/cognito"
	"github.com/leadrelay/leadrelay/shared/console"
	"github.com/leadrelay/leadrelay/shared/conversions"
	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/notify"
	"github.com/leadrelay/leadrelay/shared/queue"
	"github.com/leadrelay/leadrelay/shared/secrets"
	"github.com/leadrelay/leadrelay/shared/settings"
	"github.com/leadrelay/leadrelay/shared/webhook"
)

// Function is the admin function: the operators' API, and its console
// (the API Gateway requests under /console).
type Function struct {
	API     *admin.Handler
	Console *console.Server
}

// New is the admin function's handler, built from its settings and AWS
// configuration without calling AWS. On AWS, IAM guards the API: no
// token.
func New(s settings.Settings, cfg aws.Config, log *slog.Logger) *Function {
	b := base.New(s, cfg, log)
	sq, q := queues.New(s, cfg)
	h := Handler(b, sq, q, sealing.Keeper(s, cfg), "")
	refs := secret.SSMRefs(cfg)
	h.AdSpend = AdSpend(s, refs)
	h.ConversionSender = Conversions(s, refs)
	h.Billing, h.Refs = NewStripe(s, refs), refs
	return &Function{API: h, Console: Console(b, h)}
}

// Console is the operators' console of a deployment: over the admin
// handler in-process, its sessions in the table, served under the
// settings' public URL. Operators sign in through an identity provider
// (Amazon Cognito) only: until one is set, sign-in answers 503 — a
// deployed console never takes a token.
func Console(b *base.Base, h *admin.Handler) *console.Server {
	srv := &console.Server{API: h, Sessions: b.Store, PublicURL: b.Settings.PublicURL, Now: b.Now, Log: b.Log}
	// The stack's Cognito user pool signs operators in (settings checks
	// that its three settings come together).
	if s := b.Settings; s.CognitoClientID != "" {
		srv.Identity = &cognito.Client{Domain: s.CognitoDomain, ClientID: s.CognitoClientID, Issuer: s.CognitoIssuer}
	}
	return srv
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

// Invoke is the admin function's Lambda entry: an API Gateway request (to
// the console under /console, to the admin API otherwise), or a
// scheduled task ({"task": "train"|"feedback"|"spend"|"conversions"|"billing"},
// admin.RunTask).
func Invoke(f *Function) func(ctx context.Context, event json.RawMessage) (any, error) {
	return func(ctx context.Context, event json.RawMessage) (any, error) {
		var t admin.Task
		if err := json.Unmarshal(event, &t); err == nil && t.Task != "" {
			return nil, f.API.RunTask(ctx, t)
		}
		var req httpapi.Request
		if err := json.Unmarshal(event, &req); err != nil {
			return nil, fmt.Errorf("admin: an event that is neither a request nor a task: %w", err)
		}
		// By the route API Gateway matched, not the path: only the open
		// console routes reach the console, and nothing through them
		// reaches the IAM-guarded admin API.
		if f.Console != nil && (req.Resource == "/console" || strings.HasPrefix(req.Resource, "/console/")) {
			return f.Console.Handle(ctx, req)
		}
		return f.API.Handle(ctx, req)
	}
}
