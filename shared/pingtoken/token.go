// Package pingtoken is the ping_id: a sealed, expiring token that carries
// a seller's ping whole (campaign, source, the pinged non-PII fields, the
// bids with their buyer and seller prices), so a lead can claim its bids
// without a stored ping. The token is encrypted and authenticated
// (AES-256-GCM under a key derived from the ping secret): a seller can
// neither read the agency's buyers, their bids and its margin from it, nor
// change it. It seals and opens tokens (token.go), names a
// token for its one claim (ClaimID), checks a posted lead's claim against
// its token (claim.go), and loads the signing secret (secret.go). It makes
// no request of its own: the ping handler issues tokens, ingest checks
// claims, and the store records a claim once.
package pingtoken

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
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
	// ErrInvalid: the token is malformed, or does not open under the
	// secret (forged or tampered).
	ErrInvalid = errors.New("invalid ping token")
	// ErrExpired: the token verifies but its bids are no longer valid.
	ErrExpired = errors.New("ping token expired")
)

// tokenVersion is the payload's format; a token of another version is
// invalid. Version 1 was signed but readable.
const tokenVersion = 2

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

// tokenKey is the AES-256 key of ping_ids: derived from the ping secret,
// so the secret itself never encrypts anything directly.
func tokenKey(secret []byte) ([]byte, error) {
	return hkdf.Key(sha256.New, secret, nil, "leadrelay ping_id v2", 32)
}

// aead is the token cipher for a secret.
func aead(secret []byte) (cipher.AEAD, error) {
	key, err := tokenKey(secret)
	if err != nil {
		return nil, fmt.Errorf("derive the ping_id key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("ping_id cipher: %w", err)
	}
	return cipher.NewGCM(block)
}

// additional binds a token's ciphertext to its purpose.
var additional = []byte("ping_id")

// Sign seals a token: base64url(nonce ‖ AES-256-GCM(payload)), the
// payload being the token's JSON. Nothing in it is readable without the
// secret, and any change to it makes it fail to open.
func Sign(secret []byte, t *Token) (string, error) {
	t.V = tokenVersion
	raw, err := json.Marshal(t) // map keys sorted: canonical
	if err != nil {
		return "", fmt.Errorf("encode ping token: %w", err)
	}
	g, err := aead(secret)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, g.NonceSize(), g.NonceSize()+len(raw)+g.Overhead())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(g.Seal(nonce, nonce, raw, additional)), nil
}

// Verify opens a token, decodes it and checks its expiry against now. It
// returns ErrInvalid or ErrExpired (with the decoded token).
func Verify(secret []byte, token string, now time.Time) (*Token, error) {
	if len(secret) == 0 {
		return nil, fmt.Errorf("%w: no ping secret is configured", ErrInvalid)
	}
	sealed, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return nil, ErrInvalid
	}
	g, err := aead(secret)
	if err != nil {
		return nil, err
	}
	if len(sealed) < g.NonceSize()+g.Overhead() {
		return nil, ErrInvalid
	}
	raw, err := g.Open(nil, sealed[:g.NonceSize()], sealed[g.NonceSize():], additional)
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

// ClaimID names a token for its one claim: the hex SHA-256 of the token,
// unique per token (each is sealed under a fresh nonce).
func ClaimID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return fmt.Sprintf("%x", sum[:])
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
