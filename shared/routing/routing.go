package routing

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/money"
)

// Reason codes of an ineligible order (Verdict.Reason). A code from
// Input.Exclude passes through as it is.
const (
	ReasonCampaignPaused = "campaign_paused"
	ReasonBuyerPaused    = "buyer_paused"
	ReasonOrderPaused    = "order_paused"
	ReasonAlreadyOffered = "already_offered"
	ReasonCapFull        = "cap_full"
	ReasonAlreadyBought  = "already_bought"
	ReasonFilterFailed   = "filter_failed"
	ReasonScheduleClosed = "schedule_closed"
	ReasonHoliday        = "holiday"
	ReasonLowScore       = "low_score"
	// ReasonNoBalance: the buyer's prepaid balance cannot pay for the
	// lead (known from a failed reservation).
	ReasonNoBalance = "insufficient_balance"
	// ReasonConcurrencyFull: every one of the buyer's call slots is
	// held by a call being dialled (known from a failed reservation).
	ReasonConcurrencyFull = "concurrency_full"
	// ReasonExcluded stands for an Exclude entry without a code.
	ReasonExcluded = "excluded"
)

// Input is everything a decision needs.
type Input struct {
	Lead     *lead.Lead
	Campaign *config.Campaign
	// Orders are the campaign's orders (config.Index.Orders).
	Orders []config.OrderRef
	// Index resolves timezones (Index.Location); a nil Index reads every
	// timezone as UTC.
	Index *config.Index
	Now   time.Time
	// Exclude names orders ("buyer/order" keys, config.OrderRef.Key) that
	// must not be offered, with the reason code (for example
	// "already_offered", or "cap_full" known from an earlier failed
	// reservation).
	Exclude map[string]string
	// Bought are the buyers that already bought this lead (a shared lead is
	// sold to a buyer once).
	Bought map[string]bool
	// Rotation holds, per order key, how many leads the order has been given
	// by round_robin, weighted or waterfall ties so far; missing is 0.
	Rotation map[string]int64
}

// NewInput is the input of a decision about lead l in campaign c at now:
// the campaign's orders, less those the lead was offered to already
// (tried, "buyer/order" keys: ReasonAlreadyOffered) and those of buyers
// that bought it (bought: ReasonAlreadyBought). The router's decisions
// and a seller's ping quotes both start here; the caller may add to
// Exclude (open circuit breakers) and set Rotation.
func NewInput(l *lead.Lead, c *config.Campaign, ix *config.Index, now time.Time, tried, bought []string) Input {
	in := Input{
		Lead: l, Campaign: c, Orders: ix.Orders(c.ID), Index: ix, Now: now,
		Exclude: make(map[string]string, len(tried)), Bought: make(map[string]bool, len(bought)),
	}
	for _, t := range tried {
		in.Exclude[t] = ReasonAlreadyOffered
	}
	for _, b := range bought {
		in.Bought[b] = true
	}
	return in
}

// Decision is the ordered list of orders to offer the lead to, best first,
// with an explanation for every order of the campaign.
type Decision struct {
	Candidates []Candidate
	// Explain has one Verdict per order of Input.Orders, in that order.
	Explain []Verdict
}

// Candidate is an eligible order, with what selling to it costs in caps.
type Candidate struct {
	Ref   config.OrderRef
	Price money.Amount
	// Caps are every cap counter this sale must reserve (the order's and
	// the buyer's).
	Caps []CapSpec
}

// Verdict explains one order: eligible or not, and why.
type Verdict struct {
	// Order is the order key, "buyer/order".
	Order    string `json:"order"`
	Eligible bool   `json:"eligible"`
	// Reason is a machine code (the Reason constants, or an Exclude code).
	Reason string `json:"reason,omitempty"`
	// Detail is a sentence for people: `filter state in [CA TX]: lead has "NY"`.
	Detail string `json:"detail,omitempty"`
	// Rank is the 1-based position among the candidates, if eligible.
	Rank int `json:"rank,omitempty"`
}

