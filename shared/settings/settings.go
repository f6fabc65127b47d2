// Package settings reads a function's settings from its environment. The
// CDK stack sets the same variables on every Lambda; the local runner sets
// them for the in-process handlers.
package settings

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Settings are the environment of a LeadRelay function.
type Settings struct {
	Table            string
	RoutingQueueURL  string
	DeliveryQueueURL string
	RoutingDLQURL    string
	DeliveryDLQURL   string
	// AllowPrivateTargets lets delivery and pings reach private and
	// loopback addresses (local runner and tests only).
	AllowPrivateTargets bool
	// EmailFrom is the sender address of email deliveries (an SES
	// verified identity).
	EmailFrom string
	// ConfigTTL is how long a function keeps the configuration before it
	// reads it again: config changes reach the router within this time.
	ConfigTTL time.Duration
	// ModelTTL is how long a function keeps a campaign's scoring model
	// before it reads it again (LEADRELAY_MODEL_TTL, default
	// DefaultModelTTL): a model is up to 350 KB, read per instance.
	ModelTTL time.Duration
	// PingSecret signs ping_ids (LEADRELAY_PING_SECRET, local runs); on
	// AWS PingSecretParam names the SSM SecureString parameter holding it
	// (LEADRELAY_PING_SECRET_PARAM), read on first use (shared/app/secret).
	PingSecret      string
	PingSecretParam string
	// SecretsKeyID is the KMS key that seals the configuration's secrets
	// on AWS (LEADRELAY_SECRETS_KEY_ID); SecretsKey, a local AES-256 key
	// in hex, seals them where there is no KMS (LEADRELAY_SECRETS_KEY:
	// the local runner).
	SecretsKeyID string
	SecretsKey   string
	// MetaAppSecret verifies Meta Lead Ads notifications' signatures
	// (LEADRELAY_META_APP_SECRET, local runs and tests); on AWS
	// MetaAppSecretParam names the SSM SecureString parameter holding the
	// Meta app's secret (LEADRELAY_META_APP_SECRET_PARAM), read on first use
	// (shared/app/secret).
	MetaAppSecret      string
	MetaAppSecretParam string
	// MetaGraphURL is the Graph API's base URL, version included
	// (LEADRELAY_META_GRAPH_URL, default DefaultMetaGraphURL): tests point
	// it at a fake.
	MetaGraphURL string
	// GoogleAdsURL is the Google Ads API's base URL, version included
	// (LEADRELAY_GOOGLE_ADS_URL, default DefaultGoogleAdsURL), which the
	// admin function's ad spend import reads: tests point it at a fake.
	GoogleAdsURL string
	// MetaQueueURL and MetaDLQURL are the queue of Meta Lead Ads
	// notifications, which the ingest function sends and consumes (each
	// lead fetched from the Graph API), and its DLQ.
	MetaQueueURL string
	MetaDLQURL   string
	// SheetsURL is the Google Sheets API's base URL, without the version
	// (LEADRELAY_SHEETS_URL, default DefaultSheetsURL), where the delivery
	// function appends Sheets buyers' rows. GoogleTokenURL is Google's
	// OAuth 2.0 token endpoint (LEADRELAY_GOOGLE_TOKEN_URL, default
	// DefaultGoogleTokenURL): where the delivery function trades Sheets
	// buyers' service accounts' signed assertions for access tokens, and
	// the ad spend import Google Ads refresh tokens. Tests point both at
	// fakes.
	SheetsURL      string
	GoogleTokenURL string
	// StripeURL is Stripe's API base URL (LEADRELAY_STRIPE_URL, default
	// DefaultStripeURL): where the admin function reports invoiced sales,
	// opens top-up Checkout sessions and charges saved cards, and the
	// ingest function checks what Stripe's webhook tells. Tests point it
	// at a fake.
	StripeURL string
	// PublicURL is the API's public base URL, API Gateway stage included
	// (LEADRELAY_PUBLIC_URL, such as
	// https://abc123.execute-api.us-east-1.amazonaws.com/prod): Twilio's
	// voice webhooks are signed over it, and the call TwiML's callbacks
	// point at it. Unset: calls are refused (503).
	PublicURL string
	// TwilioAuthToken checks Twilio's webhook signatures
	// (LEADRELAY_TWILIO_AUTH_TOKEN, local runs and tests); on AWS
	// TwilioAuthTokenParam names the SSM SecureString parameter holding it
	// (LEADRELAY_TWILIO_AUTH_TOKEN_PARAM), read on first use.
	TwilioAuthToken      string
	TwilioAuthTokenParam string
	// CognitoDomain, CognitoClientID and CognitoIssuer sign the console's
	// operators in through the stack's Amazon Cognito user pool
	// (package cognito), all three or none: the user pool domain's base
	// URL, where its hosted login is (LEADRELAY_COGNITO_DOMAIN, such as
	// https://leadrelay-3f2a9c.auth.us-east-1.amazoncognito.com), the
	// console's app client, a public one without a secret
	// (LEADRELAY_COGNITO_CLIENT_ID), and the pool's issuer, whose signing
	// keys verify the ID tokens (LEADRELAY_COGNITO_ISSUER, such as
	// https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123).
	// The console's callback is under PublicURL, which they need. Unset,
	// the console does not sign operators in through Cognito (the local
	// runner takes the operator token).
	CognitoDomain   string
	CognitoClientID string
	CognitoIssuer   string
}

