// Package pingtoken is the ping_id: a signed, expiring token that carries
// a seller's ping whole (campaign, source, the pinged non-PII fields, the
// bids with their buyer and seller prices), so a lead can claim its bids
// without a stored ping. It signs and verifies tokens (token.go), names a
// token for its one claim (ClaimID), checks a posted lead's claim against
// its token (claim.go), and loads the signing secret (secret.go). It makes
// no request of its own: the ping handler issues tokens, ingest checks
// claims, and the store records a claim once.
package pingtoken

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Token errors.
var (
	// ErrInvalid: the token is malformed, or its MAC does not verify
	// (forged or tampered).
	ErrInvalid = errors.New("invalid ping token")
	// ErrExpired: the token verifies but its bids are no longer valid.
	ErrExpired = errors.New("ping token expired")
)

// tokenVersion is the payload's format; a token of another version is invalid.
const tokenVersion = 1

// Token is what a ping_id carries. It is signed whole, so a claim needs
// no stored ping: the campaign, the source, the pinged non-PII fields
// (canonically encoded: JSON of the normalised values, keys sorted), the
// expiry, and the bids with their buyer and seller prices.
type Token struct {
	V int `json:"v"`
	// ID is the ping's own id: the auction's ping id sent to buyers, and
	// the prefix of the bids' seller-facing ids.
	ID       string                     `json:"id"`
	Campaign string                     `json:"c"`
	Source   string                     `json:"s"`
	Test     bool                       `json:"t,omitempty"`
	Fields   map[string]json.RawMessage `json:"f"`
	// Expires is when the bids stop being valid, in unix milliseconds.
	Expires int64 `json:"e"`
	Bids    []Bid `json:"b,omitempty"`
}

// Bid is one bid as the token carries it.
type Bid struct {
	// Order is "buyer/order".
	Order string `json:"o"`
	// Price is the buyer's bid in cents.
	Price int64 `json:"p"`
	// BidID is the buyer's own bid id (sent back to it in the post).
	BidID string `json:"i,omitempty"`
	// Seller is the seller price in cents: what the source is paid if
	// this bid's buyer accepts the lead.
	Seller int64 `json:"sp"`
}

// SellerBidID is the id a seller sees for the token's i-th bid.
func (t *Token) SellerBidID(i int) string { return t.ID + "." + strconv.Itoa(i+1) }

// ExpiresAt is the token's expiry as a time.
func (t *Token) ExpiresAt() time.Time { return time.UnixMilli(t.Expires) }

// CanonicalFields encodes normalised field values for a token: JSON of
// each value (Sign sorts the keys).
func CanonicalFields(fields map[string]any) (map[string]json.RawMessage, error) {
	out := make(map[string]json.RawMessage, len(fields))
	for k, v := range fields {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("encode field %s: %w", k, err)
		}
		out[k] = b
	}
	return out, nil
}

// Sign encodes and signs a token: base64url(payload) "." base64url(MAC),
// the MAC being HMAC-SHA256 over the encoded payload with secret.
func Sign(secret []byte, t *Token) (string, error) {
	t.V = tokenVersion
	raw, err := json.Marshal(t) // map keys sorted: canonical
	if err != nil {
		return "", fmt.Errorf("encode ping token: %w", err)
	}
	payload := base64.RawURLEncoding.EncodeToString(raw)
	return payload + "." + base64.RawURLEncoding.EncodeToString(mac(secret, payload)), nil
}

func mac(secret []byte, payload string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// Verify checks a token's MAC, decodes it and checks its expiry against
// now. It returns ErrInvalid or ErrExpired (with the decoded token).
func Verify(secret []byte, token string, now time.Time) (*Token, error) {
	if len(secret) == 0 {
		return nil, fmt.Errorf("%w: no ping secret is configured", ErrInvalid)
	}
	payload, sig, ok := strings.Cut(token, ".")
	if !ok {
		return nil, ErrInvalid
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac(secret, payload)) {
		return nil, ErrInvalid
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return nil, ErrInvalid
	}
	var t Token
	if err := json.Unmarshal(raw, &t); err != nil || t.V != tokenVersion {
		return nil, ErrInvalid
	}
	if !now.Before(t.ExpiresAt()) {
		return &t, ErrExpired
	}
	return &t, nil
}

// ClaimID names a token for its one claim: the hex of its MAC, unique per
// token (the payload carries the ping's own id).
func ClaimID(token string) string {
	_, sig, _ := strings.Cut(token, ".")
	b, _ := base64.RawURLEncoding.DecodeString(sig)
	return fmt.Sprintf("%x", b)
}

// Shown picks the token's bids a seller is shown: the best one for an
// exclusive campaign, the best maxSales of distinct buyers for a shared
// one. It returns their indexes in t.Bids.
func (t *Token) Shown(maxSales int) []int {
	var out []int
	buyers := map[string]bool{}
	for i, b := range t.Bids {
		buyer, _, _ := strings.Cut(b.Order, "/")
		if buyers[buyer] {
			continue
		}
		buyers[buyer] = true
		out = append(out, i)
		if len(out) == maxSales {
			break
		}
	}
	return out
}
