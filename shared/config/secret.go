package config

import (
	"fmt"
	"strings"
)

// Secrets are write-only. A secret field of the configuration — a buyer's
// webhook signing secrets, auth token, password and API key, its headers'
// values, its Slack incoming-webhook URL, a source's postback secret —
// takes either a value or a reference to an SSM SecureString parameter
// ("ssm:/path/name", resolved by the functions and cached); a Meta page's
// access_token and an ad spend account's access_token, developer_token,
// client_secret and refresh_token and a Sheets buyer's credentials take a
// reference only (Secret.OnUse).
// A value is kept sealed (encrypted) in the stored document and shown nowhere:
// GET /v1/admin/config answers SecretSet in its place, and a document put
// back with SecretSet keeps the stored value. References are shown as
// they are: they are names, not secrets.
const (
	// SecretSet stands in for a secret's value wherever it is shown.
	SecretSet = "(set)"
	// SecretRefPrefix starts a reference to an SSM SecureString parameter.
	SecretRefPrefix = "ssm:"
	// SealedPrefix starts a sealed value, as stored.
	SealedPrefix = "sealed:"
)

// IsSecretRef reports whether a secret field's value is a reference.
func IsSecretRef(v string) bool { return strings.HasPrefix(v, SecretRefPrefix) }

// IsSealed reports whether a secret field's value is sealed (as stored).
func IsSealed(v string) bool { return strings.HasPrefix(v, SealedPrefix) }

// isSecretToken reports whether a secret field holds something other than
// the value itself (a reference, a sealed value, the SecretSet marker),
// whose format is not the value's.
func isSecretToken(v string) bool { return v == SecretSet || IsSecretRef(v) || IsSealed(v) }

// Secret is one secret field: its path, with entities named by id
// ("buyers[acme].delivery.auth.token"), and the value, to read or set.
type Secret struct {
	Path  string
	Value *string
	// OnUse marks a field that is always a reference, resolved by the one
	// function that uses it when it does (a Meta page's access_token: the
	// ingest function, when it fetches a lead), not when the configuration
	// is opened: the functions that open the configuration neither read
	// it nor fail for it.
	OnUse bool
}

// Secrets lists every secret field of c that holds a value, in document
// order.
func Secrets(c *Config) []Secret {
	var out []Secret
	add := func(path string, v *string) {
		if *v != "" {
			out = append(out, Secret{Path: path, Value: v})
		}
	}
	add("feedback.slack_url", &c.Feedback.SlackURL)
	for i := range c.Sources {
		s := &c.Sources[i]
		add(fmt.Sprintf("sources[%s].postback_secret", s.ID), &s.PostbackSecret)
	}
	if m := c.Integrations.Meta; m != nil {
		for i := range m.Pages {
			pg := &m.Pages[i]
			if pg.AccessToken != "" {
				out = append(out, Secret{Path: fmt.Sprintf("integrations.meta.pages[%s].access_token", pg.PageID), Value: &pg.AccessToken, OnUse: true})
			}
		}
		if cv := m.Conversions; cv != nil && cv.AccessToken != "" {
			out = append(out, Secret{Path: "integrations.meta.conversions.access_token", Value: &cv.AccessToken, OnUse: true})
		}
	}
	if s := c.Billing.Stripe; s != nil {
		for _, f := range []struct {
			name string
			v    *string
		}{{"secret_key", &s.SecretKey}, {"webhook_secret", &s.WebhookSecret}} {
			if *f.v != "" {
				out = append(out, Secret{Path: "billing.stripe." + f.name, Value: f.v, OnUse: true})
			}
		}
	}
	for i := range c.Integrations.Spend {
		a := &c.Integrations.Spend[i]
		for _, f := range []struct {
			name string
			v    *string
		}{{"access_token", &a.AccessToken}, {"developer_token", &a.DeveloperToken}, {"client_secret", &a.ClientSecret}, {"refresh_token", &a.RefreshToken}} {
			if *f.v != "" {
				out = append(out, Secret{Path: fmt.Sprintf("integrations.spend[%s].%s", a.Name(), f.name), Value: f.v, OnUse: true})
			}
		}
	}
	for i := range c.Buyers {
		b := &c.Buyers[i]
		p := fmt.Sprintf("buyers[%s]", b.ID)
		add(p+".notify.slack_url", &b.Notify.SlackURL)
		d := &b.Delivery
		add(p+".delivery.secret", &d.Secret)
		add(p+".delivery.previous_secret", &d.PreviousSecret)
		if d.Credentials != "" {
			// A Sheets service account's key: always a reference, read
			// by the delivery function when it appends a row.
			out = append(out, Secret{Path: p + ".delivery.credentials", Value: &d.Credentials, OnUse: true})
		}
		if a := d.Auth; a != nil {
			add(p+".delivery.auth.token", &a.Token)
			add(p+".delivery.auth.password", &a.Password)
			add(p+".delivery.auth.key", &a.Key)
		}
		for _, name := range sortedKeys(d.Headers) {
			v := d.Headers[name]
			if v != "" {
				out = append(out, Secret{Path: p + ".delivery.headers." + name, Value: headerValue(d.Headers, name)})
			}
		}
	}
	return out
}

// headerValue is a settable view of one header: maps hand out no
// pointers, so the value is copied in and written back by SetHeaders.
func headerValue(h map[string]string, name string) *string {
	v := h[name]
	return &v
}

// EachSecret calls f with every secret field of c; what f returns
// replaces the value (headers included). The first error stops it.
func EachSecret(c *Config, f func(path, value string) (string, error)) error {
	for _, s := range Secrets(c) {
		v, err := f(s.Path, *s.Value)
		if err != nil {
			return fmt.Errorf("%s: %w", s.Path, err)
		}
		*s.Value = v
		if buyer, name, ok := headerPath(s.Path); ok {
			for i := range c.Buyers {
				if c.Buyers[i].ID == buyer {
					c.Buyers[i].Delivery.Headers[name] = v
				}
			}
		}
	}
	return nil
}

// headerPath reads "buyers[<id>].delivery.headers.<name>".
func headerPath(path string) (buyer, name string, ok bool) {
	rest, ok := strings.CutPrefix(path, "buyers[")
	if !ok {
		return "", "", false
	}
	buyer, rest, ok = strings.Cut(rest, "].delivery.headers.")
	return buyer, rest, ok
}

// ShowSecrets returns a copy of c with every secret value shown as
// SecretSet (references as they are): what the admin API answers.
func ShowSecrets(c *Config) *Config {
	out := c.Clone()
	_ = EachSecret(out, func(_, v string) (string, error) {
		if IsSecretRef(v) {
			return v, nil
		}
		return SecretSet, nil
	})
	return out
}

// KeepSecrets resolves the SecretSet markers of a document put back: each
// takes the stored value of the same field in cur. A marker without a
// stored value is a problem named by its path.
func KeepSecrets(next, cur *Config) error {
	stored := map[string]string{}
	for _, s := range Secrets(cur) {
		stored[s.Path] = *s.Value
	}
	var probs []Problem
	_ = EachSecret(next, func(path, v string) (string, error) {
		if v != SecretSet {
			return v, nil
		}
		old, ok := stored[path]
		if !ok {
			probs = append(probs, Problem{Field: path, Code: CodeRequired,
				Message: SecretSet + " keeps the stored secret, but none is stored here: give the value or an ssm:/ reference"})
			return v, nil
		}
		return old, nil
	})
	if len(probs) > 0 {
		return &Error{Problems: probs}
	}
	return nil
}
