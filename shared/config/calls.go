package config

import (
	"fmt"
	"regexp"
	"time"
)

// Campaign types: a campaign sells leads posted by sources (the default)
// or inbound phone calls (CampaignCall), routed while the caller waits.
const (
	CampaignLeads = "leads"
	CampaignCall  = "call"
)

// DeliveryCall connects an inbound call to the buyer's number (Twilio
// <Dial>): the call is the lead, billed once it lasts the buffer.
const DeliveryCall = "call"

// When a source of calls is paid (Payout.On): per billable call (the
// default: the call lasted the buyer's buffer and is sold), or per
// connected call (a buyer answered, billed or not). A payout per
// connected call is a fixed amount.
const (
	PayOnBillable  = "billable"
	PayOnConnected = "connected"
)

// PaysOnConnected reports whether the payout is paid per connected call.
func (p Payout) PaysOnConnected() bool { return p.On == PayOnConnected }

// Call delivery defaults and bounds.
const (
	// DefaultRing is how long a buyer's number rings before the call
	// goes to the next buyer.
	DefaultRing = 20 * time.Second
	MinRing     = 5 * time.Second
	MaxRing     = 60 * time.Second
	// MaxBuffer is the longest buffer: Twilio ends calls at four hours.
	MaxBuffer = 4 * time.Hour
	// MaxConcurrency bounds a buyer's concurrent calls (each is a slot
	// item of its own: see store.Slot).
	MaxConcurrency = 100
)

// Gather is a call campaign's question to the caller, answered on the
// keypad before routing: a ZIP code (Field a zip field: five digits) or a
// yes or no (Field a boolean field: 1 is yes, anything else no). The
// answer fills the field, which orders filter on like any other.
type Gather struct {
	Field  string `yaml:"field" json:"field"`
	Prompt string `yaml:"prompt" json:"prompt"`
	// Timeout is how long Twilio waits for the answer (default 8 s).
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
}

// Gather bounds.
const (
	DefaultGatherTimeout = 8 * time.Second
	MaxGatherPrompt      = 500
)

// Wait is how long Twilio waits for the caller's answer.
func (g *Gather) Wait() time.Duration {
	if g.Timeout > 0 {
		return g.Timeout.D()
	}
	return DefaultGatherTimeout
}

// e164 is a phone number in E.164: "+" and up to 15 digits.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// IsCall reports whether the campaign sells calls.
func (c *Campaign) IsCall() bool { return c.Type == CampaignCall }

// CallRing is how long the buyer's number rings.
func (d Delivery) CallRing() time.Duration {
	if d.Ring > 0 {
		return d.Ring.D()
	}
	return DefaultRing
}

// SourceByNumber is the source whose numbers include the called number,
// and the call campaign it sells calls to (nil, nil: none).
func (ix *Index) SourceByNumber(number string) (*Source, *Campaign) {
	for i := range ix.Config.Sources {
		s := &ix.Config.Sources[i]
		for _, n := range s.Numbers {
			if n != number {
				continue
			}
			for _, cid := range s.Campaigns {
				if c := ix.campaigns[cid]; c != nil && c.IsCall() {
					return s, c
				}
			}
		}
	}
	return nil, nil
}

