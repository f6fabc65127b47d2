package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
)

// The synthetic market. Every lead's chance of a good outcome is a known
// function of what it is (truth), so the eval can say how well any score
// could possibly rank the leads (the best AUC) and how close the model and
// the rule score come.
//
// What makes a lead good, in log-odds (truth):
//
//	base                                  -0.6
//	source quality (sourceSpecs)          -1.6 to +0.9
//	sub-id                                drawn per sub-id, sd 0.4;
//	                                      -1.8 for the bad ones
//	state                                 drawn per state, sd 0.45
//	local hour: 00-05 / 18-23 / 09-17     -1.0 / -0.2 / +0.2
//	weekend                               -0.2
//	email: corporate / none / disposable  +0.3 / -0.6 / -1.8
//	phone: toll-free / premium / other /  -1.5 / -2.0 / -1.2 /
//	       none                           -1.8
//	completeness f (share of fields)      2.5*(f-0.85)
//	consent certificate                   +0.5
//	credit: excellent/good/fair/poor      +1.1 / +0.4 / -0.4 / -1.2
//	home owner                            +0.6
//	currently insured                     +0.5
//	a consumer's second request (shops)   +0.3 on the first's
//
// and a lead from a fraud ring is good with probability 0.02, whatever it
// shows. Fraud rings reuse a small pool of phones, emails and IPs across
// the sources they work through (and fake consent), so their leads show
// high velocity across sources.

// sourceSpec describes one source of the market.
type sourceSpec struct {
	name string
	// share of the leads, cost per lead paid to the source.
	share float64
	cost  float64
	// quality is the source's effect on a lead's log-odds.
	quality float64
	// subs are the source's sub-ids; bad ones carry badSub's effect and
	// ring leads.
	subs []string
	bad  []string
	// ring is the chance that a lead of the source (of a bad sub-id:
	// badRing) comes from a fraud ring.
	ring, badRing float64
	// fill is the chance that each optional field is filled in; consent
	// the chance of a consent certificate; disposable and noEmail the
	// chances of a disposable or missing address; badPhone of a
	// toll-free, premium-rate or other special number; night of a lead
	// sent between midnight and six.
	fill, consent, disposable, noEmail, badPhone, night float64
}

// badSub is a bad sub-id's effect on a lead's log-odds.
const badSub = -1.8

// sourceSpecs are the market's sources.
func sourceSpecs() []sourceSpec {
	return []sourceSpec{
		{name: "search", share: 0.20, cost: 15, quality: 0.9, subs: []string{"brand", "generic"},
			ring: 0.002, fill: 0.95, consent: 0.92, disposable: 0.005, noEmail: 0.01, badPhone: 0.01, night: 0.03},
		{name: "social", share: 0.25, cost: 10, quality: 0.1, subs: []string{"fb1", "fb2", "fb3", "ig1"}, bad: []string{"ig1"},
			ring: 0.01, badRing: 0.15, fill: 0.85, consent: 0.85, disposable: 0.02, noEmail: 0.03, badPhone: 0.03, night: 0.06},
		{name: "aff_alpha", share: 0.20, cost: 9, quality: -0.1, subs: subIDs("a", 16), bad: []string{"a07", "a13"},
			ring: 0.01, badRing: 0.35, fill: 0.8, consent: 0.7, disposable: 0.04, noEmail: 0.04, badPhone: 0.05, night: 0.08},
		{name: "aff_beta", share: 0.13, cost: 8, quality: -1.6, subs: subIDs("b", 6),
			ring: 0.25, fill: 0.75, consent: 0.6, disposable: 0.08, noEmail: 0.06, badPhone: 0.08, night: 0.15},
		{name: "coreg", share: 0.12, cost: 4, quality: -0.8, subs: []string{"path1", "path2"},
			ring: 0.01, fill: 0.5, consent: 0.4, disposable: 0.05, noEmail: 0.15, badPhone: 0.06, night: 0.08},
		{name: "email", share: 0.10, cost: 5, quality: -0.4,
			ring: 0.01, fill: 0.7, consent: 0.5, disposable: 0.03, noEmail: 0.02, badPhone: 0.05, night: 0.1},
	}
}

