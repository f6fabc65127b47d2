package store

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/leadrelay/leadrelay/shared/config"
)

// ErrVersionConflict reports a configuration write whose expected version
// is not the stored one (someone else applied a change first).
var ErrVersionConflict = errors.New("configuration version conflict")

// SaveConfig stores a whole configuration and returns its version. When
// expect is not negative the stored version must equal it. Applying the
// same document again changes nothing and keeps the version.
func (s *Store) SaveConfig(ctx context.Context, c *config.Config, expect int64) (int64, bool, error) {
	if expect >= 0 {
		return s.saveConfig(ctx, c, expect)
	}
	// Without an expected version, a conflict only means another writer
	// (or an SDK retry of our own write) got there first: read again.
	for try := 0; ; try++ {
		v, changed, err := s.saveConfig(ctx, c, expect)
		if !errors.Is(err, ErrVersionConflict) || try == 4 {
			return v, changed, err
		}
	}
}

func (s *Store) saveConfig(ctx context.Context, c *config.Config, expect int64) (int64, bool, error) {
	cur, err := s.LoadConfig(ctx)
	if err != nil {
		return 0, false, err
	}
	if expect >= 0 && cur.Version != expect {
		return cur.Version, false, ErrVersionConflict
	}
	doc := *c
	doc.Version = 0
	body, err := doc.JSON()
	if err != nil {
		return 0, false, fmt.Errorf("encode config: %w", err)
	}
	curDoc := *cur
	curDoc.Version = 0
	if curBody, _ := curDoc.JSON(); cur.Version > 0 && bytes.Equal(curBody, body) {
		return cur.Version, false, nil
	}
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	if _, err := zw.Write(body); err != nil {
		return 0, false, fmt.Errorf("compress config: %w", err)
	}
	if err := zw.Close(); err != nil {
		return 0, false, fmt.Errorf("compress config: %w", err)
	}
	next := cur.Version + 1
	pk, sk := configKey()
	item := key(pk, sk)
	item["version"] = num(next)
	item["doc"] = &types.AttributeValueMemberB{Value: zipped.Bytes()}
	item["updated_at"] = str(s.now().UTC().Format(time.RFC3339Nano))
	cond := "attribute_not_exists(pk)"
	vals := map[string]types.AttributeValue{}
	if cur.Version > 0 {
		cond = "version = :v"
		vals[":v"] = num(cur.Version)
	}
	in := &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item, ConditionExpression: aws.String(cond)}
	if len(vals) > 0 {
		in.ExpressionAttributeValues = vals
	}
	if err := s.putItem(ctx, in); err != nil {
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			return cur.Version, false, ErrVersionConflict
		}
		return 0, false, fmt.Errorf("save config: %w", err)
	}
	return next, true, nil
}

// LoadConfig reads the stored configuration; an empty one (version 0) when
// none was applied yet.
func (s *Store) LoadConfig(ctx context.Context) (*config.Config, error) {
	pk, sk := configKey()
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: key(pk, sk), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	if out.Item == nil {
		return &config.Config{}, nil
	}
	doc, _ := out.Item["doc"].(*types.AttributeValueMemberB)
	ver, _ := out.Item["version"].(*types.AttributeValueMemberN)
	if doc == nil || ver == nil {
		return nil, errors.New("load config: stored item is malformed")
	}
	zr, err := gzip.NewReader(bytes.NewReader(doc.Value))
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	body, err := io.ReadAll(io.LimitReader(zr, config.MaxDocumentBytes+1))
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	c, err := config.Parse(body)
	if err != nil {
		return nil, fmt.Errorf("load config: stored document no longer parses: %w", err)
	}
	c.Version, _ = strconv.ParseInt(ver.Value, 10, 64)
	return c, nil
}

// ConfigCache keeps the configuration in memory and reads it again once it
// is older than the TTL: handlers never read it per lead.
type ConfigCache struct {
	store *Store
	ttl   time.Duration
	now   func() time.Time
	log   *slog.Logger

	// open replaces the stored document's secrets with their values
	// (sealed ones opened, references resolved): see OpenSecretsWith.
	open func(context.Context, *config.Config) error

	mu     sync.Mutex
	ix     *config.Index
	loaded time.Time
}

// OpenSecretsWith makes the cache hand out the configuration with its
// secrets' values (package secrets): the stored document holds them
// sealed or as references. Without it the document is handed out as
// stored.
func (c *ConfigCache) OpenSecretsWith(open func(context.Context, *config.Config) error) {
	c.open = open
}

// NewConfigCache returns a cache over the store's configuration.
func NewConfigCache(s *Store, ttl time.Duration, log *slog.Logger) *ConfigCache {
	return &ConfigCache{store: s, ttl: ttl, now: s.now, log: log}
}

// Get returns the current configuration index. If a reload fails, the
// previous configuration is kept and the error logged.
func (c *ConfigCache) Get(ctx context.Context) (*config.Index, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.ix != nil && now.Sub(c.loaded) < c.ttl {
		return c.ix, nil
	}
	cfg, err := c.store.LoadConfig(ctx)
	if err == nil && c.open != nil {
		if err = c.open(ctx, cfg); err != nil {
			err = fmt.Errorf("open the configuration's secrets: %w", err)
		}
	}
	if err != nil {
		if c.ix != nil {
			c.log.WarnContext(ctx, "config reload failed; keeping the previous version", "error", err, "version", c.ix.Config.Version)
			c.loaded = now
			return c.ix, nil
		}
		return nil, err
	}
	c.ix = config.NewIndex(cfg)
	c.loaded = now
	return c.ix, nil
}

// Invalidate makes the next Get read the store.
func (c *ConfigCache) Invalidate() {
	c.mu.Lock()
	c.ix = nil
	c.mu.Unlock()
}
