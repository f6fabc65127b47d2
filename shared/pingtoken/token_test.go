package pingtoken

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

func TestTokenVerifiesAndRefusesTampering(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tok, err := Sign(secret, &Token{ID: "p1", Campaign: "home", Source: "src",
		Fields:  map[string]json.RawMessage{"state": json.RawMessage(`"CA"`)},
		Expires: now.Add(30 * time.Second).UnixMilli(), Bids: []Bid{{Order: "a/home", Price: 4005, BidID: "x", Seller: 3204}}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Verify(secret, tok, now.Add(29*time.Second))
	if err != nil || got.Bids[0].Seller != 3204 || got.Campaign != "home" {
		t.Fatalf("verify: %v %+v", err, got)
	}
	if _, err := Verify(secret, tok, now.Add(30*time.Second)); !errors.Is(err, ErrExpired) {
		t.Fatalf("at expiry: %v", err)
	}
	if _, err := Verify([]byte("another-secret-of-32-bytes-long!"), tok, now); !errors.Is(err, ErrInvalid) {
		t.Fatalf("other secret: %v", err)
	}
	// A readable token of the old format, any changed byte, a cut, junk.
	raw, _ := json.Marshal(map[string]any{"v": 2, "id": "p1", "c": "home", "s": "src", "f": map[string]any{"state": "CA"},
		"e": now.Add(time.Hour).UnixMilli(), "b": []any{map[string]any{"o": "a/home", "p": 4005, "sp": 4005}}})
	sealed, _ := base64.RawURLEncoding.DecodeString(tok)
	flipped := append([]byte(nil), sealed...)
	flipped[len(flipped)/2] ^= 1
	for _, bad := range []string{encode(raw), encode(raw) + ".AAAA", encode(flipped), tok[:len(tok)-4], tok + "x", "", "not-a-token"} {
		if _, err := Verify(secret, bad, now); !errors.Is(err, ErrInvalid) {
			t.Fatalf("tampered %q: %v", bad, err)
		}
	}
}

// A ping_id tells its seller nothing: no buyer, bid, price or margin can
// be read from it, and two tokens of the same ping differ.
func TestTokenIsOpaque(t *testing.T) {
	tk := &Token{ID: "p1", Campaign: "home", Source: "src", Fields: map[string]json.RawMessage{"state": json.RawMessage(`"CA"`)},
		Expires: time.Now().Add(time.Minute).UnixMilli(), Bids: []Bid{{Order: "acme-insurance/home", Price: 4005, Seller: 3204}}}
	a, _ := Sign(secret, tk)
	b, _ := Sign(secret, tk)
	if a == b || ClaimID(a) == ClaimID(b) {
		t.Fatal("two tokens of one ping are the same, or share their claim")
	}
	raw, err := base64.RawURLEncoding.DecodeString(a)
	if err != nil {
		t.Fatal(err)
	}
	for _, secretText := range []string{"acme", "4005", "3204", "home", `"o"`, `"sp"`} {
		if strings.Contains(string(raw), secretText) || strings.Contains(a, secretText) {
			t.Fatalf("the ping_id shows %q", secretText)
		}
	}
}

func encode(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// A shared campaign's seller sees the best bid of each distinct buyer, up
// to max_sales; an exclusive one the best bid.
func TestShown(t *testing.T) {
	tok := &Token{Bids: []Bid{{Order: "a/x"}, {Order: "a/y"}, {Order: "b/x"}, {Order: "c/x"}}}
	for maxSales, want := range map[int]string{1: "[0]", 2: "[0 2]", 5: "[0 2 3]"} {
		if got := fmt.Sprint(tok.Shown(maxSales)); got != want {
			t.Errorf("Shown(%d) = %s, want %s", maxSales, got, want)
		}
	}
}
