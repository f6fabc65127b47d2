// Package config is LeadRelay's configuration: campaigns, sources, buyers and
// their orders, as operators write it in YAML (the schema in DESIGN.md).
//
// Parse reads and validates a document; every problem is reported with the
// path of the field at fault (and the line, for YAML), and a document with a
// problem is never half-applied. Index builds the lookups the handlers use on
// the hot path.
package config

import (
	"time"

	"github.com/leadrelay/leadrelay/shared/money"
)

// Config is one whole configuration document.
type Config struct {
	// Version is set by the store when the document is applied; it is not
	// part of what operators write.
	Version int64 `yaml:"version,omitempty" json:"version,omitempty"`
	// Timezone is the agency's IANA zone: ledger days (the P&L) are
	// counted in it (default UTC).
	Timezone string `yaml:"timezone,omitempty" json:"timezone,omitempty"`
	// RateLimits are the per-source rates of sources that set none.
	RateLimits RateLimits `yaml:"rate_limits,omitempty" json:"rate_limits,omitempty"`
	// Feedback holds the loops that pause sources and demote orders by
	// their outcomes.
	Feedback Feedback `yaml:"feedback,omitempty" json:"feedback,omitempty"`
	// Integrations connect ad platforms' lead forms (integrations.go).
	Integrations Integrations `yaml:"integrations,omitempty" json:"integrations,omitempty"`
	// Billing is the agency's Stripe account, which bills the buyers
	// (billing.go).
	Billing   Billing    `yaml:"billing,omitempty" json:"billing,omitempty"`
	Campaigns []Campaign `yaml:"campaigns" json:"campaigns"`
	Sources   []Source   `yaml:"sources" json:"sources"`
	Buyers    []Buyer    `yaml:"buyers" json:"buyers"`
}

// Field types a campaign can declare.
const (
	TypeString  = "string"
	TypeInteger = "integer"
	TypeNumber  = "number"
	TypeBoolean = "boolean"
	TypeEnum    = "enum"
	TypeEmail   = "email"
	TypePhone   = "phone"
	TypeUSState = "us_state"
	TypeZip     = "zip"
)

// FieldTypes lists every field type, in the order documentation shows them.
var FieldTypes = []string{TypeString, TypeInteger, TypeNumber, TypeBoolean, TypeEnum, TypeEmail, TypePhone, TypeUSState, TypeZip}

// Distribution methods.
const (
	Waterfall  = "waterfall"
	RoundRobin = "round_robin"
	Weighted   = "weighted"
	PingPost   = "ping_post"
)

// Campaign is a lead type with its field schema and how its leads are sold.
type Campaign struct {
	ID string `yaml:"id" json:"id"`
	// Type is leads (the default) or call: a call campaign's leads are
	// inbound calls, routed while the caller waits (calls.go).
	Type   string           `yaml:"type,omitempty" json:"type,omitempty"`
	Fields map[string]Field `yaml:"fields" json:"fields"`
	// Strict campaigns refuse fields their schema does not declare.
	Strict       bool   `yaml:"strict,omitempty" json:"strict,omitempty"`
	Dedupe       Dedupe `yaml:"dedupe,omitempty" json:"dedupe,omitempty"`
	Distribution string `yaml:"distribution,omitempty" json:"distribution,omitempty"`
	Ping         Ping   `yaml:"ping,omitempty" json:"ping,omitempty"`
	// MaxSales is how many distinct buyers may buy one lead: 1 (the
	// default) is exclusive.
	MaxSales int    `yaml:"max_sales,omitempty" json:"max_sales,omitempty"`
	Status   string `yaml:"status,omitempty" json:"status,omitempty"`
	// ReturnReasons are the reasons a buyer may give for a return
	// (default DefaultReturnReasons).
	ReturnReasons []string `yaml:"return_reasons,omitempty" json:"return_reasons,omitempty"`
	Scoring       Scoring  `yaml:"scoring,omitempty" json:"scoring,omitempty"`
	// Gather, on a call campaign, asks the caller one question on the
	// keypad before the call is routed (calls.go).
	Gather *Gather `yaml:"gather,omitempty" json:"gather,omitempty"`
}

