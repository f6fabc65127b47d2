// Package secrets keeps the configuration's secrets write-only: it seals
// the values an operator puts (AES-256-GCM; on AWS under data keys from
// the stack's KMS key, locally under the runner's key), opens them for the
// functions that use them, and resolves references to SSM SecureString
// parameters ("ssm:/path"), caching each. The stored document never holds
// a secret in clear, and the admin API never answers one (config.ShowSecrets).
package secrets

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/leadrelay/leadrelay/shared/config"
)

// Keeper seals and opens secret values.
type Keeper interface {
	Seal(ctx context.Context, plaintext string) (string, error)
	Open(ctx context.Context, sealed string) (string, error)
}

// Resolver reads an SSM parameter's decrypted value by name.
type Resolver interface {
	Parameter(ctx context.Context, name string) (string, error)
}

// ErrNoKeeper reports a sealed value and nothing to open it with.
var ErrNoKeeper = errors.New("a sealed secret, and no key to open it: set LEADRELAY_SECRETS_KEY_ID (AWS) or LEADRELAY_SECRETS_KEY (local)")

// sealed values: "sealed:v1:<key tag>:<base64url(nonce ‖ ciphertext)>",
// the key tag naming what opens it ("local", or the KMS-encrypted data
// key in base64url).
const version = "v1"

func seal(key []byte, tag, plaintext string) (string, error) {
	g, err := gcm(key)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, g.NonceSize(), g.NonceSize()+len(plaintext)+g.Overhead())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails (Go 1.24+)
	box := g.Seal(nonce, nonce, []byte(plaintext), []byte(tag))
	return config.SealedPrefix + version + ":" + tag + ":" + base64.RawURLEncoding.EncodeToString(box), nil
}

// parse splits a sealed value into its key tag and box.
func parse(sealed string) (tag string, box []byte, err error) {
	rest, ok := strings.CutPrefix(sealed, config.SealedPrefix+version+":")
	if !ok {
		return "", nil, fmt.Errorf("not a sealed secret of version %s", version)
	}
	tag, enc, ok := strings.Cut(rest, ":")
	if !ok {
		return "", nil, errors.New("a sealed secret without its key tag")
	}
	box, err = base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return "", nil, errors.New("a sealed secret that is not base64url")
	}
	return tag, box, nil
}

func open(key []byte, tag string, box []byte) (string, error) {
	g, err := gcm(key)
	if err != nil {
		return "", err
	}
	if len(box) < g.NonceSize()+g.Overhead() {
		return "", errors.New("a sealed secret too short")
	}
	plain, err := g.Open(nil, box[:g.NonceSize()], box[g.NonceSize():], []byte(tag))
	if err != nil {
		return "", errors.New("a sealed secret that does not open with this key")
	}
	return string(plain), nil
}

func gcm(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	return cipher.NewGCM(block)
}

// Local seals under one AES-256 key held by the process: the local
// runner's (LEADRELAY_SECRETS_KEY, or a random one for the run).
type Local struct{ Key []byte }

const localTag = "local"

// Seal seals a value.
func (l Local) Seal(_ context.Context, plaintext string) (string, error) {
	return seal(l.Key, localTag, plaintext)
}

// Open opens a value Seal sealed.
func (l Local) Open(_ context.Context, sealed string) (string, error) {
	tag, box, err := parse(sealed)
	if err != nil {
		return "", err
	}
	if tag != localTag {
		return "", errors.New("a secret sealed under a KMS data key, and only a local key to open it")
	}
	return open(l.Key, tag, box)
}

// KMSAPI is the part of the KMS client KMS uses.
type KMSAPI interface {
	GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, opts ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error)
	Decrypt(ctx context.Context, in *kms.DecryptInput, opts ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

// KMS seals under AES-256 data keys that the stack's KMS key encrypts
// (envelope encryption): a sealed value carries its encrypted data key, so
// opening it needs kms:Decrypt on the key, once per data key per process.
// One data key seals every value of a process.
type KMS struct {
	API   KMSAPI
	KeyID string

	mu     sync.Mutex
	plain  []byte // the data key this process seals with
	tag    string // its encrypted form, base64url
	opened map[string][]byte
}

// Seal seals a value under this process's data key (made on first use).
func (k *KMS) Seal(ctx context.Context, plaintext string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.plain == nil {
		out, err := k.API.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: &k.KeyID, NumberOfBytes: ptr(int32(32))})
		if err != nil {
			return "", fmt.Errorf("kms GenerateDataKey: %w", err)
		}
		k.plain, k.tag = out.Plaintext, base64.RawURLEncoding.EncodeToString(out.CiphertextBlob)
		k.remember(k.tag, k.plain)
	}
	return seal(k.plain, k.tag, plaintext)
}

