package runner

import (
	"crypto/rand"
	"os"
)

// pingSecret is the secret that signs ping_ids locally:
// LEADRELAY_PING_SECRET when set (so ping_ids survive a restart),
// otherwise a random one for this run.
func pingSecret() []byte {
	if s := os.Getenv("LEADRELAY_PING_SECRET"); s != "" {
		return []byte(s)
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return b
}
