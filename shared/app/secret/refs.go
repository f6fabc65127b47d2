package secret

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/paramstore"
)

// RefTTL is how long Refs keeps a parameter's value: a rotated page token
// is used within it.
const RefTTL = 5 * time.Minute

// Refs resolves ssm: references (a Meta page's access_token) to their
// parameters' values, each read on its first use and kept for RefTTL by
// this instance. A failed read is not kept: the last good value serves
// until the parameter can be read again. Safe for concurrent use.
type Refs struct {
	read func(ctx context.Context, name string) (string, error)
	now  func() time.Time

	mu    sync.Mutex
	cache map[string]ref
}

type ref struct {
	value string
	at    time.Time
}

// NewRefs returns Refs over read (a parameter's decrypted value by name).
func NewRefs(read func(ctx context.Context, name string) (string, error), now func() time.Time) *Refs {
	return &Refs{read: read, now: now, cache: map[string]ref{}}
}

// SSMRefs are Refs read from SSM Parameter Store; the client is built on
// the first read.
func SSMRefs(cfg aws.Config) *Refs {
	var (
		once   sync.Once
		reader paramstore.Reader
	)
	return NewRefs(func(ctx context.Context, name string) (string, error) {
		once.Do(func() { reader = paramstore.Reader{API: ssm.NewFromConfig(cfg)} })
		return reader.Parameter(ctx, name)
	}, time.Now)
}

// Resolve returns the value of the parameter "ssm:/name" names.
func (r *Refs) Resolve(ctx context.Context, reference string) (string, error) {
	name, ok := strings.CutPrefix(reference, config.SecretRefPrefix)
	if !ok || name == "" {
		return "", errors.New("not an ssm: reference")
	}
	r.mu.Lock()
	c, cached := r.cache[name]
	r.mu.Unlock()
	if cached && r.now().Sub(c.at) < RefTTL {
		return c.value, nil
	}
	v, err := r.read(ctx, name)
	if err != nil {
		if cached {
			return c.value, nil // the last good value, until SSM answers
		}
		return "", fmt.Errorf("parameter %s: %w", name, err)
	}
	r.mu.Lock()
	r.cache[name] = ref{v, r.now()}
	r.mu.Unlock()
	return v, nil
}
