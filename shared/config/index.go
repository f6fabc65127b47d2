package config

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"time"

	"github.com/leadrelay/leadrelay/shared/limits"
)

// OrderRef is one order with its buyer.
type OrderRef struct {
	Buyer *Buyer
	Order *Order
}

// Key is the order's id across the whole configuration: "buyer/order".
func (r OrderRef) Key() string { return OrderKey(r.Buyer.ID, r.Order.ID) }

// OrderKey joins a buyer id and an order id.
func OrderKey(buyer, order string) string { return buyer + "/" + order }

// Index is a validated configuration with the lookups the handlers need.
// It is read-only once built and safe to share between goroutines.
type Index struct {
	Config    *Config
	campaigns map[string]*Campaign
	sources   map[string]*Source
	buyers    map[string]*Buyer
	byKey     map[string]*Source
	buyerKey  map[string]*Buyer
	orders    map[string][]OrderRef
	locations map[string]*time.Location
	meta      metaIndex
}

// NewIndex builds the lookups of a configuration that Parse accepted.
func NewIndex(c *Config) *Index {
	ix := &Index{
		Config:    c,
		campaigns: map[string]*Campaign{},
		sources:   map[string]*Source{},
		buyers:    map[string]*Buyer{},
		byKey:     map[string]*Source{},
		buyerKey:  map[string]*Buyer{},
		orders:    map[string][]OrderRef{},
		locations: map[string]*time.Location{},
	}
	ix.location(c.Timezone)
	ix.indexMeta(c.Integrations.Meta)
	for i := range c.Campaigns {
		ix.campaigns[c.Campaigns[i].ID] = &c.Campaigns[i]
		if len(c.Campaigns[i].stateFields()) > 0 {
			for _, z := range stateZones { // a lead's hour is read in its state's zone
				ix.location(z)
			}
		}
	}
	for i := range c.Sources {
		s := &c.Sources[i]
		ix.sources[s.ID] = s
		if s.APIKeySHA256 != "" {
			ix.byKey[s.APIKeySHA256] = s
		}
	}
	for i := range c.Buyers {
		b := &c.Buyers[i]
		ix.buyers[b.ID] = b
		if b.APIKeySHA256 != "" {
			ix.buyerKey[b.APIKeySHA256] = b
		}
		ix.location(b.Timezone)
		for j := range b.Orders {
			o := &b.Orders[j]
			ix.orders[o.Campaign] = append(ix.orders[o.Campaign], OrderRef{Buyer: b, Order: o})
			if o.Schedule != nil {
				ix.location(o.Schedule.Timezone)
			}
		}
	}
	return ix
}

func (ix *Index) location(name string) {
	if name == "" {
		return
	}
	if _, ok := ix.locations[name]; ok {
		return
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		loc = time.UTC
	}
	ix.locations[name] = loc
}

// Location returns a timezone named in the configuration (UTC otherwise).
func (ix *Index) Location(name string) *time.Location {
	if loc, ok := ix.locations[name]; ok {
		return loc
	}
	return time.UTC
}

// Campaign returns the campaign with the id, or nil.
func (ix *Index) Campaign(id string) *Campaign { return ix.campaigns[id] }

// LeadRate is the leads the source may post a second: its own rate, or
// the agency's default.
func (ix *Index) LeadRate(s *Source) int {
	return firstRate(s.RateLimit, ix.Config.RateLimits.Leads, limits.DefaultLeadRate)
}

// PingRate is the pings the source may send a second.
func (ix *Index) PingRate(s *Source) int {
	return firstRate(s.PingRateLimit, ix.Config.RateLimits.Pings, limits.DefaultPingRate)
}

func firstRate(rates ...int) int {
	for _, r := range rates {
		if r > 0 {
			return r
		}
	}
	return 0
}

// Source returns the source with the id, or nil.
func (ix *Index) Source(id string) *Source { return ix.sources[id] }

// Buyer returns the buyer with the id, or nil.
func (ix *Index) Buyer(id string) *Buyer { return ix.buyers[id] }

// Order returns the order with the buyer and order ids.
func (ix *Index) Order(buyer, order string) (OrderRef, bool) {
	b := ix.buyers[buyer]
	if b == nil {
		return OrderRef{}, false
	}
	for i := range b.Orders {
		if b.Orders[i].ID == order {
			return OrderRef{Buyer: b, Order: &b.Orders[i]}, true
		}
	}
	return OrderRef{}, false
}

// Orders returns every order for a campaign, in configuration order.
func (ix *Index) Orders(campaign string) []OrderRef { return ix.orders[campaign] }

// SourceByKey finds the source whose API key is key.
func (ix *Index) SourceByKey(key string) *Source { return ix.byKey[HashKey(key)] }

// BuyerByKey finds the buyer whose API key is key.
func (ix *Index) BuyerByKey(key string) *Buyer { return ix.buyerKey[HashKey(key)] }

// Allows reports whether the source may post to the campaign.
func (s *Source) Allows(campaign string) bool { return slices.Contains(s.Campaigns, campaign) }

// HashKey is the hex SHA-256 of an API key, as the configuration stores it.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}
