package pingtoken

import (
	"context"
	"errors"
	"fmt"
)

// MinSecret is the shortest ping secret accepted, in bytes.
const MinSecret = 16

// ParameterReader reads one decrypted parameter (package paramstore reads
// SSM Parameter Store).
type ParameterReader interface {
	Parameter(ctx context.Context, name string) (string, error)
}

// LoadSecret returns the secret that signs ping_ids: secret itself when
// set (LEADRELAY_PING_SECRET, local runs), otherwise the SecureString
// parameter named param (LEADRELAY_PING_SECRET_PARAM, on AWS), read once
// through r. Neither set is an error: pings could not be answered.
func LoadSecret(ctx context.Context, secret, param string, r ParameterReader) ([]byte, error) {
	if secret == "" && param != "" {
		if r == nil {
			return nil, errors.New("ping secret parameter set but no parameter reader")
		}
		v, err := r.Parameter(ctx, param)
		if err != nil {
			return nil, fmt.Errorf("read ping secret parameter %s: %w", param, err)
		}
		secret = v
	}
	if len(secret) < MinSecret {
		return nil, fmt.Errorf("the ping secret must be at least %d bytes (LEADRELAY_PING_SECRET or the parameter in LEADRELAY_PING_SECRET_PARAM)", MinSecret)
	}
	return []byte(secret), nil
}
