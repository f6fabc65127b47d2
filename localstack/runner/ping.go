package runner

import (
	"crypto/rand"
	"encoding/hex"
)

// pingSecret is a random secret that signs ping_ids for this run, when
// neither LEADRELAY_PING_SECRET nor LEADRELAY_PING_SECRET_PARAM is set (set
// LEADRELAY_PING_SECRET for ping_ids that survive a restart). It goes
// through the functions' own loading, with its checks.
func pingSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}