// DefaultMetaGraphURL is the Graph API the ingest function fetches Meta
// leads from unless LEADRELAY_META_GRAPH_URL says otherwise.
const DefaultMetaGraphURL = "https://graph.facebook.com/v21.0"

// DefaultGoogleAdsURL is the Google Ads API the ad spend import reads
// unless LEADRELAY_GOOGLE_ADS_URL says otherwise.
const DefaultGoogleAdsURL = "https://googleads.googleapis.com/v18"

// DefaultSheetsURL is the Sheets API Sheets deliveries append to unless
// LEADRELAY_SHEETS_URL says otherwise.
const DefaultSheetsURL = "https://sheets.googleapis.com"

// DefaultGoogleTokenURL is Google's OAuth 2.0 token endpoint, of Sheets
// deliveries' service accounts and Google Ads' refresh tokens, unless
// LEADRELAY_GOOGLE_TOKEN_URL says otherwise.
const DefaultGoogleTokenURL = "https://oauth2.googleapis.com/token"

// DefaultStripeURL is Stripe's API unless LEADRELAY_STRIPE_URL says
// otherwise.
const DefaultStripeURL = "https://api.stripe.com"

// DefaultEmailFrom is the sender of email deliveries unless
// LEADRELAY_EMAIL_FROM says otherwise (the LocalStack init hook verifies it).
const DefaultEmailFrom = "leads@leadrelay.local"

// DefaultConfigTTL is how quickly configuration changes take effect.
const DefaultConfigTTL = 5 * time.Second

// DefaultModelTTL is how quickly a newly trained scoring model takes effect.
const DefaultModelTTL = time.Minute