// Field is one field of a campaign's schema.
type Field struct {
	Type     string `yaml:"type" json:"type"`
	Required bool   `yaml:"required,omitempty" json:"required,omitempty"`
	// PII fields are never sent in pings.
	PII       bool     `yaml:"pii,omitempty" json:"pii,omitempty"`
	Min       *float64 `yaml:"min,omitempty" json:"min,omitempty"`
	Max       *float64 `yaml:"max,omitempty" json:"max,omitempty"`
	MaxLength int      `yaml:"max_length,omitempty" json:"max_length,omitempty"`
	// Values are the allowed values of an enum field.
	Values []string `yaml:"values,omitempty" json:"values,omitempty"`
}

// Dedupe says which fields make a lead a duplicate of an earlier one. Each
// listed field is a key of its own: a lead is a duplicate when any of its
// values for those fields was seen in the campaign within the window.
type Dedupe struct {
	Fields []string `yaml:"fields,omitempty" json:"fields,omitempty"`
	Window Duration `yaml:"window,omitempty" json:"window,omitempty"`
}

// Ping configures a ping-post auction.
type Ping struct {
	// Timeout is the auction's deadline: bids later than it are ignored.
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// Floor is the lowest bid the campaign sells at.
	Floor money.Amount `yaml:"floor,omitempty" json:"floor,omitempty"`
	// BidTTL is how long bids stay valid: a rejected post cascades to the
	// next bid without pinging again within it (default 30 s).
	BidTTL Duration `yaml:"bid_ttl,omitempty" json:"bid_ttl,omitempty"`
	// Margin is what the agency keeps of a bid quoted to a seller's ping
	// (POST /v1/pings): the seller is quoted the bid less the margin.
	Margin Margin `yaml:"margin,omitempty" json:"margin,omitempty"`
}

// PingResponse says where a buyer's ping answer holds its bid and bid id,
// for answers not shaped {"bid": 12.5, "bid_id": "..."}.
type PingResponse struct {
	Bid   *Rule `yaml:"bid,omitempty" json:"bid,omitempty"`
	BidID *Rule `yaml:"bid_id,omitempty" json:"bid_id,omitempty"`
}

// RateLimits are the agency's per-source rates, requests a second, for
// the sources that set none of their own (0: limits.DefaultLeadRate and
// limits.DefaultPingRate). Every source has a rate: there is no "none".
type RateLimits struct {
	Leads int `yaml:"leads,omitempty" json:"leads,omitempty"`
	Pings int `yaml:"pings,omitempty" json:"pings,omitempty"`
}

// Source is a seller of leads: a traffic source with its API key.
type Source struct {
	ID        string   `yaml:"id" json:"id"`
	Campaigns []string `yaml:"campaigns" json:"campaigns"`
	// APIKeySHA256 is the hex SHA-256 of the source's API key; the key
	// itself is never stored.
	APIKeySHA256 string `yaml:"api_key_sha256" json:"api_key_sha256"`
	Payout       Payout `yaml:"payout,omitempty" json:"payout,omitempty"`
	// RateLimit caps the leads a source may post a second, every post
	// counted: accepted, refused or duplicate (0: the agency's
	// rate_limits.leads; package ratelimit counts them).
	RateLimit int `yaml:"rate_limit,omitempty" json:"rate_limit,omitempty"`
	// PingRateLimit caps the pings a source may send a second (0: the
	// agency's rate_limits.pings).
	PingRateLimit int    `yaml:"ping_rate_limit,omitempty" json:"ping_rate_limit,omitempty"`
	Status        string `yaml:"status,omitempty" json:"status,omitempty"`
	// Clawback takes the payout of a returned sale back from the source.
	Clawback bool `yaml:"clawback,omitempty" json:"clawback,omitempty"`
	// PostbackURL is called (best effort) when a lead of the source is
	// sold or ends unsold or rejected, signed with PostbackSecret.
	PostbackURL    string `yaml:"postback_url,omitempty" json:"postback_url,omitempty"`
	PostbackSecret string `yaml:"postback_secret,omitempty" json:"postback_secret,omitempty"`
	// PingMargin replaces the campaign's ping.margin for this source.
	PingMargin *Margin `yaml:"ping_margin,omitempty" json:"ping_margin,omitempty"`
	// RejectBelow refuses (400 low_score) a lead of this source whose
	// rule score (its signals) is under it; 0 accepts every lead, scored.
	RejectBelow int `yaml:"reject_below,omitempty" json:"reject_below,omitempty"`
	// PausedBy is "feedback" when the feedback loop paused the source (it
	// restores only what it paused); an operator's resume clears it.
	PausedBy string `yaml:"paused_by,omitempty" json:"paused_by,omitempty"`
	// PausedSubIDs are the source's sub-ids the feedback loop paused:
	// their leads are refused (403 sub_id_paused).
	PausedSubIDs []string `yaml:"paused_sub_ids,omitempty" json:"paused_sub_ids,omitempty"`
	// FeedbackExempt keeps the feedback loop's hands off the source.
	FeedbackExempt bool `yaml:"feedback_exempt,omitempty" json:"feedback_exempt,omitempty"`
	// Numbers are the phone numbers (E.164) whose inbound calls are this
	// source's, for its call campaign (calls.go).
	Numbers []string `yaml:"numbers,omitempty" json:"numbers,omitempty"`
}