// Decide checks every order of in.Orders against the lead and ranks the
// eligible ones by the campaign's distribution method. See the package
// documentation for the rules.
func Decide(in Input) Decision {
	d := newDecider(&in)
	out := Decision{Explain: make([]Verdict, len(in.Orders))}
	entries := make([]entry, 0, len(in.Orders))
	ncaps := 0
	scopes, off := joinScopes(in.Orders), 0
	for i, ref := range in.Orders {
		n := scopeLen(ref)
		scope := scopes[off : off+n]
		off += n
		key := scope[len(orderPrefix):]
		v := &out.Explain[i]
		v.Order = key
		v.Reason, v.Detail = d.check(ref, key, i)
		if v.Reason != "" {
			continue
		}
		v.Eligible = true
		e := entry{
			ref:     ref,
			scope:   scope,
			rot:     in.Rotation[key],
			verdict: int32(i),
			ncaps:   int32(capCount(ref.Order.Caps) + capCount(ref.Buyer.Caps)),
		}
		ncaps += int(e.ncaps)
		entries = append(entries, e)
	}
	d.fillDetails(out.Explain)
	if len(entries) == 0 {
		return out
	}
	method := config.Waterfall
	if in.Campaign != nil && in.Campaign.Distribution != "" {
		method = in.Campaign.Distribution
	}
	ranked := rank(method, entries)

	out.Candidates = make([]Candidate, len(entries))
	var caps []CapSpec
	if ncaps > 0 {
		caps = make([]CapSpec, 0, ncaps)
	}
	for i, k := range ranked {
		e := &entries[k.idx]
		start := len(caps)
		if e.ncaps > 0 {
			z := d.zone(e.ref.Buyer.Timezone)
			caps = d.appendCaps(caps, e.scope, e.ref.Order.Caps, z)
			if !e.ref.Buyer.Caps.IsZero() {
				caps = d.appendCaps(caps, d.buyerScope(e.ref.Buyer), e.ref.Buyer.Caps, z)
			}
		}
		out.Candidates[i] = Candidate{
			Ref:   e.ref,
			Price: e.ref.Order.Price,
		}
		if len(caps) > start {
			out.Candidates[i].Caps = caps[start:len(caps):len(caps)]
		}
		out.Explain[e.verdict].Rank = i + 1
	}
	return out
}

const orderPrefix = "order:"

// joinScopes returns the scopes "order:buyer/order" of all the orders in one
// string, to be cut by scopeLen: one allocation instead of one per order.
func joinScopes(orders []config.OrderRef) string {
	size := 0
	for _, ref := range orders {
		size += scopeLen(ref)
	}
	var sb strings.Builder
	sb.Grow(size)
	for _, ref := range orders {
		sb.WriteString(orderPrefix)
		sb.WriteString(ref.Buyer.ID)
		sb.WriteByte('/')
		sb.WriteString(ref.Order.ID)
	}
	return sb.String()
}

func scopeLen(ref config.OrderRef) int {
	return len(orderPrefix) + len(ref.Buyer.ID) + 1 + len(ref.Order.ID)
}

// entry is an eligible order on its way to becoming a Candidate.
type entry struct {
	ref     config.OrderRef
	scope   string // "order:buyer/order"
	rot     int64
	ncaps   int32
	verdict int32 // index into Decision.Explain
}

// key is the order key, "buyer/order".
func (e *entry) key() string { return e.scope[len(orderPrefix):] }

// decider holds what one Decide call computes once and reuses across orders.
type decider struct {
	in   *Input
	lead *lead.Lead
	// campaignAge: the campaign declares a field "age", which then wins over
	// the derived age.
	campaignAge bool
	zones       []*zone
	regexps     map[string]*compiled
	hours       map[string]parsedHours
	// details holds the filter explanations of all verdicts, cut into
	// Verdict.Detail by fillDetails: one allocation instead of one each.
	details strings.Builder
	spans   []detailSpan
	// scratch is where one explanation is built.
	scratch []byte
	// lastBuyer and lastBuyerScope cache "buyer:<id>": a campaign's orders
	// come grouped by buyer.
	lastBuyer      *config.Buyer
	lastBuyerScope string
}

// detailSpan is where the Detail of Explain[verdict] is in decider.details.
type detailSpan struct {
	verdict, start, end int
}

