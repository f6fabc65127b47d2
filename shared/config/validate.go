package config

import (
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/leadrelay/leadrelay/shared/limits"
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// DerivedFields are values a filter may use that are not fields of the
// lead: its score, its age in minutes, its source, and the hour (0-23) and
// weekday (mon..sun) in the buyer's timezone.
var DerivedFields = []string{"score", "age", "source", "hour", "weekday"}

// ReservedFields may not be declared by a campaign: they carry the lead's
// envelope in form posts.
var ReservedFields = []string{"campaign", "external_id", "redirect", "test", "ping_id", "bid_id"}

var weekdays = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

func (c *Config) applyDefaults() {
	if c.Timezone == "" {
		c.Timezone = "UTC"
	}
	for i := range c.Campaigns {
		cp := &c.Campaigns[i]
		if cp.Distribution == "" {
			cp.Distribution = Waterfall
		}
		if cp.MaxSales == 0 {
			cp.MaxSales = 1
		}
		if cp.Status == "" {
			cp.Status = StatusActive
		}
		if cp.Ping.Timeout == 0 {
			cp.Ping.Timeout = Duration(DefaultPingTimeout)
		}
		if cp.Ping.BidTTL == 0 {
			cp.Ping.BidTTL = Duration(DefaultBidTTL)
		}
		if len(cp.Dedupe.Fields) > 0 && cp.Dedupe.Window == 0 {
			cp.Dedupe.Window = Duration(30 * 24 * time.Hour)
		}
	}
	for i := range c.Sources {
		s := &c.Sources[i]
		s.APIKeySHA256 = strings.ToLower(s.APIKeySHA256)
		if s.Payout.Type == "" {
			s.Payout.Type = PayoutFixed
		}
		if s.Status == "" {
			s.Status = StatusActive
		}
		if s.Status == StatusActive {
			s.PausedBy = "" // resumed: by an operator, or by the loop itself
		}
	}
	for i := range c.Buyers {
		b := &c.Buyers[i]
		b.APIKeySHA256 = strings.ToLower(b.APIKeySHA256)
		if b.Status == "" {
			b.Status = StatusActive
		}
		if b.Timezone == "" {
			b.Timezone = "UTC"
		}
		if b.Delivery.Type == "" {
			b.Delivery.Type = DeliveryWebhook
		}
		if b.Delivery.Type == DeliveryWebhook && b.Delivery.Format == "" {
			b.Delivery.Format = "json"
		}
		if b.Delivery.Timeout == 0 {
			b.Delivery.Timeout = Duration(DefaultDeliveryTimout)
		}
		if b.Delivery.MaxAttempts == 0 {
			b.Delivery.MaxAttempts = DefaultMaxAttempts
		}
		for j := range b.Orders {
			o := &b.Orders[j]
			if o.ID == "" {
				o.ID = o.Campaign
			}
			if o.Priority == 0 {
				o.Priority = 1
			}
			if o.Weight == 0 {
				o.Weight = 1
			}
			if o.BidAdjustment == 0 {
				o.BidAdjustment = 1
			}
			if o.Status == "" {
				o.Status = StatusActive
			}
		}
	}
}

type checker struct{ probs []Problem }

func (k *checker) add(path, code, format string, args ...any) {
	k.probs = append(k.probs, Problem{Field: path, Code: code, Message: fmt.Sprintf(format, args...)})
}

// ReservedBuyerID is the word of the admin API's paths under
// /v1/admin/buyers/ that a buyer id would collide with
// (GET /v1/admin/buyers/health).
const ReservedBuyerID = "health"

func (k *checker) id(path, id string, seen map[string]bool, kind string) {
	switch {
	case id == "":
		k.add(path, CodeRequired, "%s id is required", kind)
	case !idPattern.MatchString(id):
		k.add(path, CodeInvalid, "%s id %q: use letters, digits, '.', '_' and '-' (at most 64)", kind, id)
	case seen[id]:
		k.add(path, CodeDuplicate, "%s id %q is used twice", kind, id)
	}
	seen[id] = true
}

func (k *checker) status(path, s string) {
	if s != StatusActive && s != StatusPaused {
		k.add(path, CodeInvalid, "status %q: want active or paused", s)
	}
}

func (k *checker) timezone(path, tz string) {
	if _, err := time.LoadLocation(tz); err != nil {
		k.add(path, CodeInvalid, "timezone %q is not an IANA zone such as America/New_York", tz)
	}
}

func (k *checker) caps(path string, c Caps) {
	for name, v := range map[string]int{"hourly": c.Hourly, "daily": c.Daily, "weekly": c.Weekly, "monthly": c.Monthly} {
		if v < 0 {
			k.add(path+"."+name, CodeInvalid, "cap must not be negative")
		}
	}
	if c.DailyBudget < 0 {
		k.add(path+".daily_budget", CodeInvalid, "budget must not be negative")
	}
	if c.MonthlyBudget < 0 {
		k.add(path+".monthly_budget", CodeInvalid, "budget must not be negative")
	}
}

// rate checks a per-source rate: 0 (the default) up to the API's own
// limit for the route it counts.
func (k *checker) rate(path string, rate, most int, route string) {
	switch {
	case rate < 0:
		k.add(path, CodeInvalid, "a rate must not be negative (0: the default)")
	case rate > most:
		k.add(path, CodeInvalid, "a rate of at most %d a second: the API takes no more than that on %s", most, route)
	}
}

func (c *Config) validate() []Problem {
	k := &checker{}
	campaigns := map[string]*Campaign{}
	seen := map[string]bool{}
	for i := range c.Campaigns {
		cp := &c.Campaigns[i]
		p := fmt.Sprintf("campaigns[%d]", i)
		k.id(p+".id", cp.ID, seen, "campaign")
		campaigns[cp.ID] = cp
		k.campaign(p, cp)
		k.scoring(p, cp)
	}
	k.feedback(c.Feedback)
	k.money(c)
	k.pingMargins(c)
	k.rate("rate_limits.leads", c.RateLimits.Leads, limits.LeadsRouteRate, "POST /v1/leads")
	k.rate("rate_limits.pings", c.RateLimits.Pings, limits.PingsRouteRate, "POST /v1/pings")
	keys := map[string]string{}
	seen = map[string]bool{}
	for i := range c.Sources {
		s := &c.Sources[i]
		p := fmt.Sprintf("sources[%d]", i)
		k.id(p+".id", s.ID, seen, "source")
		k.status(p+".status", s.Status)
		if len(s.Campaigns) == 0 {
			k.add(p+".campaigns", CodeRequired, "a source needs at least one campaign")
		}
		for j, cid := range s.Campaigns {
			if campaigns[cid] == nil {
				k.add(fmt.Sprintf("%s.campaigns[%d]", p, j), CodeReference, "unknown campaign %q", cid)
			}
		}
		// A source of calls only (numbers) may have no API key.
		k.keyHash(p+".api_key_sha256", s.APIKeySHA256, len(s.Numbers) == 0, keys, "source "+s.ID)
		switch s.Payout.Type {
		case PayoutFixed:
			if s.Payout.Amount < 0 {
				k.add(p+".payout.amount", CodeInvalid, "payout must not be negative")
			}
		case PayoutRevshare:
			if s.Payout.Percent <= 0 || s.Payout.Percent > 100 {
				k.add(p+".payout.percent", CodeInvalid, "revshare percent must be above 0 and at most 100")
			}
		default:
			k.add(p+".payout.type", CodeInvalid, "payout type %q: want fixed or revshare", s.Payout.Type)
		}
		k.rate(p+".rate_limit", s.RateLimit, limits.LeadsRouteRate, "POST /v1/leads")
		k.rate(p+".ping_rate_limit", s.PingRateLimit, limits.PingsRouteRate, "POST /v1/pings")
		k.sourceLoopState(p, s)
	}
	seen = map[string]bool{}
	for i := range c.Buyers {
		b := &c.Buyers[i]
		p := fmt.Sprintf("buyers[%d]", i)
		k.id(p+".id", b.ID, seen, "buyer")
		if b.ID == ReservedBuyerID {
			k.add(p+".id", CodeInvalid, "buyer id %q is reserved: GET /v1/admin/buyers/%s is the admin API's own page", b.ID, b.ID)
		}
		k.status(p+".status", b.Status)
		k.timezone(p+".timezone", b.Timezone)
		k.keyHash(p+".api_key_sha256", b.APIKeySHA256, false, keys, "buyer "+b.ID)
		k.delivery(p+".delivery", b.Delivery)
		if !isSecretToken(b.Notify.SlackURL) {
			k.url(p+".notify.slack_url", b.Notify.SlackURL, false)
		}
		k.caps(p+".caps", b.Caps)
		orderIDs := map[string]bool{}
		for j := range b.Orders {
			k.order(fmt.Sprintf("%s.orders[%d]", p, j), &b.Orders[j], campaigns, orderIDs)
		}
	}
	k.integrations(c, campaigns)
	k.calls(c, campaigns)
	k.billing(c)
	for _, sec := range Secrets(c) {
		if v := *sec.Value; IsSecretRef(v) && (!strings.HasPrefix(v, SecretRefPrefix+"/") || strings.ContainsAny(v, " \t\n")) {
			k.add(sec.Path, CodeInvalid, "an ssm: reference names an SSM parameter by its full path: ssm:/path/name")
		}
	}
	return k.probs
}

func (k *checker) keyHash(path, h string, required bool, seen map[string]string, owner string) {
	if h == "" {
		if required {
			k.add(path, CodeRequired, "api_key_sha256 is required (hex SHA-256 of the key)")
		}
		return
	}
	if b, err := hex.DecodeString(h); err != nil || len(b) != 32 {
		k.add(path, CodeInvalid, "api_key_sha256 must be 64 hex digits (the SHA-256 of the key)")
		return
	}
	if other, ok := seen[h]; ok {
		k.add(path, CodeDuplicate, "the same API key is already used by %s", other)
		return
	}
	seen[h] = owner
}

func (k *checker) campaign(p string, cp *Campaign) {
	k.status(p+".status", cp.Status)
	if len(cp.Fields) == 0 {
		k.add(p+".fields", CodeRequired, "a campaign needs at least one field")
	}
	for _, name := range sortedKeys(cp.Fields) {
		f := cp.Fields[name]
		fp := p + ".fields." + name
		if !idPattern.MatchString(name) {
			k.add(fp, CodeInvalid, "field name %q: use letters, digits, '.', '_' and '-'", name)
		}
		if slices.Contains(ReservedFields, name) || slices.Contains(DerivedFields, name) && name != "age" {
			k.add(fp, CodeInvalid, "field name %q is reserved", name)
		}
		if !slices.Contains(FieldTypes, f.Type) {
			k.add(fp+".type", CodeInvalid, "type %q: want one of %s", f.Type, strings.Join(FieldTypes, ", "))
		}
		if f.Type == TypeEnum && len(f.Values) == 0 {
			k.add(fp+".values", CodeRequired, "an enum field needs values")
		}
		if f.Min != nil && f.Max != nil && *f.Min > *f.Max {
			k.add(fp+".min", CodeInvalid, "min is above max")
		}
		if f.MaxLength < 0 {
			k.add(fp+".max_length", CodeInvalid, "max_length must not be negative")
		}
	}
	for j, name := range cp.Dedupe.Fields {
		if _, ok := cp.Fields[name]; !ok {
			k.add(fmt.Sprintf("%s.dedupe.fields[%d]", p, j), CodeReference, "dedupe names unknown field %q", name)
		}
	}
	if !slices.Contains([]string{Waterfall, RoundRobin, Weighted, PingPost}, cp.Distribution) {
		k.add(p+".distribution", CodeInvalid, "distribution %q: want waterfall, round_robin, weighted or ping_post", cp.Distribution)
	}
	if cp.MaxSales < 1 || cp.MaxSales > 20 {
		k.add(p+".max_sales", CodeInvalid, "max_sales must be 1 to 20")
	}
	if cp.Ping.Floor < 0 {
		k.add(p+".ping.floor", CodeInvalid, "floor must not be negative")
	}
	if t := cp.Ping.Timeout.D(); t < MinPingTimeout || t > limits.MaxPingTimeout {
		k.add(p+".ping.timeout", CodeInvalid, "ping timeout must be %s to %s (the ping function's timeout is %s)",
			MinPingTimeout, limits.MaxPingTimeout, seconds(limits.PingFunctionTimeout))
	}
	if t := cp.Ping.BidTTL.D(); t < time.Second || t > time.Hour {
		k.add(p+".ping.bid_ttl", CodeInvalid, "bid_ttl must be 1s to 1h")
	}
}

// seconds writes a function timeout the way the docs do: "60s", not "1m0s".
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}

