package scoring

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/leadrelay/leadrelay/shared/config"
)

// Signal names, in the order Signals returns them.
const (
	SignalPhoneType    = "phone_type"
	SignalEmailDomain  = "email_domain"
	SignalVelocity     = "velocity"
	SignalCompleteness = "completeness"
	SignalHour         = "hour"
	SignalConsent      = "consent"
)

// Phone types (the phone_type signal's values), from libphonenumber's
// number types. Most US numbers are fixed_line_or_mobile: the North
// American plan does not tell mobiles from landlines by number.
const (
	PhoneMobile            = "mobile"
	PhoneFixedLine         = "fixed_line"
	PhoneFixedLineOrMobile = "fixed_line_or_mobile"
	PhoneVoIP              = "voip"
	PhoneTollFree          = "toll_free"
	PhonePremiumRate       = "premium_rate"
	// PhoneOther is a pager, shared-cost, personal, UAN or voicemail
	// number.
	PhoneOther   = "other"
	PhoneInvalid = "invalid"
	PhoneNone    = "none"
)

// Consent values.
const (
	ConsentPresent = "present"
	ConsentMissing = "missing"
)

// RuleBase is the rule score of a lead whose signals add nothing.
const RuleBase = 50

// Signals reads the rule signals of a lead, always these six in this order,
// each with its value, its points and a sentence saying why. The points:
//
//	signal        value                        points
//	phone_type    mobile                       +12
//	              fixed_line_or_mobile         +10  (most US numbers)
//	              fixed_line                    +5
//	              other, none                    0
//	              voip                         -10
//	              toll_free                    -15
//	              premium_rate, invalid        -20
//	email_domain  corporate                     +3
//	              free, none                     0
//	              disposable                   -40
//	velocity      0 other leads                 +5
//	              1                             -5
//	              2-3                          -15
//	              4+                           -30
//	              and from 2 or more sources   -15 more
//	completeness  f, the share of the          10f-5 (-5 to +5)
//	              campaign's fields present
//	hour          00-05 local                  -10
//	              06-23                          0
//	consent       present                      +10
//	              missing                        0
//
// So a clean, complete lead with a mobile number and consent, sent in the
// day, scores 82 (80 with a US number), and one from a disposable address
// seen four times today from other sources scores 0.
func Signals(in Input) []Signal {
	return []Signal{
		phoneSignal(in),
		emailSignal(in),
		velocitySignal(in.Velocity),
		completenessSignal(in),
		hourSignal(in.At, in.Zone),
		consentSignal(in),
	}
}

// RuleScore is the rule score of the signals: RuleBase plus their points,
// rounded and held to 0-100.
func RuleScore(sigs []Signal) int {
	sum := float64(RuleBase)
	for _, s := range sigs {
		sum += s.Points
	}
	return int(math.Round(min(max(sum, 0), 100)))
}

// phoneSignal reads the type of the lead's phone number: the value of the
// campaign's first phone field (by name) that the lead filled in.
func phoneSignal(in Input) Signal {
	s := Signal{Name: SignalPhoneType}
	name, v := firstFieldOfType(in, config.TypePhone)
	if name == "" {
		s.Value, s.Why = PhoneNone, "the lead has no phone number"
		return s
	}
	s.Value = phoneType(fieldString(v))
	switch s.Value {
	case PhoneMobile:
		s.Points, s.Why = 12, "the phone is a mobile number"
	case PhoneFixedLineOrMobile:
		s.Points, s.Why = 10, "the phone may be a mobile or a landline, as most US numbers"
	case PhoneFixedLine:
		s.Points, s.Why = 5, "the phone is a landline"
	case PhoneVoIP:
		s.Points, s.Why = -10, "the phone is a VoIP number"
	case PhoneTollFree:
		s.Points, s.Why = -15, "the phone is a toll-free number, not a consumer's"
	case PhonePremiumRate:
		s.Points, s.Why = -20, "the phone is a premium-rate number"
	case PhoneInvalid:
		s.Points, s.Why = -20, "the phone number is not a valid number"
	default:
		s.Why = "the phone is a pager, shared-cost or other special number"
	}
	return s
}

// phoneType is the type of phone number s (E.164, or national US).
func phoneType(s string) string {
	var n phonenumbers.PhoneNumber
	if !parseNANP(s, &n) {
		if err := phonenumbers.ParseToNumber(s, "US", &n); err != nil {
			return PhoneInvalid
		}
	}
	// GetNumberType answers UNKNOWN exactly when the number is not valid.
	switch phonenumbers.GetNumberType(&n) {
	case phonenumbers.MOBILE:
		return PhoneMobile
	case phonenumbers.FIXED_LINE:
		return PhoneFixedLine
	case phonenumbers.FIXED_LINE_OR_MOBILE:
		return PhoneFixedLineOrMobile
	case phonenumbers.VOIP:
		return PhoneVoIP
	case phonenumbers.TOLL_FREE:
		return PhoneTollFree
	case phonenumbers.PREMIUM_RATE:
		return PhonePremiumRate
	case phonenumbers.UNKNOWN:
		return PhoneInvalid
	}
	return PhoneOther
}