// Open opens a value, decrypting its data key with KMS the first time.
func (k *KMS) Open(ctx context.Context, sealed string) (string, error) {
	tag, box, err := parse(sealed)
	if err != nil {
		return "", err
	}
	if tag == localTag {
		return "", errors.New("a secret sealed under the local runner's key cannot be opened on AWS: apply it again")
	}
	key, err := k.dataKey(ctx, tag)
	if err != nil {
		return "", err
	}
	return open(key, tag, box)
}

func (k *KMS) dataKey(ctx context.Context, tag string) ([]byte, error) {
	k.mu.Lock()
	if key, ok := k.opened[tag]; ok {
		k.mu.Unlock()
		return key, nil
	}
	k.mu.Unlock()
	blob, err := base64.RawURLEncoding.DecodeString(tag)
	if err != nil {
		return nil, errors.New("a sealed secret whose data key is not base64url")
	}
	out, err := k.API.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, KeyId: &k.KeyID})
	if err != nil {
		return nil, fmt.Errorf("kms Decrypt: %w", err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.remember(tag, out.Plaintext)
	return out.Plaintext, nil
}

func (k *KMS) remember(tag string, key []byte) {
	if k.opened == nil {
		k.opened = map[string][]byte{}
	}
	k.opened[tag] = key
}

func ptr[T any](v T) *T { return &v }

// Params resolves ssm: references through a Resolver, keeping each value
// for TTL (a failed read is not kept: the last good value serves until the
// next success).
type Params struct {
	Resolver Resolver
	TTL      time.Duration
	Now      func() time.Time

	mu    sync.Mutex
	cache map[string]param
}

type param struct {
	value string
	at    time.Time
}

// DefaultParamTTL is how long a resolved reference is kept.
const DefaultParamTTL = 5 * time.Minute

// Get resolves "ssm:/name".
func (p *Params) Get(ctx context.Context, ref string) (string, error) {
	name, ok := strings.CutPrefix(ref, config.SecretRefPrefix)
	if !ok {
		return "", fmt.Errorf("%q is not an ssm: reference", ref)
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	ttl := p.TTL
	if ttl <= 0 {
		ttl = DefaultParamTTL
	}
	p.mu.Lock()
	c, ok := p.cache[name]
	p.mu.Unlock()
	if ok && now().Sub(c.at) < ttl {
		return c.value, nil
	}
	if p.Resolver == nil {
		return "", fmt.Errorf("reference %s: no parameter store is configured", ref)
	}
	v, err := p.Resolver.Parameter(ctx, name)
	if err != nil {
		if ok {
			return c.value, nil // the last good value, until the store answers
		}
		return "", fmt.Errorf("reference %s: %w", ref, err)
	}
	p.mu.Lock()
	if p.cache == nil {
		p.cache = map[string]param{}
	}
	p.cache[name] = param{v, now()}
	p.mu.Unlock()
	return v, nil
}

// Open replaces every secret of a stored configuration with its value:
// sealed ones opened with k, references resolved with p, values stored
// before sealing existed kept as they are. A reference its user resolves
// on use (config.Secret.OnUse) stays a reference.
func Open(ctx context.Context, c *config.Config, k Keeper, p *Params) error {
	onUse := map[string]bool{}
	for _, s := range config.Secrets(c) {
		onUse[s.Path] = s.OnUse
	}
	return config.EachSecret(c, func(path, v string) (string, error) {
		switch {
		case onUse[path]:
			return v, nil
		case config.IsSealed(v):
			if k == nil {
				return "", ErrNoKeeper
			}
			return k.Open(ctx, v)
		case config.IsSecretRef(v):
			if p == nil {
				return "", errors.New("an ssm: reference, and no parameter store")
			}
			return p.Get(ctx, v)
		}
		return v, nil
	})
}

// Seal seals the values of a document about to be stored: references stay
// as they are; a value equal to what cur stores at the same place keeps
// its sealed form, so applying the same document again changes nothing;
// a new value is sealed with k. next's SecretSet markers must have been
// resolved (config.KeepSecrets).
func Seal(ctx context.Context, next, cur *config.Config, k Keeper) error {
	stored := map[string]string{}
	for _, s := range config.Secrets(cur) {
		stored[s.Path] = *s.Value
	}
	return config.EachSecret(next, func(path, v string) (string, error) {
		if config.IsSecretRef(v) || config.IsSealed(v) {
			return v, nil
		}
		if k == nil {
			return "", ErrNoKeeper
		}
		if old := stored[path]; config.IsSealed(old) {
			if plain, err := k.Open(ctx, old); err == nil && plain == v {
				return old, nil
			}
		}
		return k.Seal(ctx, v)
	})
}
