package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks headers.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// DefaultTolerance is how far a webhook-timestamp may be from the
// verifier's clock when Verify is given no tolerance.
const DefaultTolerance = 5 * time.Minute

// Errors of Verify.
var (
	ErrMissingHeader  = errors.New("webhook: missing signature header")
	ErrStaleTimestamp = errors.New("webhook: timestamp outside the tolerance")
	ErrBadSignature   = errors.New("webhook: no signature matches")
)

// Sign returns the Standard Webhooks signature "v1,<base64>" of a message:
// the HMAC-SHA256 of "<msgID>.<unix seconds>.<body>". The secret is
// "whsec_" followed by the base64 of the key, or a plain string whose
// bytes are the key (also when the text after "whsec_" is not base64).
func Sign(secret, msgID string, ts time.Time, body []byte) string {
	return sign(secretKey(secret), msgID, timestamp(ts), body)
}

func sign(key []byte, msgID, ts string, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msgID))
	m.Write([]byte{'.'})
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	var sum [sha256.Size]byte
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(sum[:0]))
}

// signAll signs with every configured secret, space-separated as the
// specification allows, so a buyer that knows either accepts the post.
func signAll(secret, previous, msgID string, ts time.Time, body []byte) string {
	var sigs []string
	for _, s := range []string{secret, previous} {
		if s != "" {
			sigs = append(sigs, Sign(s, msgID, ts, body))
		}
	}
	return strings.Join(sigs, " ")
}

func secretKey(secret string) []byte {
	if rest, ok := strings.CutPrefix(secret, "whsec_"); ok {
		if key, err := base64.StdEncoding.DecodeString(rest); err == nil && len(key) > 0 {
			return key
		}
	}
	return []byte(secret)
}

func timestamp(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// Verify checks a Standard Webhooks signature as a buyer would: the
// timestamp must be within tolerance of now (DefaultTolerance when
// tolerance is 0), and one of the header's signatures must match one of
// the secrets. For the get format, body is the raw query string.
func Verify(secrets []string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, ts, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	for _, kv := range [][2]string{{HeaderID, id}, {HeaderTimestamp, ts}, {HeaderSignature, sigs}} {
		if kv[1] == "" {
			return fmt.Errorf("%w: %s", ErrMissingHeader, kv[0])
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %q is not unix seconds", ErrStaleTimestamp, ts)
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: %s off", ErrStaleTimestamp, d.Round(time.Second))
	}
	for _, secret := range secrets {
		want := []byte(sign(secretKey(secret), id, ts, body))
		for _, got := range strings.Fields(sigs) {
			if strings.HasPrefix(got, "v1,") && hmac.Equal([]byte(got), want) {
				return nil
			}
		}
	}
	return ErrBadSignature
}
