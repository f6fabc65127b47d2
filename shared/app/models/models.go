// Package models gives the functions that score leads each campaign's
// current scoring model, read from the table and kept for a while: a new
// version is picked up within the cache's TTL, and a campaign without a
// model costs one read per TTL, not one per lead.
package models

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/leadrelay/leadrelay/shared/scoring"
	"github.com/leadrelay/leadrelay/shared/settings"
	"github.com/leadrelay/leadrelay/shared/store"
)

// Store is what the cache reads models from.
type Store interface {
	LatestModel(ctx context.Context, campaign string) (*store.Model, error)
}

// Cache keeps each campaign's model for TTL.
type Cache struct {
	Store Store
	Now   func() time.Time
	// TTL is how long a model read stays current
	// (settings.DefaultModelTTL when 0).
	TTL time.Duration

	mu      sync.Mutex
	entries map[string]entry
}

type entry struct {
	model *scoring.Model
	read  time.Time
}

// Model returns the campaign's current model, nil when it has none.
func (c *Cache) Model(ctx context.Context, campaign string) (*scoring.Model, error) {
	now := c.Now()
	c.mu.Lock()
	e, ok := c.entries[campaign]
	c.mu.Unlock()
	ttl := c.TTL
	if ttl <= 0 {
		ttl = settings.DefaultModelTTL
	}
	if ok && now.Sub(e.read) < ttl {
		return e.model, nil
	}
	m, err := c.read(ctx, campaign)
	if err != nil {
		if ok {
			return e.model, err // the one read before, and the reason it is not newer
		}
		return nil, err
	}
	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[string]entry{}
	}
	c.entries[campaign] = entry{model: m, read: now}
	c.mu.Unlock()
	return m, nil
}

// Forget drops a campaign's model, so the next read is fresh (after a
// training in the same instance).
func (c *Cache) Forget(campaign string) {
	c.mu.Lock()
	delete(c.entries, campaign)
	c.mu.Unlock()
}

func (c *Cache) read(ctx context.Context, campaign string) (*scoring.Model, error) {
	sm, err := c.Store.LatestModel(ctx, campaign)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m scoring.Model
	if err := m.UnmarshalBinary(sm.Blob); err != nil {
		return nil, fmt.Errorf("decode model %s v%d: %w", campaign, sm.Version, err)
	}
	return &m, nil
}