func subIDs(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%02d", prefix, i+1)
	}
	return out
}

// stateSpec is a state the market's consumers live in: its share of them
// and its UTC offset (standard time; the simulation ignores summer time).
type stateSpec struct {
	code   string
	share  float64
	offset int
}

func stateSpecs() []stateSpec {
	return []stateSpec{
		{"CA", 12, -8}, {"TX", 9, -6}, {"FL", 7, -5}, {"NY", 6, -5}, {"PA", 4, -5}, {"IL", 4, -6},
		{"OH", 3.5, -5}, {"GA", 3.3, -5}, {"NC", 3.2, -5}, {"MI", 3, -5}, {"NJ", 2.8, -5}, {"VA", 2.6, -5},
		{"WA", 2.3, -8}, {"AZ", 2.2, -7}, {"MA", 2.1, -5}, {"TN", 2.1, -6}, {"IN", 2, -5}, {"MO", 1.8, -6},
		{"MD", 1.8, -5}, {"WI", 1.8, -6}, {"CO", 1.8, -7}, {"MN", 1.7, -6}, {"SC", 1.6, -5}, {"AL", 1.5, -6},
		{"LA", 1.4, -6}, {"KY", 1.4, -5}, {"OR", 1.3, -8}, {"OK", 1.2, -6}, {"NV", 1, -8}, {"UT", 1, -7},
	}
}

// campaign is the market's campaign: auto insurance.
func campaign() *config.Campaign {
	return &config.Campaign{
		ID: "auto_insurance",
		Fields: map[string]config.Field{
			"first_name":           {Type: config.TypeString, Required: true},
			"last_name":            {Type: config.TypeString},
			"email":                {Type: config.TypeEmail},
			"phone":                {Type: config.TypePhone},
			"address":              {Type: config.TypeString},
			"state":                {Type: config.TypeUSState, Required: true},
			"zip":                  {Type: config.TypeZip},
			"credit":               {Type: config.TypeEnum, Values: []string{"excellent", "good", "fair", "poor"}},
			"home_owner":           {Type: config.TypeEnum, Values: []string{"yes", "no"}},
			"insured":              {Type: config.TypeEnum, Values: []string{"yes", "no"}},
			"trustedform_cert_url": {Type: config.TypeString},
			"ip_address":           {Type: config.TypeString},
		},
	}
}

// optionalFields are the fields a lead may leave out, for completeness.
func optionalFields() [6]string {
	return [...]string{"last_name", "address", "zip", "credit", "home_owner", "insured"}
}

// Email classes and phone kinds the generator draws.
const (
	emailFree       = "free"
	emailCorporate  = "corporate"
	emailDisposable = "disposable"
	emailNone       = "none"

	phoneNormal  = "normal"
	phoneToll    = "toll_free"
	phonePremium = "premium_rate"
	phoneOther   = "other"
	phoneNone    = "none"
)

// lead is one generated lead: what the platform sees (fields, source, time)
// and what only the generator knows (its true probability and outcome).
type lead struct {
	id     int
	at     time.Time
	zone   *time.Location
	source int // index in sourceSpecs
	subID  string
	fields map[string]any
	phone  string
	email  string
	ip     string
	// ring is the fraud ring the lead comes from, -1 for none.
	ring int
	// p is the true probability of a good outcome; good the outcome.
	p    float64
	good bool
}

// ring is a fraud ring: a pool of identities it reuses, refreshed now and
// then, and the sources it works through.
type ring struct {
	phones, emails, ips []string
	sources             []int
}

// market generates leads.
type market struct {
	rng     *rand.Rand
	sources []sourceSpec
	states  []stateSpec
	zones   []*time.Location
	// stateEffect is each state's effect on log-odds, subEffect each
	// sub-id's ("source/sub").
	stateEffect []float64
	subEffect   map[string]float64
	rings       []ring
	// recent are recent honest leads, for consumers who ask twice.
	recent []*lead
	// fields is how many fields the campaign declares.
	fields int
}