// FromEnv reads the settings; getenv is os.Getenv in production.
func FromEnv(getenv func(string) string) (Settings, error) {
	s := Settings{
		Table:                getenv("LEADRELAY_TABLE"),
		RoutingQueueURL:      getenv("LEADRELAY_ROUTING_QUEUE_URL"),
		DeliveryQueueURL:     getenv("LEADRELAY_DELIVERY_QUEUE_URL"),
		RoutingDLQURL:        getenv("LEADRELAY_ROUTING_DLQ_URL"),
		DeliveryDLQURL:       getenv("LEADRELAY_DELIVERY_DLQ_URL"),
		ConfigTTL:            DefaultConfigTTL,
		ModelTTL:             DefaultModelTTL,
		PingSecret:           getenv("LEADRELAY_PING_SECRET"),
		PingSecretParam:      getenv("LEADRELAY_PING_SECRET_PARAM"),
		EmailFrom:            getenv("LEADRELAY_EMAIL_FROM"),
		SecretsKeyID:         getenv("LEADRELAY_SECRETS_KEY_ID"),
		SecretsKey:           getenv("LEADRELAY_SECRETS_KEY"),
		MetaAppSecret:        getenv("LEADRELAY_META_APP_SECRET"),
		MetaAppSecretParam:   getenv("LEADRELAY_META_APP_SECRET_PARAM"),
		MetaGraphURL:         getenv("LEADRELAY_META_GRAPH_URL"),
		GoogleAdsURL:         getenv("LEADRELAY_GOOGLE_ADS_URL"),
		MetaQueueURL:         getenv("LEADRELAY_META_QUEUE_URL"),
		MetaDLQURL:           getenv("LEADRELAY_META_DLQ_URL"),
		SheetsURL:            getenv("LEADRELAY_SHEETS_URL"),
		GoogleTokenURL:       getenv("LEADRELAY_GOOGLE_TOKEN_URL"),
		StripeURL:            getenv("LEADRELAY_STRIPE_URL"),
		PublicURL:            strings.TrimSuffix(getenv("LEADRELAY_PUBLIC_URL"), "/"),
		TwilioAuthToken:      getenv("LEADRELAY_TWILIO_AUTH_TOKEN"),
		TwilioAuthTokenParam: getenv("LEADRELAY_TWILIO_AUTH_TOKEN_PARAM"),
		CognitoDomain:        strings.TrimSuffix(getenv("LEADRELAY_COGNITO_DOMAIN"), "/"),
		CognitoClientID:      getenv("LEADRELAY_COGNITO_CLIENT_ID"),
		CognitoIssuer:        strings.TrimSuffix(getenv("LEADRELAY_COGNITO_ISSUER"), "/"),
	}
	if s.Table == "" {
		s.Table = "leadrelay"
	}
	if s.EmailFrom == "" {
		s.EmailFrom = DefaultEmailFrom
	}
	if s.MetaGraphURL == "" {
		s.MetaGraphURL = DefaultMetaGraphURL
	}
	if u, err := url.Parse(s.MetaGraphURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" {
		return s, fmt.Errorf("LEADRELAY_META_GRAPH_URL=%q: want the Graph API's base URL, such as %s", s.MetaGraphURL, DefaultMetaGraphURL)
	}
	s.MetaGraphURL = strings.TrimSuffix(s.MetaGraphURL, "/")
	if s.GoogleAdsURL == "" {
		s.GoogleAdsURL = DefaultGoogleAdsURL
	}
	if u, err := url.Parse(s.GoogleAdsURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" {
		return s, fmt.Errorf("LEADRELAY_GOOGLE_ADS_URL=%q: want the Google Ads API's base URL, such as %s", s.GoogleAdsURL, DefaultGoogleAdsURL)
	}
	s.GoogleAdsURL = strings.TrimSuffix(s.GoogleAdsURL, "/")
	if s.SheetsURL == "" {
		s.SheetsURL = DefaultSheetsURL
	}
	if !httpURL(s.SheetsURL) {
		return s, fmt.Errorf("LEADRELAY_SHEETS_URL=%q: want the Sheets API's base URL, such as %s", s.SheetsURL, DefaultSheetsURL)
	}
	s.SheetsURL = strings.TrimSuffix(s.SheetsURL, "/")
	if s.GoogleTokenURL == "" {
		s.GoogleTokenURL = DefaultGoogleTokenURL
	}
	if !httpURL(s.GoogleTokenURL) {
		return s, fmt.Errorf("LEADRELAY_GOOGLE_TOKEN_URL=%q: want Google's OAuth 2.0 token endpoint, such as %s", s.GoogleTokenURL, DefaultGoogleTokenURL)
	}
	if s.StripeURL == "" {
		s.StripeURL = DefaultStripeURL
	}
	if !httpURL(s.StripeURL) {
		return s, fmt.Errorf("LEADRELAY_STRIPE_URL=%q: want Stripe's API base URL, such as %s", s.StripeURL, DefaultStripeURL)
	}
	s.StripeURL = strings.TrimSuffix(s.StripeURL, "/")
	if s.PublicURL != "" && !httpURL(s.PublicURL) {
		return s, fmt.Errorf("LEADRELAY_PUBLIC_URL=%q: want the API's base URL with its stage, such as https://abc123.execute-api.us-east-1.amazonaws.com/prod", s.PublicURL)
	}
	if err := s.checkCognito(); err != nil {
		return s, err
	}
	if k := s.SecretsKey; k != "" {
		if b, err := hex.DecodeString(k); err != nil || len(b) != 32 {
			return s, fmt.Errorf("LEADRELAY_SECRETS_KEY: want 64 hex digits (an AES-256 key)")
		}
	}
	if v := getenv("LEADRELAY_ALLOW_PRIVATE_TARGETS"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return s, fmt.Errorf("LEADRELAY_ALLOW_PRIVATE_TARGETS=%q: want true or false", v)
		}
		s.AllowPrivateTargets = b
	}
	if v := getenv("LEADRELAY_CONFIG_TTL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return s, fmt.Errorf("LEADRELAY_CONFIG_TTL=%q: want a duration such as 5s", v)
		}
		s.ConfigTTL = d
	}
	if v := getenv("LEADRELAY_MODEL_TTL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return s, fmt.Errorf("LEADRELAY_MODEL_TTL=%q: want a duration such as 1m", v)
		}
		s.ModelTTL = d
	}
	return s, nil
}

