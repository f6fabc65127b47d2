// Package sealing wires the configuration's secrets (package secrets):
// the keeper that seals and opens them — KMS where the stack gave a key
// (LEADRELAY_SECRETS_KEY_ID), a local key where there is none
// (LEADRELAY_SECRETS_KEY) — and the opening of the cached configuration
// for the functions that use secrets (router: postbacks; delivery:
// signing, auth, Slack, postbacks). It links KMS, and no SSM client:
// references are read through the Parameters and Secrets extension.
package sealing

import (
	"context"
	"encoding/hex"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/leadrelay/leadrelay/shared/app/base"
	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/secrets"
	"github.com/leadrelay/leadrelay/shared/settings"
)

// Keeper is the settings' keeper: KMS, a local key (settings.FromEnv
// checked it), or nil (no sealed secret can be opened, and a secret
// value cannot be applied).
func Keeper(s settings.Settings, cfg aws.Config) secrets.Keeper {
	switch {
	case s.SecretsKeyID != "":
		return &secrets.KMS{API: kms.NewFromConfig(cfg), KeyID: s.SecretsKeyID}
	case s.SecretsKey != "":
		key, _ := hex.DecodeString(s.SecretsKey)
		return secrets.Local{Key: key}
	}
	return nil
}

// Open makes b's configuration cache hand out the configuration with its
// secrets' values: sealed ones opened with k, references resolved with r
// (cached for secrets.DefaultParamTTL).
func Open(b *base.Base, k secrets.Keeper, r secrets.Resolver) {
	params := &secrets.Params{Resolver: r, Now: b.Now}
	b.Configs.OpenSecretsWith(func(ctx context.Context, c *config.Config) error {
		return secrets.Open(ctx, c, k, params)
	})
}