func newMarket(seed uint64) *market {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	mk := &market{rng: rng, sources: sourceSpecs(), states: stateSpecs(), fields: len(campaign().Fields)}
	for _, s := range mk.states {
		mk.zones = append(mk.zones, time.FixedZone(fmt.Sprintf("UTC%d", s.offset), s.offset*3600))
		mk.stateEffect = append(mk.stateEffect, rng.NormFloat64()*0.45)
	}
	mk.subEffect = make(map[string]float64)
	for _, s := range mk.sources {
		for _, sub := range s.subs {
			e := rng.NormFloat64() * 0.4
			if slices.Contains(s.bad, sub) {
				e = badSub
			}
			mk.subEffect[s.name+"/"+sub] = e
		}
	}
	for i := 0; i < 5; i++ {
		r := ring{}
		// Every ring works through aff_beta and one or two others.
		r.sources = []int{3}
		for _, s := range rng.Perm(len(mk.sources))[:2] {
			if s != 3 {
				r.sources = append(r.sources, s)
			}
		}
		mk.refresh(&r)
		mk.rings = append(mk.rings, r)
	}
	return mk
}

// refresh gives a ring a new pool of identities.
func (mk *market) refresh(r *ring) {
	n := 3 + mk.rng.IntN(4)
	r.phones, r.emails, r.ips = r.phones[:0], r.emails[:0], r.ips[:0]
	for range n {
		r.phones = append(r.phones, mk.phone(phoneNormal))
		class := emailDisposable
		if mk.rng.Float64() < 0.6 {
			class = emailFree
		}
		r.emails = append(r.emails, mk.emailAddress(class))
	}
	for range 2 {
		r.ips = append(r.ips, mk.ip())
	}
}

// generate makes n leads over days days from start, in time order.
func (mk *market) generate(n, days int, start time.Time) []*lead {
	leads := make([]*lead, 0, n)
	perDay := float64(n) / float64(days)
	for d := range days {
		if d > 0 && d%7 == 0 {
			for i := range mk.rings {
				mk.refresh(&mk.rings[i])
			}
		}
		count := int(math.Round(perDay*float64(d+1))) - int(math.Round(perDay*float64(d)))
		for range count {
			l := mk.lead(start.AddDate(0, 0, d))
			leads = append(leads, l)
			if l.ring < 0 {
				mk.recent = append(mk.recent, l)
				if len(mk.recent) > 200 {
					mk.recent = mk.recent[1:]
				}
			}
		}
	}
	// A day's leads are drawn in local time: the evening's, in the west,
	// fall on the next day in UTC.
	slices.SortStableFunc(leads, func(a, b *lead) int { return a.at.Compare(b.at) })
	for i, l := range leads {
		l.id = i
	}
	return leads
}