func (k *checker) url(p, raw string, required bool) {
	if raw == "" {
		if required {
			k.add(p, CodeRequired, "a URL is required")
		}
		return
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		k.add(p, CodeInvalid, "%q is not an http(s) URL", raw)
	}
}

func (k *checker) order(p string, o *Order, campaigns map[string]*Campaign, ids map[string]bool) {
	cp := campaigns[o.Campaign]
	if cp == nil {
		k.add(p+".campaign", CodeReference, "unknown campaign %q", o.Campaign)
	}
	k.id(p+".id", o.ID, ids, "order")
	k.status(p+".status", o.Status)
	k.score(p+".min_score", o.MinScore)
	for i, a := range o.ScoreAdjustments {
		ap := fmt.Sprintf("%s.score_adjustments[%d]", p, i)
		k.score(ap+".min_score", a.MinScore)
		if a.Factor <= 0 || a.Factor > 10 {
			k.add(ap+".factor", CodeInvalid, "factor must be above 0 and at most 10")
		}
	}
	if d := o.Demoted; d != nil && (d.Priority < 0 || d.Weight < 0) {
		k.add(p+".demoted", CodeInvalid, "demoted holds the order's priority and weight before the feedback loop lowered them: not negative")
	}
	k.url(p+".ping_url", o.PingURL, false)
	if o.Price < 0 {
		k.add(p+".price", CodeInvalid, "price must not be negative")
	}
	if o.Price == 0 && o.PingURL == "" {
		k.add(p+".price", CodeRequired, "an order needs a price or a ping_url")
	}
	if o.PingURL != "" && cp != nil && cp.Distribution != PingPost {
		k.add(p+".ping_url", CodeInvalid, "ping_url needs a ping_post campaign")
	}
	if o.MinBid < 0 {
		k.add(p+".min_bid", CodeInvalid, "min_bid must not be negative")
	}
	if o.BidAdjustment <= 0 || o.BidAdjustment > 10 {
		k.add(p+".bid_adjustment", CodeInvalid, "bid_adjustment must be above 0 and at most 10")
	}
	if pr := o.PingResponse; pr != nil {
		if o.PingURL == "" {
			k.add(p+".ping_response", CodeInvalid, "ping_response needs a ping_url")
		}
		for name, r := range map[string]*Rule{"bid": pr.Bid, "bid_id": pr.BidID} {
			if r != nil && boolCount(r.JSON != "", r.XML != "", r.Regex != "") != 1 {
				k.add(p+".ping_response."+name, CodeInvalid, "give exactly one of json, xml or regex")
			} else if r != nil && r.Regex != "" {
				if _, err := regexp.Compile(r.Regex); err != nil {
					k.add(p+".ping_response."+name, CodeInvalid, "regex does not compile: %v", err)
				}
			}
		}
	}
	if o.Priority < 0 {
		k.add(p+".priority", CodeInvalid, "priority must not be negative")
	}
	if o.Weight < 0 {
		k.add(p+".weight", CodeInvalid, "weight must not be negative")
	}
	k.caps(p+".caps", o.Caps)
	if o.Dedupe != nil && cp != nil {
		for j, name := range o.Dedupe.Fields {
			if _, ok := cp.Fields[name]; !ok {
				k.add(fmt.Sprintf("%s.dedupe.fields[%d]", p, j), CodeReference, "dedupe names unknown field %q", name)
			}
		}
		if o.Dedupe.Window == 0 {
			k.add(p+".dedupe.window", CodeRequired, "buyer dedupe needs a window such as 30d")
		}
	}
	for j, f := range o.Filters {
		k.filter(fmt.Sprintf("%s.filters[%d]", p, j), f, cp)
	}
	if s := o.Schedule; s != nil {
		if s.Timezone != "" {
			k.timezone(p+".schedule.timezone", s.Timezone)
		}
		for j, d := range s.Days {
			if !slices.Contains(weekdays, strings.ToLower(d)) {
				k.add(fmt.Sprintf("%s.schedule.days[%d]", p, j), CodeInvalid, "day %q: want mon, tue, wed, thu, fri, sat or sun", d)
			}
		}
		if _, err := ParseHours(s.Hours); err != nil {
			k.add(p+".schedule.hours", CodeInvalid, "%v", err)
		}
		for j, h := range s.Holidays {
			if _, err := time.Parse(time.DateOnly, h); err != nil {
				k.add(fmt.Sprintf("%s.schedule.holidays[%d]", p, j), CodeInvalid, "holiday %q: want YYYY-MM-DD", h)
			}
		}
	}
}

