package runner

import (
	"crypto/rand"
	"encoding/hex"
)

// pingSecret is 32 random bytes in hex: the secret that signs ping_ids
// for this run when neither LEADRELAY_PING_SECRET nor
// LEADRELAY_PING_SECRET_PARAM is set (set LEADRELAY_PING_SECRET for
// ping_ids that survive a restart), and the local key that seals the
// configuration's secrets unless LEADRELAY_SECRETS_KEY is set. Both go
// through the functions' own loading, with its checks.
func pingSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}
