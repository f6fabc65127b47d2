package config

import (
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
)

// Integrations connect ad platforms' lead forms to campaigns.
type Integrations struct {
	Google *Google `yaml:"google,omitempty" json:"google,omitempty"`
	Meta   *Meta   `yaml:"meta,omitempty" json:"meta,omitempty"`
	// Spend lists the ad accounts whose spend the admin function imports
	// every hour (its "spend" task): each platform id mapped to a source
	// and campaign.
	Spend []SpendAccount `yaml:"spend,omitempty" json:"spend,omitempty"`
}

// Ad platforms whose spend is imported, and the levels of a Meta account's
// insights.
const (
	SpendPlatformMeta   = "meta"
	SpendPlatformGoogle = "google"

	SpendLevelCampaign = "campaign"
	SpendLevelAdset    = "adset"
	SpendLevelAd       = "ad"
)

// SpendAccount is one ad account whose daily spend is imported: a Meta ad
// account (its insights at Level) or a Google Ads customer (its campaigns'
// cost). Its tokens are ssm: references only, resolved by the admin
// function when it imports (secret fields, Secret.OnUse).
//
// A Google account reads with an OAuth access token: either AccessToken
// (kept current by the agency), or one the admin function obtains from
// Google's token endpoint with the OAuth client (ClientID, ClientSecret)
// and the user's RefreshToken, refreshed before it expires.
type SpendAccount struct {
	// Platform is SpendPlatformMeta or SpendPlatformGoogle.
	Platform string `yaml:"platform" json:"platform"`
	// AccountID is the Meta ad account's id ("act_<digits>") or the
	// Google Ads customer id (10 digits, without dashes).
	AccountID string `yaml:"account_id" json:"account_id"`
	// AccessToken reads the account: a Meta access token with ads_read,
	// or a Google OAuth access token; always "ssm:/leadrelay/...". A
	// Google account may take the OAuth client's fields instead.
	AccessToken string `yaml:"access_token,omitempty" json:"access_token,omitempty"`
	// ClientID is the Google OAuth client's id (not a secret), Google
	// only, with ClientSecret and RefreshToken.
	ClientID string `yaml:"client_id,omitempty" json:"client_id,omitempty"`
	// ClientSecret is the Google OAuth client's secret and RefreshToken
	// the refresh token its user's consent gave (scope
	// https://www.googleapis.com/auth/adwords); both "ssm:/leadrelay/...".
	ClientSecret string `yaml:"client_secret,omitempty" json:"client_secret,omitempty"`
	RefreshToken string `yaml:"refresh_token,omitempty" json:"refresh_token,omitempty"`
	// DeveloperToken is the Google Ads developer token ("ssm:/..."),
	// Google only.
	DeveloperToken string `yaml:"developer_token,omitempty" json:"developer_token,omitempty"`
	// LoginCustomerID is the Google Ads manager account the access goes
	// through (login-customer-id), when there is one.
	LoginCustomerID string `yaml:"login_customer_id,omitempty" json:"login_customer_id,omitempty"`
	// Level is what Map's ids are: campaign (the default), adset or ad
	// for Meta; campaign only for Google.
	Level string `yaml:"level,omitempty" json:"level,omitempty"`
	// Map takes a platform id (campaign, ad set or ad) to the source and
	// campaign its spend is counted against; spend of ids not listed is
	// not imported.
	Map map[string]SpendTarget `yaml:"map" json:"map"`
}

// SpendTarget is the source and campaign a platform id's spend counts
// against.
type SpendTarget struct {
	Source   string `yaml:"source" json:"source"`
	Campaign string `yaml:"campaign" json:"campaign"`
}

// SpendLevel is the account's level, campaign unless set.
func (a *SpendAccount) SpendLevel() string {
	if a.Level == "" {
		return SpendLevelCampaign
	}
	return a.Level
}

// Name is how the account is named in paths and logs: "meta:act_123".
func (a *SpendAccount) Name() string { return a.Platform + ":" + a.AccountID }

// GoogleOAuth reports whether the account reads Google Ads with access
// tokens refreshed from its OAuth client's refresh token (rather than a
// stored access token).
func (a *SpendAccount) GoogleOAuth() bool {
	return a.Platform == SpendPlatformGoogle && (a.ClientID != "" || a.ClientSecret != "" || a.RefreshToken != "")
}

// Google holds the Google Ads lead forms whose webhook posts to
// POST /v1/integrations/google/webhook.
type Google struct {
	Forms []GoogleForm `yaml:"forms" json:"forms"`
}

// GoogleForm is one Google Ads lead form: the key its webhook carries (kept
// as its SHA-256, like an API key), the source and campaign its leads are
// ingested as, and which campaign field each of the form's columns fills
// (by column_id, never by position).
type GoogleForm struct {
	// FormID is the form's id in Google Ads (the webhook's form_id).
	FormID string `yaml:"form_id" json:"form_id"`
	// KeySHA256 is the hex SHA-256 of the form's webhook key (google_key).
	KeySHA256 string `yaml:"google_key_sha256" json:"google_key_sha256"`
	Source    string `yaml:"source" json:"source"`
	Campaign  string `yaml:"campaign" json:"campaign"`
	// Columns maps a column_id (FULL_NAME, PHONE_NUMBER, EMAIL,
	// POSTAL_CODE, a custom question's id…) to a campaign field; columns
	// not named here are left out of the lead.
	Columns map[string]string `yaml:"columns" json:"columns"`
}

