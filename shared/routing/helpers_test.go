package routing

import (
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
)

const campaignID = "auto"

// helperT is what helpers need of a *testing.T, *testing.B or *rapid.T.
type helperT interface {
	Helper()
	Fatalf(format string, args ...any)
}

// fixture is a campaign with its buyers, indexed as the router sees it.
type fixture struct {
	ix       *config.Index
	campaign *config.Campaign
	orders   []config.OrderRef
}

// newFixture indexes the buyers, filling in the defaults config.Parse would:
// order id and campaign, priority, weight, statuses, buyer timezone.
func newFixture(tb helperT, cp config.Campaign, buyers ...config.Buyer) *fixture {
	tb.Helper()
	if cp.ID == "" {
		cp.ID = campaignID
	}
	if cp.Distribution == "" {
		cp.Distribution = config.Waterfall
	}
	if cp.Status == "" {
		cp.Status = config.StatusActive
	}
	for i := range buyers {
		b := &buyers[i]
		if b.Status == "" {
			b.Status = config.StatusActive
		}
		if b.Timezone == "" {
			b.Timezone = "UTC"
		}
		for j := range b.Orders {
			o := &b.Orders[j]
			if o.Campaign == "" {
				o.Campaign = cp.ID
			}
			if o.ID == "" {
				o.ID = o.Campaign
			}
			if o.Priority == 0 {
				o.Priority = 1
			}
			if o.Weight == 0 {
				o.Weight = 1
			}
			if o.Status == "" {
				o.Status = config.StatusActive
			}
		}
	}
	c := &config.Config{Campaigns: []config.Campaign{cp}, Buyers: buyers}
	ix := config.NewIndex(c)
	return &fixture{ix: ix, campaign: ix.Campaign(cp.ID), orders: ix.Orders(cp.ID)}
}

func (f *fixture) input(l *lead.Lead, now time.Time) Input {
	if l.Campaign == "" {
		l.Campaign = f.campaign.ID
	}
	return Input{Lead: l, Campaign: f.campaign, Orders: f.orders, Index: f.ix, Now: now}
}

// buyer is a buyer with one order.
func buyer(id, tz string, o config.Order) config.Buyer {
	return config.Buyer{ID: id, Timezone: tz, Orders: []config.Order{o}}
}

func mustTime(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		tb.Fatalf("time %q: %v", s, err)
	}
	return t
}

func mustLoc(tb testing.TB, name string) *time.Location {
	tb.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		tb.Fatalf("location %q: %v", name, err)
	}
	return loc
}
