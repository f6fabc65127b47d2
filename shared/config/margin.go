package config

import (
	"fmt"

	"github.com/leadrelay/leadrelay/shared/money"
)

// Margin is what the agency keeps of a buyer's bid when it quotes the bid
// to a seller who pinged: a percentage of the bid or a fixed amount, at
// most one of the two (neither: the seller is quoted the whole bid).
type Margin struct {
	Percent float64      `yaml:"percent,omitempty" json:"percent,omitempty"`
	Fixed   money.Amount `yaml:"fixed,omitempty" json:"fixed,omitempty"`
}

// SellerPrice is what a seller is quoted for a bid: the bid less the
// margin, never negative. A percentage margin is rounded to the cent half
// away from zero (money.Amount.Percent) and the seller gets the rest, so
// margin + seller price is always exactly the bid: 20% of 10.05 is a
// margin of 2.01 and a seller price of 8.04.
func (m Margin) SellerPrice(bid money.Amount) money.Amount {
	keep := m.Fixed
	if m.Percent > 0 {
		keep = bid.Percent(m.Percent)
	}
	if keep >= bid {
		return 0
	}
	return bid - keep
}

// PingMargin is the margin quoted to source s on campaign c: the source's
// ping_margin when it has one, otherwise the campaign's ping.margin.
func PingMargin(c *Campaign, s *Source) Margin {
	if s != nil && s.PingMargin != nil {
		return *s.PingMargin
	}
	return c.Ping.Margin
}

// pingMargins checks the campaigns' ping.margin and the sources'
// ping_margin.
func (k *checker) pingMargins(c *Config) {
	for i := range c.Campaigns {
		k.margin(fmt.Sprintf("campaigns[%d].ping.margin", i), c.Campaigns[i].Ping.Margin)
	}
	for i := range c.Sources {
		if m := c.Sources[i].PingMargin; m != nil {
			k.margin(fmt.Sprintf("sources[%d].ping_margin", i), *m)
		}
	}
}

func (k *checker) margin(p string, m Margin) {
	if m.Percent != 0 && m.Fixed != 0 {
		k.add(p, CodeInvalid, "give percent or fixed, not both")
	}
	if m.Percent < 0 || m.Percent > 100 {
		k.add(p+".percent", CodeInvalid, "margin percent must be 0 to 100")
	}
	if m.Fixed < 0 {
		k.add(p+".fixed", CodeInvalid, "a fixed margin must not be negative")
	}
}
