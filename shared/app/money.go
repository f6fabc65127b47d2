package app

import (
	"github.com/leadrelay/leadrelay/shared/postback"
	"github.com/leadrelay/leadrelay/shared/webhook"
)

// postbacks is the sender of seller postbacks the router and delivery share.
func (a *App) postbacks() *postback.Sender {
	return &postback.Sender{
		Configs: a.Configs,
		Client:  webhook.NewClient(a.Settings.AllowPrivateTargets),
		Now:     a.Now,
		Log:     a.Log,
	}
}
