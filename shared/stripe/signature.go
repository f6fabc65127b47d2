package stripe

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader is the HTTP header in which Stripe signs a webhook.
const SignatureHeader = "Stripe-Signature"

// DefaultTolerance is how far a signature's timestamp may be from the
// verifier's clock, either way, when VerifySignature is given no
// tolerance. It is the tolerance Stripe's own libraries use.
const DefaultTolerance = 5 * time.Minute

// Errors of VerifySignature. Each is distinct so that a webhook handler
// can answer a machine-readable code (see SignatureErrorCode); returned
// errors wrap them and may add detail.
var (
	// ErrNoSecret: the verifier was given no endpoint secret, a
	// misconfiguration on our side rather than a bad request.
	ErrNoSecret = errors.New("stripe: no webhook signing secret configured")
	// ErrNoSignature: the Stripe-Signature header is missing or empty.
	ErrNoSignature = errors.New("stripe: no Stripe-Signature header")
	// ErrMalformedSignature: the header is not a list of key=value
	// elements with exactly one unix timestamp t.
	ErrMalformedSignature = errors.New("stripe: malformed Stripe-Signature header")
	// ErrNoV1Signature: the header carries no v1 (HMAC-SHA256) signature,
	// e.g. only the test-mode v0 scheme.
	ErrNoV1Signature = errors.New("stripe: no v1 signature in the Stripe-Signature header")
	// ErrBadSignature: no v1 signature matches the payload and secret.
	ErrBadSignature = errors.New("stripe: no v1 signature matches the payload")
	// ErrStaleTimestamp: the signature is authentic but its timestamp is
	// further from now than the tolerance (a replay, or a skewed clock).
	ErrStaleTimestamp = errors.New("stripe: signature timestamp outside the tolerance")
)

// VerifySignature checks a webhook's Stripe-Signature header as Stripe
// documents it. The header is "t=<unix seconds>,v1=<hex>[,v1=<hex>…]"
// (other schemes such as v0 are ignored); a v1 signature is the hex
// HMAC-SHA256, keyed with the endpoint secret ("whsec_…", its bytes used
// as they are), of "<t>.<payload>". The payload must be the request body
// exactly as received. Any one matching v1 passes (Stripe sends several
// while an endpoint secret is being rolled); signatures are compared in
// constant time. The timestamp must be within tolerance of now in either
// direction (DefaultTolerance when tolerance is not positive); it is
// checked only once a signature matched, so ErrStaleTimestamp always
// means an authentic but old (or future) delivery.
func VerifySignature(payload []byte, header, secret string, now time.Time, tolerance time.Duration) error {
	if secret == "" {
		return ErrNoSecret
	}
	header = strings.TrimSpace(header)
	if header == "" {
		return ErrNoSignature
	}
	var (
		ts     int64
		haveTS bool
		sawV1  bool
		sigs   [][]byte
	)
	for i, item := range strings.Split(header, ",") {
		key, value, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			return fmt.Errorf("%w: element %d is not key=value", ErrMalformedSignature, i+1)
		}
		switch key {
		case "t":
			if haveTS {
				return fmt.Errorf("%w: more than one timestamp", ErrMalformedSignature)
			}
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil || n <= 0 {
				return fmt.Errorf("%w: timestamp is not unix seconds", ErrMalformedSignature)
			}
			ts, haveTS = n, true
		case "v1":
			sawV1 = true
			// A v1 that is not 32 bytes of hex can match nothing; it is
			// skipped rather than refused so another v1 may still match.
			if sig, err := hex.DecodeString(value); err == nil && len(sig) == sha256.Size {
				sigs = append(sigs, sig)
			}
		}
	}
	if !haveTS {
		return fmt.Errorf("%w: no timestamp", ErrMalformedSignature)
	}
	if !sawV1 {
		return ErrNoV1Signature
	}
	want := signature(secret, ts, payload)
	matched := false
	for _, sig := range sigs {
		// No early exit: every candidate is compared.
		if hmac.Equal(sig, want) {
			matched = true
		}
	}
	if !matched {
		return ErrBadSignature
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: signed at %d, %s from now (tolerance %s)", ErrStaleTimestamp, ts, d.Round(time.Second), tolerance)
	}
	return nil
}

// signature is the raw v1 signature of payload signed at ts.
func signature(secret string, ts int64, payload []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(strconv.AppendInt(nil, ts, 10))
	m.Write([]byte{'.'})
	m.Write(payload)
	return m.Sum(nil)
}

// Machine-readable codes of SignatureErrorCode.
const (
	CodeSignatureSecretMissing = "signature_secret_missing"
	CodeSignatureMissing       = "signature_missing"
	CodeSignatureMalformed     = "signature_malformed"
	CodeSignatureNoV1          = "signature_no_v1"
	CodeSignatureMismatch      = "signature_mismatch"
	CodeSignatureStale         = "signature_stale"
)

// SignatureErrorCode is a machine-readable code for an error of
// VerifySignature, for a webhook handler's answer: one of the
// CodeSignature constants, or "" when err is nil or not a signature
// error. CodeSignatureSecretMissing is our misconfiguration (answer 500);
// the others are the sender's fault (answer 400).
func SignatureErrorCode(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrNoSecret):
		return CodeSignatureSecretMissing
	case errors.Is(err, ErrNoSignature):
		return CodeSignatureMissing
	case errors.Is(err, ErrMalformedSignature):
		return CodeSignatureMalformed
	case errors.Is(err, ErrNoV1Signature):
		return CodeSignatureNoV1
	case errors.Is(err, ErrBadSignature):
		return CodeSignatureMismatch
	case errors.Is(err, ErrStaleTimestamp):
		return CodeSignatureStale
	}
	return ""
}