// lead draws one lead sent on the day that starts at day (UTC).
func (mk *market) lead(day time.Time) *lead {
	src := mk.pick(func(i int) float64 { return mk.sources[i].share }, len(mk.sources))
	spec := &mk.sources[src]
	l := &lead{source: src, ring: -1}
	bad := false
	if len(spec.subs) > 0 {
		l.subID = spec.subs[mk.rng.IntN(len(spec.subs))]
		bad = slices.Contains(spec.bad, l.subID)
	}
	ringChance := spec.ring
	if bad {
		ringChance = spec.badRing
	}
	st := mk.pick(func(i int) float64 { return mk.states[i].share }, len(mk.states))
	l.zone = mk.zones[st]
	if mk.rng.Float64() < ringChance {
		return mk.ringLead(l, day, st)
	}
	if len(mk.recent) > 0 && mk.rng.Float64() < 0.04 {
		return mk.again(l, day)
	}
	z := -0.6 + spec.quality + mk.stateEffect[st] + mk.subEffect[spec.name+"/"+l.subID]
	hour := mk.hour(spec.night)
	l.at = localTime(day, l.zone, hour, mk.rng.IntN(3600))
	z += hourEffect(hour)
	if wd := l.at.In(l.zone).Weekday(); wd == time.Saturday || wd == time.Sunday {
		z -= 0.2
	}

	f := map[string]any{"first_name": mk.firstName(), "state": mk.states[st].code}
	eclass := emailFree
	switch r := mk.rng.Float64(); {
	case r < spec.disposable:
		eclass, z = emailDisposable, z-1.8
	case r < spec.disposable+spec.noEmail:
		eclass, z = emailNone, z-0.6
	case r < spec.disposable+spec.noEmail+0.15:
		eclass, z = emailCorporate, z+0.3
	}
	if eclass != emailNone {
		l.email = mk.emailAddress(eclass)
		f["email"] = l.email
	}
	pkind := phoneNormal
	if r := mk.rng.Float64(); r < spec.badPhone {
		pkind = []string{phoneToll, phonePremium, phoneOther}[mk.rng.IntN(3)]
	} else if r < spec.badPhone+0.02 {
		pkind = phoneNone
	}
	z += phoneEffect(pkind)
	if pkind != phoneNone {
		l.phone = mk.phone(pkind)
		f["phone"] = l.phone
	}
	l.ip = mk.ip()
	f["ip_address"] = l.ip
	if mk.rng.Float64() < spec.consent {
		f["trustedform_cert_url"] = mk.cert()
		z += 0.5
	}
	for _, name := range optionalFields() {
		if mk.rng.Float64() < spec.fill {
			f[name] = mk.value(name)
		}
	}
	switch f["credit"] {
	case "excellent":
		z += 1.1
	case "good":
		z += 0.4
	case "fair":
		z -= 0.4
	case "poor":
		z -= 1.2
	}
	if f["home_owner"] == "yes" {
		z += 0.6
	}
	if f["insured"] == "yes" {
		z += 0.5
	}
	z += 2.5 * (float64(len(f))/float64(mk.fields) - 0.85)
	l.fields = f
	l.p = sigmoid(z)
	l.good = mk.rng.Float64() < l.p
	return l
}

// ringLead makes l a fraud ring's lead: an identity from the ring's pool,
// sent through one of its sources at any hour, complete and with a faked
// consent certificate.
func (mk *market) ringLead(l *lead, day time.Time, st int) *lead {
	l.ring = -1
	for _, i := range mk.rng.Perm(len(mk.rings)) {
		if slices.Contains(mk.rings[i].sources, l.source) {
			l.ring = i
			break
		}
	}
	if l.ring < 0 {
		l.ring = mk.rng.IntN(len(mk.rings))
		l.source = mk.rings[l.ring].sources[0]
		l.subID = ""
		if subs := mk.sources[l.source].subs; len(subs) > 0 {
			l.subID = subs[mk.rng.IntN(len(subs))]
		}
	}
	r := &mk.rings[l.ring]
	l.at = localTime(day, l.zone, mk.rng.IntN(24), mk.rng.IntN(3600))
	l.phone = r.phones[mk.rng.IntN(len(r.phones))]
	l.email = r.emails[mk.rng.IntN(len(r.emails))]
	l.ip = r.ips[mk.rng.IntN(len(r.ips))]
	f := map[string]any{
		"first_name": mk.firstName(), "state": mk.states[st].code,
		"phone": l.phone, "email": l.email, "ip_address": l.ip, "trustedform_cert_url": mk.cert(),
	}
	for _, name := range optionalFields() {
		f[name] = mk.value(name)
	}
	l.fields = f
	l.p = 0.02
	l.good = mk.rng.Float64() < l.p
	return l
}

// again makes l a consumer's second request: a recent honest lead's
// consumer, a little likelier to buy, asking again (maybe through another
// source) a few hours later.
func (mk *market) again(l *lead, day time.Time) *lead {
	first := mk.recent[mk.rng.IntN(len(mk.recent))]
	l.zone = first.zone
	l.fields = make(map[string]any, len(first.fields))
	for k, v := range first.fields {
		l.fields[k] = v
	}
	l.phone, l.email, l.ip = first.phone, first.email, first.ip
	l.at = first.at.Add(time.Duration(1+mk.rng.IntN(6*60)) * time.Minute)
	if l.at.Before(day) {
		l.at = day.Add(time.Duration(mk.rng.IntN(86400)) * time.Second)
	}
	l.p = sigmoid(logit(first.p) + 0.3)
	l.good = mk.rng.Float64() < l.p
	return l
}

