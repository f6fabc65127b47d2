package config

import (
	"fmt"
	"regexp"
	"time"
)

// DefaultReturnReasons are the reasons a buyer may return a lead for when
// its campaign lists none.
var DefaultReturnReasons = []string{
	"disconnected_phone", "invalid_email", "wrong_person", "duplicate",
	"not_interested", "outside_service_area", "underage", "fraud", "other",
}

var reasonPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// Reasons returns the campaign's return reasons (the defaults when it lists none).
func (c *Campaign) Reasons() []string {
	if len(c.ReturnReasons) > 0 {
		return c.ReturnReasons
	}
	return DefaultReturnReasons
}

// LedgerLocation is the agency's timezone, in which ledger days are counted.
func (ix *Index) LedgerLocation() *time.Location { return ix.Location(ix.Config.Timezone) }

// money checks the settings that decide how money is counted: the
// agency's timezone, return reasons, clawback and seller postbacks.
func (k *checker) money(c *Config) {
	k.timezone("timezone", c.Timezone)
	for i := range c.Campaigns {
		seen := map[string]bool{}
		for j, r := range c.Campaigns[i].ReturnReasons {
			p := fmt.Sprintf("campaigns[%d].return_reasons[%d]", i, j)
			switch {
			case !reasonPattern.MatchString(r):
				k.add(p, CodeInvalid, "return reason %q: use lower-case letters, digits, '_' and '-' (at most 64)", r)
			case seen[r]:
				k.add(p, CodeDuplicate, "return reason %q is listed twice", r)
			}
			seen[r] = true
		}
	}
	for i := range c.Sources {
		s := &c.Sources[i]
		p := fmt.Sprintf("sources[%d]", i)
		k.url(p+".postback_url", s.PostbackURL, false)
		if s.PostbackURL != "" && s.PostbackSecret == "" {
			k.add(p+".postback_secret", CodeRequired, "a postback_url needs a postback_secret to sign the calls with")
		}
		if s.PostbackURL == "" && s.PostbackSecret != "" {
			k.add(p+".postback_url", CodeRequired, "postback_secret is set but postback_url is not")
		}
	}
	for i := range c.Buyers {
		for j, o := range c.Buyers[i].Orders {
			if o.ReturnWindow < 0 {
				k.add(fmt.Sprintf("buyers[%d].orders[%d].return_window", i, j), CodeInvalid, "return window must not be negative")
			}
		}
	}
}