// parseNANP is phoneType's fast path for the usual lead's number: "+1" and
// ten digits, the first not 0 or 1, in E.164 as validation leaves it. It
// sets n as phonenumbers.Parse would, at a fraction of the cost, and
// reports false for any other shape.
func parseNANP(s string, n *phonenumbers.PhoneNumber) bool {
	if len(s) != 12 || s[0] != '+' || s[1] != '1' || s[2] < '2' || s[2] > '9' {
		return false
	}
	var national uint64
	for i := 2; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		national = national*10 + uint64(c-'0')
	}
	cc := int32(1)
	n.CountryCode, n.NationalNumber = &cc, &national
	return true
}

// emailSignal reads the kind of the domain of the lead's email address:
// the value of the campaign's first email field (by name) that the lead
// filled in.
func emailSignal(in Input) Signal {
	s := Signal{Name: SignalEmailDomain}
	var domain string
	if name, v := firstFieldOfType(in, config.TypeEmail); name != "" {
		addr := fieldString(v)
		domain = addr[strings.LastIndexByte(addr, '@')+1:]
	}
	s.Value = domainKind(domain)
	switch s.Value {
	case DomainNone:
		s.Why = "the lead has no email address"
	case DomainDisposable:
		s.Points, s.Why = -40, domain+" is a disposable email domain"
	case DomainFree:
		s.Why = domain + " is a free mail provider"
	default:
		s.Points, s.Why = 3, domain+" is a company's own domain"
	}
	return s
}

// velocitySignal buckets the other recent leads that share the lead's
// phone, email or IP.
func velocitySignal(v Velocity) Signal {
	s := Signal{Name: SignalVelocity}
	n := v.Phone + v.Email + v.IP
	switch {
	case n <= 0:
		s.Value, s.Points = "0", 5
		s.Why = "no other recent lead shares its phone, email or IP"
		return s
	case n == 1:
		s.Value, s.Points = "1", -5
	case n <= 3:
		s.Value, s.Points = "2-3", -15
	default:
		s.Value, s.Points = "4+", -30
	}
	s.Why = fmt.Sprintf("%d other recent %s its phone (%d), email (%d) or IP (%d)",
		n, pluralise(n, "lead shares", "leads share"), v.Phone, v.Email, v.IP)
	if v.Sources > 0 {
		s.Why += fmt.Sprintf(", from %d other %s", v.Sources, pluralise(v.Sources, "source", "sources"))
	}
	if v.Sources >= 2 {
		s.Points -= 15
	}
	return s
}

// completenessSignal is the share of the campaign's fields that the lead
// filled in.
func completenessSignal(in Input) Signal {
	s := Signal{Name: SignalCompleteness}
	total, have := 0, 0
	if in.Campaign != nil {
		for name := range in.Campaign.Fields {
			total++
			if hasValue(in.Fields[name]) {
				have++
			}
		}
	}
	if total == 0 {
		s.Value, s.Why = "1.00", "the campaign declares no fields"
		return s
	}
	f := float64(have) / float64(total)
	s.Value = strconv.FormatFloat(f, 'f', 2, 64)
	s.Points = math.Round((10*f-5)*10) / 10 // to a tenth: a score's detail reads 2.1, not 2.1428571428571432
	s.Why = fmt.Sprintf("%d of the campaign's %d fields filled in", have, total)
	return s
}

// hourSignal reads the local hour the lead was sent at.
func hourSignal(at time.Time, zone *time.Location) Signal {
	if zone == nil {
		zone = time.UTC
	}
	h := at.In(zone).Hour()
	s := Signal{Name: SignalHour, Value: fmt.Sprintf("%02d", h)}
	s.Why = fmt.Sprintf("sent at %02d:00 %s time", h, zone)
	if h < 6 {
		s.Points = -10
		s.Why += ", when few people fill in forms"
	}
	return s
}

// consentSignal reads whether the lead carries a consent certificate.
func consentSignal(in Input) Signal {
	s := Signal{Name: SignalConsent, Value: ConsentMissing}
	names := config.DefaultConsentFields
	if in.Campaign != nil && in.Campaign.Scoring.ConsentField != "" {
		names = []string{in.Campaign.Scoring.ConsentField}
	}
	for _, name := range names {
		v := in.Fields[name]
		if b, ok := v.(bool); ok && !b || !hasValue(v) {
			continue
		}
		s.Value, s.Points = ConsentPresent, 10
		s.Why = name + " holds a consent certificate"
		return s
	}
	s.Why = "no consent certificate in " + strings.Join(names, " or ")
	return s
}

// firstFieldOfType returns the first field of the campaign, by name, of type
// typ that the lead filled in, and its value; "" when there is none.
func firstFieldOfType(in Input, typ string) (string, any) {
	if in.Campaign == nil {
		return "", nil
	}
	var first string
	var value any
	for name, f := range in.Campaign.Fields {
		if f.Type != typ || first != "" && name > first {
			continue
		}
		if v := in.Fields[name]; hasValue(v) {
			first, value = name, v
		}
	}
	return first, value
}

// hasValue reports whether a field's value is there: not missing, nil or
// blank.
func hasValue(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case string:
		return strings.TrimSpace(x) != ""
	}
	return true
}

// fieldString is a field's value as a string.
func fieldString(v any) string {
	if s, ok := v.(string); ok {
		return strings.TrimSpace(s)
	}
	return fmt.Sprint(v)
}

// pluralise picks one or many by n.
func pluralise(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
