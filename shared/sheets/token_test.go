package sheets

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/sheets/sheetstest"
)

// The assertion is an RS256 JWT that the service account's public key
// verifies, with the claims of Google's service account flow.
func TestAssertionIsSignedWithTheServiceAccountKey(t *testing.T) {
	f := sheetstest.New(t)
	a, err := parseKey(f.KeyJSON)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1767225600, 0)
	jwt, err := a.assertion("https://oauth2.googleapis.com/token", now)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("%d parts", len(parts))
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(&f.Key.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
		t.Fatalf("signature: %v", err)
	}
	var header, claims map[string]any
	for part, v := range map[string]*map[string]any{parts[0]: &header, parts[1]: &claims} {
		b, err := base64.RawURLEncoding.DecodeString(part)
		if err != nil || json.Unmarshal(b, v) != nil {
			t.Fatalf("part %q: %v", part, err)
		}
	}
	if header["alg"] != "RS256" || header["typ"] != "JWT" || header["kid"] != sheetstest.KeyID {
		t.Fatalf("header %v", header)
	}
	if claims["iss"] != sheetstest.ClientEmail || claims["scope"] != Scope || claims["aud"] != "https://oauth2.googleapis.com/token" ||
		claims["iat"] != float64(1767225600) || claims["exp"] != float64(1767225600+3600) || len(claims) != 5 {
		t.Fatalf("claims %v", claims)
	}
}

// A key is read once per reference and read again when it changes there.
func TestAccountsFollowTheKey(t *testing.T) {
	f, g := sheetstest.New(t), sheetstest.New(t)
	var as accounts
	a1, err := as.get("ssm:/k", f.KeyJSON)
	if err != nil {
		t.Fatal(err)
	}
	if a2, _ := as.get("ssm:/k", f.KeyJSON); a2 != a1 {
		t.Fatal("the same key read twice")
	}
	if a3, _ := as.get("ssm:/k", g.KeyJSON); a3 == a1 || a3.key.Equal(a1.key) {
		t.Fatal("a rotated key kept the old account")
	}
	if len(as.m) != 1 {
		t.Fatalf("%d accounts for one reference", len(as.m))
	}
}
