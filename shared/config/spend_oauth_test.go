package config

import (
	"errors"
	"strings"
	"testing"
)

// oauthAccount is spendDoc's Google account read with its OAuth client and
// refresh token instead of an access token.
const oauthAccount = `client_id: "1234-abc.apps.googleusercontent.com"
      client_secret: "ssm:/leadrelay/google/client-secret"
      refresh_token: "ssm:/leadrelay/google/refresh-token"`

var oauthDoc = strings.Replace(spendDoc, `access_token: "ssm:/leadrelay/google/token"`, oauthAccount, 1)

// A Google account takes the OAuth client and refresh token: the secret
// and the refresh token are secret fields resolved on use, shown as the
// references they are, redacted in plans; the client id is not a secret.
func TestSpendGoogleOAuthAccount(t *testing.T) {
	c, err := Parse([]byte(oauthDoc))
	if err != nil {
		t.Fatal(err)
	}
	g := c.Integrations.Spend[1]
	if g.AccessToken != "" || g.ClientID != "1234-abc.apps.googleusercontent.com" || !g.GoogleOAuth() || c.Integrations.Spend[0].GoogleOAuth() {
		t.Fatalf("account %+v", g)
	}
	var paths []string
	for _, s := range Secrets(c) {
		if strings.HasPrefix(s.Path, "integrations.spend[google") {
			if !s.OnUse {
				t.Errorf("%s is not resolved on use", s.Path)
			}
			paths = append(paths, s.Path)
		}
	}
	want := "integrations.spend[google:1234567890].developer_token integrations.spend[google:1234567890].client_secret integrations.spend[google:1234567890].refresh_token"
	if strings.Join(paths, " ") != want {
		t.Errorf("secret paths %v, want %s", paths, want)
	}
	shown := ShowSecrets(c).Integrations.Spend[1]
	if shown.ClientSecret != "ssm:/leadrelay/google/client-secret" || shown.RefreshToken != "ssm:/leadrelay/google/refresh-token" || shown.ClientID != g.ClientID {
		t.Errorf("shown %+v", shown)
	}
	for _, p := range []string{"spend.client_secret", "spend.refresh_token"} {
		if !secretPath(p) {
			t.Errorf("a plan shows %s", p)
		}
	}
	if secretPath("spend.client_id") {
		t.Error("a plan hides client_id, which is not a secret")
	}
	// A document put back as shown keeps the references.
	next, err := Parse([]byte(oauthDoc))
	if err != nil {
		t.Fatal(err)
	}
	if err := KeepSecrets(next, c); err != nil || next.Integrations.Spend[1].RefreshToken != g.RefreshToken {
		t.Errorf("kept %v: %+v", err, next.Integrations.Spend[1])
	}
}

// Each way a Google account's credentials can be wrong is a problem at its
// field; Meta accounts take none of the OAuth fields; a literal secret is
// refused without being echoed.
func TestSpendGoogleOAuthProblems(t *testing.T) {
	const (
		id      = `client_id: "1234-abc.apps.googleusercontent.com"`
		secret  = `client_secret: "ssm:/leadrelay/google/client-secret"`
		refresh = `refresh_token: "ssm:/leadrelay/google/refresh-token"`
	)
	for _, c := range []struct {
		name, old, new, field, says string
	}{
		{"both ways", id, id + "\n      access_token: \"ssm:/leadrelay/google/token\"", "integrations.spend[1].access_token", "not both"},
		{"no client_id", id, "", "integrations.spend[1].client_id", "client_id is required"},
		{"client_id a reference", id, `client_id: "ssm:/leadrelay/google/client-id"`, "integrations.spend[1].client_id", "not a secret"},
		{"client_id with a space", id, `client_id: "1234 abc"`, "integrations.spend[1].client_id", "without spaces"},
		{"no client_secret", secret, "", "integrations.spend[1].client_secret", "required"},
		{"client_secret a value", secret, `client_secret: "GOCSPX-Literal"`, "integrations.spend[1].client_secret", "never the value"},
		{"no refresh_token", refresh, "", "integrations.spend[1].refresh_token", "required"},
		{"refresh_token a value", refresh, `refresh_token: "1//0gLiteral"`, "integrations.spend[1].refresh_token", "never the value"},
		{"refresh_token alone", id + "\n      " + secret, "", "integrations.spend[1].client_id", "client_id is required"},
	} {
		doc := strings.Replace(oauthDoc, c.old, c.new, 1)
		if doc == oauthDoc {
			t.Fatalf("%s: %s is not in the document", c.name, c.old)
		}
		_, err := Parse([]byte(doc))
		var ce *Error
		if !errors.As(err, &ce) || !hasProblem(ce, c.field, c.says) {
			t.Errorf("%s: %v, want a problem at %s saying %q", c.name, err, c.field, c.says)
		}
		if err != nil && strings.Contains(err.Error(), "Literal") {
			t.Errorf("%s: the problem echoes the secret: %v", c.name, err)
		}
	}
	// Neither way: the problem names both.
	doc := strings.Replace(spendDoc, `access_token: "ssm:/leadrelay/google/token"`, "", 1)
	_, err := Parse([]byte(doc))
	var ce *Error
	if !errors.As(err, &ce) || !hasProblem(ce, "integrations.spend[1].access_token", "client_id, client_secret and refresh_token") {
		t.Errorf("neither way: %v", err)
	}
	// Meta accounts take none of them.
	for _, f := range []string{`client_id: "1234-abc.apps.googleusercontent.com"`, `client_secret: "ssm:/x"`, `refresh_token: "ssm:/x"`} {
		doc := strings.Replace(spendDoc, "level: adset", "level: adset\n      "+f, 1)
		field := "integrations.spend[0]." + f[:strings.Index(f, ":")]
		_, err := Parse([]byte(doc))
		if !errors.As(err, &ce) || !hasProblem(ce, field, "Google's only") {
			t.Errorf("meta with %s: %v, want a problem at %s", f, err, field)
		}
	}
}

// hasProblem reports whether e has a problem at field whose message says
// says.
func hasProblem(e *Error, field, says string) bool {
	for _, p := range e.Problems {
		if p.Field == field && strings.Contains(p.Message, says) {
			return true
		}
	}
	return false
}