// Payout types.
const (
	PayoutFixed    = "fixed"
	PayoutRevshare = "revshare"
)

// Payout is what a source is paid for a sold lead.
type Payout struct {
	Type    string       `yaml:"type,omitempty" json:"type,omitempty"`
	Amount  money.Amount `yaml:"amount,omitempty" json:"amount,omitempty"`
	Percent float64      `yaml:"percent,omitempty" json:"percent,omitempty"`
	// On is when a source of calls is paid: PayOnBillable (the default)
	// or PayOnConnected (calls.go).
	On string `yaml:"on,omitempty" json:"on,omitempty"`
}

// Statuses of campaigns, sources, buyers and orders.
const (
	StatusActive = "active"
	StatusPaused = "paused"
)

// Buyer buys leads through its orders.
type Buyer struct {
	ID           string `yaml:"id" json:"id"`
	APIKeySHA256 string `yaml:"api_key_sha256,omitempty" json:"api_key_sha256,omitempty"`
	Status       string `yaml:"status,omitempty" json:"status,omitempty"`
	// Timezone is the IANA zone the buyer's caps are counted in (default UTC).
	Timezone string   `yaml:"timezone,omitempty" json:"timezone,omitempty"`
	Delivery Delivery `yaml:"delivery" json:"delivery"`
	// Caps across all of the buyer's orders.
	Caps Caps `yaml:"caps,omitempty" json:"caps,omitempty"`
	// Notify tells the buyer's team about its leads (optional).
	Notify Notify `yaml:"notify,omitempty" json:"notify,omitempty"`
	// Billing is how the buyer pays: a prepaid balance or Stripe invoices
	// (billing.go).
	Billing BuyerBilling `yaml:"billing,omitempty" json:"billing,omitempty"`
	Orders  []Order      `yaml:"orders" json:"orders"`
}

// Notify is where a buyer's notifications go: a Slack incoming webhook
// is told when a lead is sold to the buyer and when its deliveries are
// paused by the circuit breaker.
type Notify struct {
	SlackURL string `yaml:"slack_url,omitempty" json:"slack_url,omitempty"`
}

// Order is a buyer's standing order for leads of one campaign.
type Order struct {
	// ID names the order within its buyer; it defaults to the campaign id.
	ID       string       `yaml:"id,omitempty" json:"id,omitempty"`
	Campaign string       `yaml:"campaign" json:"campaign"`
	Price    money.Amount `yaml:"price,omitempty" json:"price,omitempty"`
	PingURL  string       `yaml:"ping_url,omitempty" json:"ping_url,omitempty"`
	// PingResponse reads bids of other shapes than the default.
	PingResponse *PingResponse `yaml:"ping_response,omitempty" json:"ping_response,omitempty"`
	// MinBid is the lowest bid of this order that takes part in an auction.
	MinBid money.Amount `yaml:"min_bid,omitempty" json:"min_bid,omitempty"`
	// BidAdjustment multiplies the order's bids for ranking only (0.8 for
	// a buyer whose leads often come back); the price paid is the bid.
	BidAdjustment float64 `yaml:"bid_adjustment,omitempty" json:"bid_adjustment,omitempty"`
	// ScoreAdjustments replace BidAdjustment for leads scored at least
	// their min_score (the highest one reached applies): a buyer's bid can
	// count for more on the leads it values.
	ScoreAdjustments []ScoreAdjustment `yaml:"score_adjustments,omitempty" json:"score_adjustments,omitempty"`
	// MinScore makes a lead scored under it ineligible for the order.
	MinScore int       `yaml:"min_score,omitempty" json:"min_score,omitempty"`
	Priority int       `yaml:"priority,omitempty" json:"priority,omitempty"`
	Weight   int       `yaml:"weight,omitempty" json:"weight,omitempty"`
	Filters  []Filter  `yaml:"filters,omitempty" json:"filters,omitempty"`
	Schedule *Schedule `yaml:"schedule,omitempty" json:"schedule,omitempty"`
	Caps     Caps      `yaml:"caps,omitempty" json:"caps,omitempty"`
	// Dedupe refuses a lead whose listed fields (phone, email) this buyer
	// already bought within the window, whatever the campaign dedupe says.
	Dedupe *Dedupe `yaml:"dedupe,omitempty" json:"dedupe,omitempty"`
	// ReturnWindow is how long after the sale the buyer may return the lead.
	ReturnWindow Duration `yaml:"return_window,omitempty" json:"return_window,omitempty"`
	Status       string   `yaml:"status,omitempty" json:"status,omitempty"`
	// Demoted holds the priority and weight the feedback loop lowered, to
	// be put back when the order's acceptance recovers.
	Demoted *Demotion `yaml:"demoted,omitempty" json:"demoted,omitempty"`
	// FeedbackExempt keeps the feedback loop's hands off the order.
	FeedbackExempt bool `yaml:"feedback_exempt,omitempty" json:"feedback_exempt,omitempty"`
}

