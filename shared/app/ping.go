package app

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/google/uuid"

	"github.com/leadrelay/leadrelay/shared/paramstore"
	"github.com/leadrelay/leadrelay/shared/ping"
	"github.com/leadrelay/leadrelay/shared/pinger"
	"github.com/leadrelay/leadrelay/shared/pingtoken"
	"github.com/leadrelay/leadrelay/shared/webhook"
)

// LoadPingSecret sets a.PingSecret from the settings: LEADRELAY_PING_SECRET,
// or the SSM parameter named by LEADRELAY_PING_SECRET_PARAM (read once, at
// cold start). The ping and ingest functions call it before serving.
func (a *App) LoadPingSecret(ctx context.Context, cfg aws.Config) error {
	var r pingtoken.ParameterReader
	if a.Settings.PingSecret == "" && a.Settings.PingSecretParam != "" {
		r = paramstore.Reader{API: ssm.NewFromConfig(cfg)}
	}
	secret, err := pingtoken.LoadSecret(ctx, a.Settings.PingSecret, a.Settings.PingSecretParam, r)
	if err != nil {
		return err
	}
	a.PingSecret = secret
	return nil
}

// Ping is the ping function's handler (POST /v1/pings).
func (a *App) Ping() *ping.Handler {
	return &ping.Handler{
		Configs: a.Configs, Secret: a.PingSecret, Now: a.Now, Log: a.Log, Breakers: a.Breakers,
		Pinger: &pinger.HTTP{Client: webhook.NewClient(a.Settings.AllowPrivateTargets)},
		NewID:  func() string { return uuid.Must(uuid.NewV7()).String() },
	}
}