// checkCognito checks the console's Cognito settings: all three or none,
// the domain and the issuer URLs, and the public URL the console's
// callback is under.
func (s Settings) checkCognito() error {
	set := map[string]string{
		"LEADRELAY_COGNITO_DOMAIN":    s.CognitoDomain,
		"LEADRELAY_COGNITO_CLIENT_ID": s.CognitoClientID,
		"LEADRELAY_COGNITO_ISSUER":    s.CognitoIssuer,
	}
	var have, missing []string
	for _, k := range []string{"LEADRELAY_COGNITO_DOMAIN", "LEADRELAY_COGNITO_CLIENT_ID", "LEADRELAY_COGNITO_ISSUER"} {
		if set[k] != "" {
			have = append(have, k)
		} else {
			missing = append(missing, k)
		}
	}
	switch {
	case len(have) == 0:
		return nil
	case len(missing) > 0:
		return fmt.Errorf("%s set without %s: the console's Cognito sign-in needs all three, or none", strings.Join(have, ", "), strings.Join(missing, ", "))
	case !httpURL(s.CognitoDomain):
		return fmt.Errorf("LEADRELAY_COGNITO_DOMAIN=%q: want the user pool domain's base URL, such as https://leadrelay-3f2a9c.auth.us-east-1.amazoncognito.com", s.CognitoDomain)
	case !httpURL(s.CognitoIssuer) || strings.Trim(urlPath(s.CognitoIssuer), "/") == "":
		return fmt.Errorf("LEADRELAY_COGNITO_ISSUER=%q: want the user pool's issuer, such as https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123", s.CognitoIssuer)
	case strings.ContainsFunc(s.CognitoClientID, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '+')
	}):
		return fmt.Errorf("LEADRELAY_COGNITO_CLIENT_ID=%q: want the app client's id", s.CognitoClientID)
	case s.PublicURL == "":
		return errors.New("LEADRELAY_COGNITO_* set without LEADRELAY_PUBLIC_URL: the console's sign-in callback is <LEADRELAY_PUBLIC_URL>/console/callback")
	}
	return nil
}

// urlPath is the path of a URL that httpURL accepted.
func urlPath(v string) string {
	u, _ := url.Parse(v)
	return u.Path
}

// httpURL reports whether v is an http(s) URL with a host and without a
// query or fragment: a base URL or an endpoint of an API.
func httpURL(v string) bool {
	u, err := url.Parse(v)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.RawQuery == "" && u.Fragment == "" && u.User == nil
}

// MustFromEnv reads the settings from the process environment or exits:
// for a function's main, where a bad environment is a deployment error.
func MustFromEnv() Settings {
	s, err := FromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "leadrelay:", err)
		os.Exit(2)
	}
	return s
}
