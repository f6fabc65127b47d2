package settings

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestFromEnvDefaults(t *testing.T) {
	s, err := FromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if s.Table != "leadrelay" || s.EmailFrom != DefaultEmailFrom || s.ConfigTTL != DefaultConfigTTL || s.ModelTTL != DefaultModelTTL || s.AllowPrivateTargets ||
		s.MetaGraphURL != "https://graph.facebook.com/v21.0" || s.GoogleAdsURL != "https://googleads.googleapis.com/v18" ||
		s.GoogleTokenURL != "https://oauth2.googleapis.com/token" || s.StripeURL != "https://api.stripe.com" || s.MetaAppSecret != "" || s.MetaAppSecretParam != "" {
		t.Fatalf("defaults: %+v", s)
	}
}

func TestFromEnvReadsEverything(t *testing.T) {
	s, err := FromEnv(env(map[string]string{
		"LEADRELAY_TABLE": "t", "LEADRELAY_ROUTING_QUEUE_URL": "rq", "LEADRELAY_DELIVERY_QUEUE_URL": "dq",
		"LEADRELAY_ROUTING_DLQ_URL": "rdlq", "LEADRELAY_DELIVERY_DLQ_URL": "ddlq", "LEADRELAY_ALLOW_PRIVATE_TARGETS": "true",
		"LEADRELAY_CONFIG_TTL": "2s", "LEADRELAY_PING_SECRET": "secret", "LEADRELAY_PING_SECRET_PARAM": "/p",
		"LEADRELAY_EMAIL_FROM": "leads@agency.example", "LEADRELAY_MODEL_TTL": "30s",
		"LEADRELAY_SHEETS_URL": "http://127.0.0.1:9/sheets/", "LEADRELAY_GOOGLE_TOKEN_URL": "http://127.0.0.1:9/token",
		"LEADRELAY_META_APP_SECRET": "meta", "LEADRELAY_META_APP_SECRET_PARAM": "/m", "LEADRELAY_META_GRAPH_URL": "http://127.0.0.1:9/v21.0/",
		"LEADRELAY_META_QUEUE_URL": "mq", "LEADRELAY_META_DLQ_URL": "mdlq", "LEADRELAY_GOOGLE_ADS_URL": "http://127.0.0.1:9/v18/",
		"LEADRELAY_STRIPE_URL": "http://127.0.0.1:9/stripe/",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := Settings{Table: "t", RoutingQueueURL: "rq", DeliveryQueueURL: "dq", RoutingDLQURL: "rdlq", DeliveryDLQURL: "ddlq",
		AllowPrivateTargets: true, ConfigTTL: 2 * time.Second, ModelTTL: 30 * time.Second, PingSecret: "secret", PingSecretParam: "/p", EmailFrom: "leads@agency.example",
		MetaAppSecret: "meta", MetaAppSecretParam: "/m", MetaGraphURL: "http://127.0.0.1:9/v21.0", MetaQueueURL: "mq", MetaDLQURL: "mdlq", GoogleAdsURL: "http://127.0.0.1:9/v18",
		SheetsURL: "http://127.0.0.1:9/sheets", GoogleTokenURL: "http://127.0.0.1:9/token", StripeURL: "http://127.0.0.1:9/stripe"}
	if s != want {
		t.Fatalf("got %+v\nwant %+v", s, want)
	}
}

func TestFromEnvRefusesBadValues(t *testing.T) {
	for k, v := range map[string]string{"LEADRELAY_ALLOW_PRIVATE_TARGETS": "sometimes", "LEADRELAY_CONFIG_TTL": "-1s", "LEADRELAY_MODEL_TTL": "soon",
		"LEADRELAY_META_GRAPH_URL": "graph.facebook.com", "LEADRELAY_GOOGLE_ADS_URL": "ftp://googleads.googleapis.com"} {
		_, err := FromEnv(env(map[string]string{k: v}))
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: %v, want an error naming it", k, v, err)
		}
	}
}

// The Sheets API and its token endpoint default to Google's; set, each is
// an http(s) URL with a host, without a query, fragment or user.
func TestFromEnvSheetsURLs(t *testing.T) {
	s, err := FromEnv(env(nil))
	if err != nil || s.SheetsURL != "https://sheets.googleapis.com" || s.GoogleTokenURL != "https://oauth2.googleapis.com/token" {
		t.Fatalf("defaults %q %q, %v", s.SheetsURL, s.GoogleTokenURL, err)
	}
	for _, k := range []string{"LEADRELAY_SHEETS_URL", "LEADRELAY_GOOGLE_TOKEN_URL"} {
		for _, v := range []string{"sheets.googleapis.com", "ftp://sheets.googleapis.com", "https:///v4", "https://sheets.googleapis.com?key=1",
			"https://sheets.googleapis.com/#x", "https://user:pw@sheets.googleapis.com", "://bad"} {
			_, err := FromEnv(env(map[string]string{k: v}))
			if err == nil || !strings.Contains(err.Error(), k) {
				t.Errorf("%s=%s: %v, want an error naming it", k, v, err)
			}
		}
	}
	s, err = FromEnv(env(map[string]string{"LEADRELAY_SHEETS_URL": "http://127.0.0.1:8081/", "LEADRELAY_GOOGLE_TOKEN_URL": "http://127.0.0.1:8081/token"}))
	if err != nil || s.SheetsURL != "http://127.0.0.1:8081" || s.GoogleTokenURL != "http://127.0.0.1:8081/token" {
		t.Fatalf("%q %q, %v", s.SheetsURL, s.GoogleTokenURL, err)
	}
}

// Stripe's API defaults to Stripe's; set, it is an http(s) URL with a
// host, without a query, fragment or user, and loses a trailing slash.
func TestFromEnvStripeURL(t *testing.T) {
	s, err := FromEnv(env(nil))
	if err != nil || s.StripeURL != DefaultStripeURL {
		t.Fatalf("default %q, %v", s.StripeURL, err)
	}
	for _, v := range []string{"api.stripe.com", "ftp://api.stripe.com", "https://", "https://api.stripe.com?x=1",
		"https://api.stripe.com/#x", "https://sk_live_x@api.stripe.com", "://bad"} {
		_, err := FromEnv(env(map[string]string{"LEADRELAY_STRIPE_URL": v}))
		if err == nil || !strings.Contains(err.Error(), "LEADRELAY_STRIPE_URL") {
			t.Errorf("LEADRELAY_STRIPE_URL=%s: %v, want an error naming it", v, err)
		}
	}
	s, err = FromEnv(env(map[string]string{"LEADRELAY_STRIPE_URL": "http://127.0.0.1:12111/"}))
	if err != nil || s.StripeURL != "http://127.0.0.1:12111" {
		t.Fatalf("%q, %v", s.StripeURL, err)
	}
}

// The console's Cognito sign-in: the user pool domain, the app client and
// the issuer, all three or none, the URLs checked, under a public URL.
func TestFromEnvCognito(t *testing.T) {
	s, err := FromEnv(env(nil))
	if err != nil || s.CognitoDomain != "" || s.CognitoClientID != "" || s.CognitoIssuer != "" {
		t.Fatalf("unset: %+v, %v", s, err)
	}
	good := map[string]string{
		"LEADRELAY_COGNITO_DOMAIN":    "https://leadrelay-3f2a9c.auth.us-east-1.amazoncognito.com/",
		"LEADRELAY_COGNITO_CLIENT_ID": "3n4b5urk1ft4fl3mg5e62d9ado",
		"LEADRELAY_COGNITO_ISSUER":    "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123/",
		"LEADRELAY_PUBLIC_URL":        "https://abc123.execute-api.us-east-1.amazonaws.com/prod",
	}
	s, err = FromEnv(env(good))
	if err != nil {
		t.Fatal(err)
	}
	if s.CognitoDomain != "https://leadrelay-3f2a9c.auth.us-east-1.amazoncognito.com" || s.CognitoClientID != "3n4b5urk1ft4fl3mg5e62d9ado" ||
		s.CognitoIssuer != "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123" {
		t.Errorf("got %q %q %q", s.CognitoDomain, s.CognitoClientID, s.CognitoIssuer)
	}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for k, v := range good {
			m[k] = v
		}
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	for _, tc := range []struct {
		env  map[string]string
		want string // in the error
	}{
		{with("LEADRELAY_COGNITO_DOMAIN", ""), "without LEADRELAY_COGNITO_DOMAIN"},
		{with("LEADRELAY_COGNITO_CLIENT_ID", ""), "without LEADRELAY_COGNITO_CLIENT_ID"},
		{with("LEADRELAY_COGNITO_ISSUER", ""), "without LEADRELAY_COGNITO_ISSUER"},
		{map[string]string{"LEADRELAY_COGNITO_CLIENT_ID": "abc"}, "without LEADRELAY_COGNITO_DOMAIN, LEADRELAY_COGNITO_ISSUER"},
		{with("LEADRELAY_COGNITO_DOMAIN", "leadrelay.auth.us-east-1.amazoncognito.com"), "LEADRELAY_COGNITO_DOMAIN"},
		{with("LEADRELAY_COGNITO_DOMAIN", "https://leadrelay.auth.us-east-1.amazoncognito.com?x=1"), "LEADRELAY_COGNITO_DOMAIN"},
		{with("LEADRELAY_COGNITO_ISSUER", "cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123"), "LEADRELAY_COGNITO_ISSUER"},
		{with("LEADRELAY_COGNITO_ISSUER", "https://cognito-idp.us-east-1.amazonaws.com"), "LEADRELAY_COGNITO_ISSUER"},
		{with("LEADRELAY_COGNITO_CLIENT_ID", "abc def"), "LEADRELAY_COGNITO_CLIENT_ID"},
		{with("LEADRELAY_PUBLIC_URL", ""), "LEADRELAY_PUBLIC_URL"},
	} {
		_, err := FromEnv(env(tc.env))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error with %q", tc.env, err, tc.want)
		}
	}
}