// ScoreAdjustment multiplies an order's bids by Factor, for ranking, on
// leads scored MinScore or more.
type ScoreAdjustment struct {
	MinScore int     `yaml:"min_score" json:"min_score"`
	Factor   float64 `yaml:"factor" json:"factor"`
}

// Demotion is what an order's priority and weight were before the feedback
// loop demoted it.
type Demotion struct {
	Priority int `yaml:"priority" json:"priority"`
	Weight   int `yaml:"weight" json:"weight"`
}

// Filter operators.
const (
	OpEq         = "eq"
	OpNe         = "ne"
	OpIn         = "in"
	OpNotIn      = "not_in"
	OpGt         = "gt"
	OpGte        = "gte"
	OpLt         = "lt"
	OpLte        = "lte"
	OpExists     = "exists"
	OpContains   = "contains"
	OpStartsWith = "starts_with"
	OpRegex      = "regex"
	OpBetween    = "between"
)

// FilterOps lists every filter operator.
var FilterOps = []string{OpEq, OpNe, OpIn, OpNotIn, OpGt, OpGte, OpLt, OpLte, OpExists, OpContains, OpStartsWith, OpRegex, OpBetween}

// Filter is one condition on a lead that an order requires.
type Filter struct {
	Field string `yaml:"field" json:"field"`
	Op    string `yaml:"op" json:"op"`
	Value any    `yaml:"value,omitempty" json:"value,omitempty"`
}

// Schedule is when an order takes leads, in its own timezone.
type Schedule struct {
	Timezone string   `yaml:"timezone,omitempty" json:"timezone,omitempty"`
	Days     []string `yaml:"days,omitempty" json:"days,omitempty"`
	// Hours is one range "08:00-18:00" or several separated by commas
	// "08:00-12:00,13:00-18:00"; a range may pass midnight "22:00-02:00".
	Hours string `yaml:"hours,omitempty" json:"hours,omitempty"`
	// Holidays are dates (YYYY-MM-DD) on which the order takes nothing.
	Holidays []string `yaml:"holidays,omitempty" json:"holidays,omitempty"`
}

// Caps bound how many leads (and how much money) an order or a buyer takes
// per period. Zero means no cap.
type Caps struct {
	Hourly        int          `yaml:"hourly,omitempty" json:"hourly,omitempty"`
	Daily         int          `yaml:"daily,omitempty" json:"daily,omitempty"`
	Weekly        int          `yaml:"weekly,omitempty" json:"weekly,omitempty"`
	Monthly       int          `yaml:"monthly,omitempty" json:"monthly,omitempty"`
	DailyBudget   money.Amount `yaml:"daily_budget,omitempty" json:"daily_budget,omitempty"`
	MonthlyBudget money.Amount `yaml:"monthly_budget,omitempty" json:"monthly_budget,omitempty"`
}

// IsZero reports whether no cap is set.
func (c Caps) IsZero() bool { return c == Caps{} }

// Defaults applied by Parse.
const (
	DefaultPingTimeout    = time.Second
	DefaultDeliveryTimout = 5 * time.Second
	DefaultMaxAttempts    = 5
	DefaultBidTTL         = 30 * time.Second
)

// Lower bounds of timeouts; the upper bounds are deployment limits (package
// limits: MaxDeliveryTimeout, MaxPingTimeout).
const (
	MinDeliveryTimeout = 100 * time.Millisecond
	MinPingTimeout     = 50 * time.Millisecond
)