// hour draws a local hour: night with the source's chance, else the day's
// usual curve, busiest in the evening.
func (mk *market) hour(night float64) int {
	if mk.rng.Float64() < night {
		return mk.rng.IntN(6)
	}
	// The weights of the hours from 06 to 23.
	curve := [18]float64{1, 2, 4, 6, 7, 7, 7, 6, 6, 6, 6, 7, 8, 9, 9, 8, 5, 3}
	return 6 + mk.pick(func(i int) float64 { return curve[i] }, len(curve))
}

func phoneEffect(kind string) float64 {
	switch kind {
	case phoneToll:
		return -1.5
	case phonePremium:
		return -2
	case phoneOther:
		return -1.2
	case phoneNone:
		return -1.8
	}
	return 0
}

func hourEffect(h int) float64 {
	switch {
	case h < 6:
		return -1.0
	case h >= 18:
		return -0.2
	case h >= 9:
		return 0.2
	}
	return 0
}

// localTime is the instant of hour:00 plus sec seconds, local in zone, on
// the date that starts at day (UTC).
func localTime(day time.Time, zone *time.Location, hour, sec int) time.Time {
	y, m, d := day.Date()
	return time.Date(y, m, d, hour, 0, sec, 0, zone)
}

// pick draws an index in [0, n) with weights w.
func (mk *market) pick(w func(int) float64, n int) int {
	var total float64
	for i := range n {
		total += w(i)
	}
	r := mk.rng.Float64() * total
	for i := range n {
		if r -= w(i); r < 0 {
			return i
		}
	}
	return n - 1
}

func (mk *market) firstName() string {
	names := [...]string{"Ana", "Ben", "Carla", "Dev", "Ella", "Frank", "Gia", "Hugo", "Iris", "Jon"}
	return names[mk.rng.IntN(len(names))]
}

func (mk *market) emailAddress(class string) string {
	local := fmt.Sprintf("user%06d", mk.rng.IntN(1_000_000))
	var domains []string
	switch class {
	case emailCorporate:
		domains = []string{"northwind-traders.com", "contoso-energy.com", "fabrikam-design.com", "tailspin-toys.com"}
	case emailDisposable:
		domains = []string{"mailinator.com", "guerrillamail.com", "yopmail.com", "sharklasers.com"}
	default:
		domains = []string{"gmail.com", "yahoo.com", "hotmail.com", "aol.com", "outlook.com", "icloud.com"}
	}
	return local + "@" + domains[mk.rng.IntN(len(domains))]
}

func (mk *market) phone(kind string) string {
	var area int
	switch kind {
	case phoneToll:
		area = 800
	case phonePremium:
		area = 900
	case phoneOther:
		area = 500
	default:
		areas := [...]int{212, 213, 305, 310, 312, 404, 415, 512, 602, 617, 702, 713, 718, 206, 303, 614}
		area = areas[mk.rng.IntN(len(areas))]
	}
	return fmt.Sprintf("+1%d%d%04d", area, 200+mk.rng.IntN(800), mk.rng.IntN(10000))
}

func (mk *market) ip() string {
	return fmt.Sprintf("%d.%d.%d.%d", 11+mk.rng.IntN(200), mk.rng.IntN(256), mk.rng.IntN(256), 1+mk.rng.IntN(254))
}

func (mk *market) cert() string {
	return fmt.Sprintf("https://cert.trustedform.com/%016x%016x", mk.rng.Uint64(), mk.rng.Uint64())
}

// value draws an optional field's value.
func (mk *market) value(name string) string {
	switch name {
	case "credit":
		return []string{"excellent", "good", "good", "fair", "fair", "poor"}[mk.rng.IntN(6)]
	case "home_owner", "insured":
		return []string{"yes", "no"}[mk.rng.IntN(2)]
	case "zip":
		return fmt.Sprintf("%05d", 10000+mk.rng.IntN(89999))
	case "address":
		return fmt.Sprintf("%d Main St", 1+mk.rng.IntN(9999))
	}
	return "Smith"
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

func logit(p float64) float64 { return math.Log(p / (1 - p)) }
