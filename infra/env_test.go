package main

import (
	"fmt"
	"strings"
	"testing"

	fnsettings "github.com/leadrelay/leadrelay/shared/settings"
)

// One settings path: every variable the stack sets on a function is one
// that settings.FromEnv — what every function's main reads its settings
// with — asks for, and it reads the value the stack sets (a literal) back.
// A variable the stack sets and the functions ignore (LEADRELAY_EMAIL_FROM
// once was) fails here.
func TestFunctionsReadEveryVariableTheStackSets(t *testing.T) {
	f := synthDefault(t)
	for id, fn := range f.resources("AWS::Lambda::Function") {
		env, _ := props(fn)["Environment"].(map[string]any)
		vars, _ := env["Variables"].(map[string]any)
		if len(vars) == 0 {
			t.Errorf("%s: no environment", id)
			continue
		}
		asked := map[string]bool{}
		values := map[string]string{}
		for k, v := range vars {
			if s, ok := v.(string); ok {
				values[k] = s
			} else if ref, ok := refValues[k]; ok {
				values[k] = ref
			} else {
				values[k] = "ref-" + strings.ToLower(k) // a CloudFormation reference
			}
		}
		s, err := fnsettings.FromEnv(func(k string) string { asked[k] = true; return values[k] })
		if err != nil {
			t.Errorf("%s: settings from the stack's environment: %v", id, err)
			continue
		}
		for k := range vars {
			// The Parameters and Secrets extension's own settings (the
			// CDK sets them with the layer): the extension reads them.
			if strings.HasPrefix(k, "PARAMETERS_SECRETS_EXTENSION_") || strings.HasPrefix(k, "SSM_PARAMETER_STORE_") || strings.HasPrefix(k, "SECRETS_MANAGER_") {
				continue
			}
			if !asked[k] {
				t.Errorf("%s: the stack sets %s, which settings.FromEnv never reads", id, k)
			}
		}
		got := map[string]string{
			"LEADRELAY_TABLE": s.Table, "LEADRELAY_ROUTING_QUEUE_URL": s.RoutingQueueURL,
			"LEADRELAY_DELIVERY_QUEUE_URL": s.DeliveryQueueURL, "LEADRELAY_ROUTING_DLQ_URL": s.RoutingDLQURL,
			"LEADRELAY_DELIVERY_DLQ_URL": s.DeliveryDLQURL, "LEADRELAY_PING_SECRET_PARAM": s.PingSecretParam,
			"LEADRELAY_EMAIL_FROM": s.EmailFrom, "LEADRELAY_ALLOW_PRIVATE_TARGETS": fmt.Sprint(s.AllowPrivateTargets),
			"LEADRELAY_SECRETS_KEY_ID": s.SecretsKeyID, "LEADRELAY_META_QUEUE_URL": s.MetaQueueURL, "LEADRELAY_META_DLQ_URL": s.MetaDLQURL,
			"LEADRELAY_META_APP_SECRET_PARAM": s.MetaAppSecretParam, "LEADRELAY_META_GRAPH_URL": s.MetaGraphURL,
			"LEADRELAY_TWILIO_AUTH_TOKEN_PARAM": s.TwilioAuthTokenParam, "LEADRELAY_PUBLIC_URL": s.PublicURL,
			"LEADRELAY_GOOGLE_ADS_URL": s.GoogleAdsURL, "LEADRELAY_SHEETS_URL": s.SheetsURL, "LEADRELAY_GOOGLE_TOKEN_URL": s.GoogleTokenURL,
			"LEADRELAY_STRIPE_URL": s.StripeURL, "LEADRELAY_COGNITO_DOMAIN": s.CognitoDomain,
			"LEADRELAY_COGNITO_CLIENT_ID": s.CognitoClientID, "LEADRELAY_COGNITO_ISSUER": s.CognitoIssuer,
		}
		for k, v := range values {
			if g, ok := got[k]; ok && g != v {
				t.Errorf("%s: %s = %q in the stack, read as %q", id, k, v, g)
			}
		}
	}
}

// refValues stand for the variables the stack joins from its resources'
// references and that settings.FromEnv checks the form of: what each
// resolves to once deployed.
var refValues = map[string]string{
	// The stage's URL, joined from the API's id.
	"LEADRELAY_PUBLIC_URL": "https://ref-api.execute-api.ref-region.amazonaws.com/prod",
	// The hosted login's base URL, joined from the domain's prefix; the
	// app client's id; the pool's issuer, joined from its provider URL.
	"LEADRELAY_COGNITO_DOMAIN":    "https://leadrelay-ref-stack-id.auth.ref-region.amazoncognito.com",
	"LEADRELAY_COGNITO_CLIENT_ID": "refappclientid",
	"LEADRELAY_COGNITO_ISSUER":    "https://cognito-idp.ref-region.amazonaws.com/ref-region_RefPool",
}

// The stack's Graph API is the functions' default: one version of the API
// for both.
func TestMetaGraphURLIsTheFunctionsDefault(t *testing.T) {
	if DefaultMetaGraphURL != fnsettings.DefaultMetaGraphURL {
		t.Errorf("the stack sets LEADRELAY_META_GRAPH_URL=%s, the functions default to %s", DefaultMetaGraphURL, fnsettings.DefaultMetaGraphURL)
	}
	if DefaultGoogleAdsURL != fnsettings.DefaultGoogleAdsURL {
		t.Errorf("the stack sets LEADRELAY_GOOGLE_ADS_URL=%s, the functions default to %s", DefaultGoogleAdsURL, fnsettings.DefaultGoogleAdsURL)
	}
}