// GoogleForm finds the form with the id, or nil.
func (ix *Index) GoogleForm(id string) *GoogleForm {
	if g := ix.Config.Integrations.Google; g != nil {
		for i := range g.Forms {
			if g.Forms[i].FormID == id {
				return &g.Forms[i]
			}
		}
	}
	return nil
}

// KeyMatches compares a webhook's google_key with the form's, in constant
// time.
func (f *GoogleForm) KeyMatches(key string) bool {
	want, err := hex.DecodeString(f.KeySHA256)
	if err != nil || key == "" {
		return false
	}
	got, _ := hex.DecodeString(HashKey(key))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// integrations checks the ad platforms' forms against the campaigns and
// sources.
func (k *checker) integrations(c *Config, campaigns map[string]*Campaign) {
	sources := map[string]*Source{}
	for i := range c.Sources {
		sources[c.Sources[i].ID] = &c.Sources[i]
	}
	k.googleForms(c.Integrations.Google, sources, campaigns)
	k.meta(c.Integrations.Meta, sources, campaigns)
	k.spend(c.Integrations.Spend, sources, campaigns)
}

// spend checks the ad accounts whose spend is imported: each account once,
// its platform, id, level and token references, and each mapped id to a
// known source allowed a known campaign.
func (k *checker) spend(accounts []SpendAccount, sources map[string]*Source, campaigns map[string]*Campaign) {
	seen := map[string]bool{}
	for i, a := range accounts {
		p := fmt.Sprintf("integrations.spend[%d]", i)
		var idOK func(string) bool
		switch a.Platform {
		case SpendPlatformMeta:
			idOK = func(id string) bool { d, ok := strings.CutPrefix(id, "act_"); return ok && isDigits(d) }
		case SpendPlatformGoogle:
			idOK = func(id string) bool { return len(id) == 10 && isDigits(id) }
		default:
			k.add(p+".platform", CodeInvalid, "platform %q: want meta or google", a.Platform)
		}
		switch {
		case a.AccountID == "":
			k.add(p+".account_id", CodeRequired, "account_id is required: the Meta ad account's id (act_…) or the Google Ads customer id")
		case idOK != nil && !idOK(a.AccountID):
			if a.Platform == SpendPlatformMeta {
				k.add(p+".account_id", CodeInvalid, "account_id %q: a Meta ad account's id is act_ and digits", a.AccountID)
			} else {
				k.add(p+".account_id", CodeInvalid, "account_id %q: a Google Ads customer id is 10 digits, without dashes", a.AccountID)
			}
		case seen[a.Name()]:
			k.add(p+".account_id", CodeDuplicate, "account %s is configured twice", a.Name())
		}
		seen[a.Name()] = true
		switch a.Platform {
		case SpendPlatformGoogle:
			k.googleAuth(p, &a)
			k.spendRef(p+".developer_token", a.DeveloperToken, true, "the Google Ads developer token")
			if a.LoginCustomerID != "" && (len(a.LoginCustomerID) != 10 || !isDigits(a.LoginCustomerID)) {
				k.add(p+".login_customer_id", CodeInvalid, "login_customer_id %q: a Google Ads customer id is 10 digits, without dashes", a.LoginCustomerID)
			}
			if a.SpendLevel() != SpendLevelCampaign {
				k.add(p+".level", CodeInvalid, "level %q: Google Ads spend is imported per campaign only", a.Level)
			}
		case SpendPlatformMeta:
			k.spendRef(p+".access_token", a.AccessToken, true, "the access token")
			for _, f := range []struct{ name, v string }{
				{"developer_token", a.DeveloperToken}, {"client_id", a.ClientID}, {"client_secret", a.ClientSecret}, {"refresh_token", a.RefreshToken},
			} {
				if f.v != "" {
					k.add(p+"."+f.name, CodeInvalid, "%s is Google's only", f.name)
				}
			}
			if a.LoginCustomerID != "" {
				k.add(p+".login_customer_id", CodeInvalid, "login_customer_id is Google's only")
			}
			if l := a.SpendLevel(); l != SpendLevelCampaign && l != SpendLevelAdset && l != SpendLevelAd {
				k.add(p+".level", CodeInvalid, "level %q: want campaign, adset or ad", a.Level)
			}
		default:
			k.spendRef(p+".access_token", a.AccessToken, true, "the access token")
		}
		if len(a.Map) == 0 {
			k.add(p+".map", CodeRequired, "map the platform's ids to a source and campaign each")
		}
		for _, id := range sortedKeys(a.Map) {
			t, mp := a.Map[id], p+".map."+id
			if !isDigits(id) {
				k.add(mp, CodeInvalid, "%q: a platform id is digits", id)
			}
			src, camp := sources[t.Source], campaigns[t.Campaign]
			switch {
			case src == nil:
				k.add(mp+".source", CodeReference, "unknown source %q", t.Source)
			case camp != nil && !src.Allows(t.Campaign):
				k.add(mp+".campaign", CodeReference, "source %s may not post to campaign %s", t.Source, t.Campaign)
			}
			if camp == nil {
				k.add(mp+".campaign", CodeReference, "unknown campaign %q", t.Campaign)
			}
		}
	}
}

// googleAuth checks how a Google Ads account is read: with an access
// token (access_token), or with access tokens the import obtains from the
// OAuth client (client_id, client_secret) and its refresh_token; one way,
// not both.
func (k *checker) googleAuth(p string, a *SpendAccount) {
	if !a.GoogleOAuth() {
		if a.AccessToken == "" {
			k.add(p+".access_token", CodeRequired, "a Google account needs client_id, client_secret and refresh_token (an OAuth client and its refresh token: the import refreshes access tokens itself), or access_token (an access token kept current in SSM)")
			return
		}
		k.spendRef(p+".access_token", a.AccessToken, true, "the access token")
		return
	}
	if a.AccessToken != "" {
		k.add(p+".access_token", CodeInvalid, "give either access_token or client_id, client_secret and refresh_token, not both: with the OAuth client the import refreshes access tokens itself")
	}
	switch {
	case a.ClientID == "":
		k.add(p+".client_id", CodeRequired, "client_id is required with client_secret and refresh_token: the OAuth client's id (…apps.googleusercontent.com)")
	case IsSecretRef(a.ClientID):
		k.add(p+".client_id", CodeInvalid, "client_id is not a secret: give the OAuth client's id itself, not an ssm: reference")
	case strings.ContainsFunc(a.ClientID, func(r rune) bool { return r <= ' ' || r == 0x7f }) || len(a.ClientID) > 256:
		k.add(p+".client_id", CodeInvalid, "client_id: want the OAuth client's id (…apps.googleusercontent.com), without spaces")
	}
	k.spendRef(p+".client_secret", a.ClientSecret, true, "the OAuth client's secret (client_secret)")
	k.spendRef(p+".refresh_token", a.RefreshToken, true, "the OAuth refresh token (refresh_token)")
}

// spendRef checks a token of an ad account: an ssm:/ reference, never the
// value (which is not echoed).
func (k *checker) spendRef(path, v string, required bool, what string) {
	switch {
	case v == "":
		if required {
			k.add(path, CodeRequired, "%s is required: an ssm:/leadrelay/... reference to the SSM SecureString parameter holding it", what)
		}
	case !IsSecretRef(v):
		k.add(path, CodeInvalid, "%s must be an ssm:/leadrelay/... reference to an SSM SecureString parameter, never the value itself", what)
	}
}

// isDigits reports whether s is one or more ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// googleForms checks the Google Ads lead forms.
func (k *checker) googleForms(g *Google, sources map[string]*Source, campaigns map[string]*Campaign) {
	if g == nil {
		return
	}
	ids := map[string]bool{}
	for i, f := range g.Forms {
		p := fmt.Sprintf("integrations.google.forms[%d]", i)
		switch {
		case f.FormID == "":
			k.add(p+".form_id", CodeRequired, "form_id is required: the form's id in Google Ads")
		case ids[f.FormID]:
			k.add(p+".form_id", CodeDuplicate, "form %s is configured twice", f.FormID)
		}
		ids[f.FormID] = true
		if !isSHA256(f.KeySHA256) {
			k.add(p+".google_key_sha256", CodeInvalid, "google_key_sha256 must be 64 hex digits (the SHA-256 of the form's webhook key)")
		}
		k.formTarget(p, "columns", "map the form's column_ids to the campaign's fields", f.Source, f.Campaign, f.Columns, sources, campaigns)
	}
}

// formTarget checks what an ad platform's form is ingested as: its source
// (known, allowed the campaign), its campaign (known), and its mapping
// (under key, one entry at least, each to a field of the campaign).
func (k *checker) formTarget(p, key, hint, source, campaign string, mapping map[string]string, sources map[string]*Source, campaigns map[string]*Campaign) {
	src, camp := sources[source], campaigns[campaign]
	switch {
	case src == nil:
		k.add(p+".source", CodeReference, "unknown source %q", source)
	case camp != nil && !src.Allows(campaign):
		k.add(p+".campaign", CodeReference, "source %s may not post to campaign %s", source, campaign)
	}
	if camp == nil {
		k.add(p+".campaign", CodeReference, "unknown campaign %q", campaign)
		return
	}
	if len(mapping) == 0 {
		k.add(p+"."+key, CodeRequired, "%s", hint)
	}
	names := make([]string, 0, len(mapping))
	for name := range mapping {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, ok := camp.Fields[mapping[name]]; !ok {
			k.add(p+"."+key+"."+name, CodeReference, "campaign %s has no field %q", campaign, mapping[name])
		}
	}
}

// isSHA256 reports whether h is a hex SHA-256 (64 hex digits).
func isSHA256(h string) bool {
	b, err := hex.DecodeString(h)
	return err == nil && len(b) == 32
}