// fillDetails sets the details that were written into d.details.
func (d *decider) fillDetails(explain []Verdict) {
	if len(d.spans) == 0 {
		return
	}
	all := d.details.String()
	for _, sp := range d.spans {
		explain[sp.verdict].Detail = all[sp.start:sp.end]
	}
}

type parsedHours struct {
	ranges []config.HourRange
	err    error
}

// compiled is a pattern compiled for one Decide, with its last match: the
// orders of a campaign often test the same field with the same pattern.
type compiled struct {
	re   *regexp.Regexp
	err  error
	last string
	hit  bool
	used bool
}

// match reports whether the pattern matches text.
func (c *compiled) match(text string) bool {
	if !c.used || c.last != text {
		c.last, c.hit, c.used = text, c.re.MatchString(text), true
	}
	return c.hit
}

func newDecider(in *Input) *decider {
	d := &decider{in: in, lead: in.Lead}
	if d.lead == nil {
		d.lead = &lead.Lead{}
	}
	if in.Campaign != nil {
		_, d.campaignAge = in.Campaign.Fields["age"]
	}
	return d
}

// check returns the reason the order is ineligible, with its detail, or two
// empty strings. A filter's detail may be left for fillDetails to set on
// Explain[verdict].
func (d *decider) check(ref config.OrderRef, key string, verdict int) (reason, detail string) {
	in := d.in
	switch {
	case in.Campaign == nil:
		return ReasonCampaignPaused, fmt.Sprintf("campaign %q is not configured", d.lead.Campaign)
	case in.Campaign.Status == config.StatusPaused:
		return ReasonCampaignPaused, fmt.Sprintf("campaign %s is paused", in.Campaign.ID)
	case ref.Buyer.Status == config.StatusPaused:
		return ReasonBuyerPaused, fmt.Sprintf("buyer %s is paused", ref.Buyer.ID)
	case ref.Order.Status == config.StatusPaused:
		return ReasonOrderPaused, fmt.Sprintf("order %s is paused", key)
	}
	if code, ok := in.Exclude[key]; ok {
		if code == "" {
			code = ReasonExcluded
		}
		return code, excludeDetail(code)
	}
	if in.Bought[ref.Buyer.ID] {
		return ReasonAlreadyBought, fmt.Sprintf("buyer %s already bought this lead", ref.Buyer.ID)
	}
	if m := ref.Order.MinScore; m > 0 && d.lead.Score < m {
		return ReasonLowScore, fmt.Sprintf("the lead scored %d, under the order's min_score %d", d.lead.Score, m)
	}
	if s := ref.Order.Schedule; s != nil {
		if reason, detail := d.schedule(s, ref.Buyer); reason != "" {
			return reason, detail
		}
	}
	for i := range ref.Order.Filters {
		if ok, detail := d.filter(&ref.Order.Filters[i], ref.Buyer, verdict); !ok {
			return ReasonFilterFailed, detail
		}
	}
	return "", ""
}

func excludeDetail(code string) string {
	switch code {
	case ReasonAlreadyOffered:
		return "the lead was already offered to this order"
	case ReasonCapFull:
		return "a cap of this order or its buyer was full when the router tried to reserve it"
	case ReasonNoBalance:
		return "the buyer's prepaid balance could not pay for the lead when the router tried to reserve it"
	case ReasonExcluded:
		return "excluded by the caller"
	}
	return "excluded by the caller: " + code
}

// zone is a timezone with the decision's instant in it, and the cap buckets
// of that instant (built on first use).
type zone struct {
	loc     *time.Location
	local   time.Time
	periods *[4]period
}

// zone returns the zone named name (UTC for "" or, without an Index, any
// name), computed once per Decide.
func (d *decider) zone(name string) *zone {
	loc := time.UTC
	if d.in.Index != nil && name != "" {
		loc = d.in.Index.Location(name)
	}
	for _, z := range d.zones {
		if z.loc == loc {
			return z
		}
	}
	z := &zone{loc: loc, local: d.in.Now.In(loc)}
	d.zones = append(d.zones, z)
	return z
}

func (d *decider) buyerScope(b *config.Buyer) string {
	if b != d.lastBuyer {
		d.lastBuyer = b
		d.lastBuyerScope = BuyerScope(b.ID)
	}
	return d.lastBuyerScope
}