// calls checks what belongs to calls: campaign types, sources' numbers
// (each number one source's, which sells to exactly one call campaign),
// call deliveries and that call campaigns are bought by call buyers only.
func (k *checker) calls(c *Config, campaigns map[string]*Campaign) {
	for i := range c.Campaigns {
		cp := &c.Campaigns[i]
		p := fmt.Sprintf("campaigns[%d]", i)
		switch cp.Type {
		case "", CampaignLeads:
		case CampaignCall:
			if f, ok := cp.Fields["phone"]; !ok || f.Type != TypePhone {
				k.add(p+".fields.phone", CodeRequired, "a call campaign needs a phone field (type phone): the caller's number")
			}
			if cp.MaxSales > 1 {
				k.add(p+".max_sales", CodeInvalid, "a call is connected to one buyer: max_sales is 1")
			}
			k.gather(p+".gather", cp)
		default:
			k.add(p+".type", CodeInvalid, "campaign type %q: want leads or call", cp.Type)
		}
		if cp.Gather != nil && !cp.IsCall() {
			k.add(p+".gather", CodeInvalid, "gather is for call campaigns")
		}
	}
	numbers := map[string]string{}
	for i := range c.Sources {
		s := &c.Sources[i]
		p := fmt.Sprintf("sources[%d]", i)
		calls := 0
		for _, cid := range s.Campaigns {
			if cp := campaigns[cid]; cp != nil && cp.IsCall() {
				calls++
			}
		}
		if len(s.Numbers) > 0 && calls != 1 {
			k.add(p+".numbers", CodeInvalid, "a source with numbers sells its calls to exactly one call campaign (it has %d)", calls)
		}
		k.callPayout(p+".payout.on", s)
		for j, n := range s.Numbers {
			np := fmt.Sprintf("%s.numbers[%d]", p, j)
			switch {
			case !e164.MatchString(n):
				k.add(np, CodeInvalid, "%q is not an E.164 number such as +18005550100", n)
			case numbers[n] != "":
				k.add(np, CodeDuplicate, "number %s is already source %s's", n, numbers[n])
			default:
				numbers[n] = s.ID
			}
		}
	}
	for i := range c.Buyers {
		b := &c.Buyers[i]
		p := fmt.Sprintf("buyers[%d]", i)
		isCall := b.Delivery.Type == DeliveryCall
		for j, o := range b.Orders {
			cp := campaigns[o.Campaign]
			if cp == nil {
				continue
			}
			switch {
			case cp.IsCall() && !isCall:
				k.add(fmt.Sprintf("%s.orders[%d].campaign", p, j), CodeInvalid, "campaign %s sells calls: its buyers' delivery is type call", cp.ID)
			case !cp.IsCall() && isCall:
				k.add(fmt.Sprintf("%s.orders[%d].campaign", p, j), CodeInvalid, "a call buyer buys call campaigns only (%s sells leads)", cp.ID)
			}
		}
	}
}

// callPayout checks when a source is paid: on is for sources of calls
// (with numbers), billable or connected; a payout per connected call is
// fixed (a revenue share is a share of a billed call's price).
func (k *checker) callPayout(p string, s *Source) {
	switch on := s.Payout.On; {
	case on == "":
	case on != PayOnBillable && on != PayOnConnected:
		k.add(p, CodeInvalid, "payout on %q: want billable or connected", on)
	case len(s.Numbers) == 0:
		k.add(p, CodeInvalid, "payout.on is for a source of calls (one with numbers): a lead's source is paid when the lead sells")
	case on == PayOnConnected && s.Payout.Type != PayoutFixed:
		k.add(p, CodeInvalid, "a payout per connected call is a fixed amount: a revenue share is a share of a billed call's price")
	}
}

// callDelivery checks a call delivery's number, buffer, ring time and
// concurrency; callFieldsOnly refuses them on other deliveries.
func (k *checker) callDelivery(p string, d Delivery) {
	if !e164.MatchString(d.Number) {
		k.add(p+".number", CodeRequired, "a call delivery needs the buyer's number in E.164, such as +18005550100")
	}
	if d.Buffer < 0 || d.Buffer.D() > MaxBuffer {
		k.add(p+".buffer", CodeInvalid, "buffer is between 0s and %s", MaxBuffer)
	}
	if d.Ring != 0 && (d.Ring.D() < MinRing || d.Ring.D() > MaxRing) {
		k.add(p+".ring", CodeInvalid, "ring is between %s and %s", MinRing, MaxRing)
	}
	if d.Concurrency < 0 || d.Concurrency > MaxConcurrency {
		k.add(p+".concurrency", CodeInvalid, "concurrency is between 0 (no limit) and %d", MaxConcurrency)
	}
}

func (k *checker) notCall(p string, d Delivery) {
	for _, f := range []struct {
		name string
		set  bool
	}{{"number", d.Number != ""}, {"buffer", d.Buffer != 0}, {"ring", d.Ring != 0}, {"concurrency", d.Concurrency != 0}, {"record", d.Record}} {
		if f.set {
			k.add(p+"."+f.name, CodeInvalid, "%s is for call delivery", f.name)
		}
	}
}

// gather checks a call campaign's question: a zip or boolean field of the
// campaign, a prompt, a wait between 3 and 30 seconds.
func (k *checker) gather(p string, cp *Campaign) {
	g := cp.Gather
	if g == nil {
		return
	}
	if f, ok := cp.Fields[g.Field]; !ok || (f.Type != TypeZip && f.Type != TypeBoolean) {
		k.add(p+".field", CodeInvalid, "gather fills a zip or boolean field of the campaign (%q is not one)", g.Field)
	}
	if g.Prompt == "" || len(g.Prompt) > MaxGatherPrompt {
		k.add(p+".prompt", CodeRequired, "gather needs the prompt the caller hears (at most %d characters)", MaxGatherPrompt)
	}
	if g.Timeout != 0 && (g.Timeout.D() < 3*time.Second || g.Timeout.D() > 30*time.Second) {
		k.add(p+".timeout", CodeInvalid, "timeout is between 3s and 30s")
	}
}