func (k *checker) filter(p string, f Filter, cp *Campaign) {
	if f.Field == "" {
		k.add(p+".field", CodeRequired, "a filter needs a field")
	} else if cp != nil && !slices.Contains(DerivedFields, f.Field) {
		if _, ok := cp.Fields[f.Field]; !ok {
			k.add(p+".field", CodeReference, "filter names field %q, which campaign %q does not have", f.Field, cp.ID)
		}
	}
	switch f.Op {
	case OpStartsWith:
		switch v := f.Value.(type) {
		case nil:
			k.add(p+".value", CodeRequired, "starts_with needs a prefix or a list of prefixes")
		case map[string]any:
			k.add(p+".value", CodeInvalid, "starts_with needs a prefix or a list of prefixes")
		case []any:
			if len(v) == 0 {
				k.add(p+".value", CodeInvalid, "starts_with needs at least one prefix")
			}
		}
	case OpIn, OpNotIn:
		if _, ok := f.Value.([]any); !ok {
			k.add(p+".value", CodeInvalid, "%s needs a list value", f.Op)
		}
	case OpBetween:
		if l, ok := f.Value.([]any); !ok || len(l) != 2 {
			k.add(p+".value", CodeInvalid, "between needs a list of two values [low, high]")
		}
	case OpExists:
		if f.Value != nil {
			if _, ok := f.Value.(bool); !ok {
				k.add(p+".value", CodeInvalid, "exists takes true or false")
			}
		}
	case OpRegex:
		s, ok := f.Value.(string)
		if !ok {
			k.add(p+".value", CodeInvalid, "regex needs a string value")
		} else if _, err := regexp.Compile(s); err != nil {
			k.add(p+".value", CodeInvalid, "regex does not compile: %v", err)
		}
	case OpEq, OpNe, OpGt, OpGte, OpLt, OpLte, OpContains:
		switch f.Value.(type) {
		case nil:
			k.add(p+".value", CodeRequired, "%s needs a value", f.Op)
		case []any, map[string]any:
			k.add(p+".value", CodeInvalid, "%s needs a single value", f.Op)
		}
	default:
		k.add(p+".op", CodeInvalid, "op %q: want one of %s", f.Op, strings.Join(FilterOps, ", "))
	}
}

func boolCount(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
