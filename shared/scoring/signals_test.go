package scoring

import (
	"strings"
	"testing"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/leadrelay/leadrelay/shared/config"
)

// testCampaign declares a phone, an email, a consent certificate and three
// more fields.
func testCampaign() *config.Campaign {
	return &config.Campaign{
		ID: "auto",
		Fields: map[string]config.Field{
			"phone":                {Type: config.TypePhone},
			"email":                {Type: config.TypeEmail},
			"first_name":           {Type: config.TypeString},
			"state":                {Type: config.TypeUSState},
			"zip":                  {Type: config.TypeZip},
			"trustedform_cert_url": {Type: config.TypeString},
		},
	}
}

// cleanInput is a complete lead with a UK mobile number, a gmail address
// and consent, sent at 14:00 in New York, seen nowhere else.
func cleanInput(tb testing.TB) Input {
	tb.Helper()
	return Input{
		Campaign: testCampaign(),
		Source:   "src-1",
		Fields: map[string]any{
			"phone":                "+447400123456",
			"email":                "jane@gmail.com",
			"first_name":           "Jane",
			"state":                "NY",
			"zip":                  "10001",
			"trustedform_cert_url": "https://cert.trustedform.com/0123456789abcdef",
		},
		At:   mustTime(tb, "2026-06-01T18:00:00Z"),
		Zone: mustLoc(tb, "America/New_York"),
	}
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

// signal returns the named signal of sigs.
func signal(tb testing.TB, sigs []Signal, name string) Signal {
	tb.Helper()
	for _, s := range sigs {
		if s.Name == name {
			return s
		}
	}
	tb.Fatalf("no signal %q in %+v", name, sigs)
	return Signal{}
}

func TestSignalsOrderAndWhy(t *testing.T) {
	for _, in := range []Input{cleanInput(t), {}} {
		sigs := Signals(in)
		want := []string{SignalPhoneType, SignalEmailDomain, SignalVelocity, SignalCompleteness, SignalHour, SignalConsent}
		if len(sigs) != len(want) {
			t.Fatalf("Signals gave %d signals, want %d: %+v", len(sigs), len(want), sigs)
		}
		for i, s := range sigs {
			if s.Name != want[i] || s.Value == "" || s.Why == "" {
				t.Errorf("signal %d = %+v, want name %q with a value and a why", i, s, want[i])
			}
		}
	}
}

func TestPhoneSignal(t *testing.T) {
	tests := []struct {
		name   string
		phone  any // nil: no phone field value
		value  string
		points float64
	}{
		{"UK mobile", "+447400123456", PhoneMobile, 12},
		{"US number", "+14158921234", PhoneFixedLineOrMobile, 10},
		{"US number, national notation", "(415) 892-1234", PhoneFixedLineOrMobile, 10},
		{"London landline", "+442079460000", PhoneFixedLine, 5},
		{"UK VoIP", "+445612345678", PhoneVoIP, -10},
		{"US toll-free 800", "+18005550199", PhoneTollFree, -15},
		{"US premium-rate 900", "+19005550123", PhonePremiumRate, -20},
		{"UK personal number", "+447012345678", PhoneOther, 0},
		{"area code 123 does not exist", "+11234567890", PhoneInvalid, -20},
		{"not a number at all", "call me", PhoneInvalid, -20},
		{"no phone", nil, PhoneNone, 0},
		{"blank phone", "  ", PhoneNone, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := cleanInput(t)
			in.Fields["phone"] = tt.phone
			s := phoneSignal(in)
			if s.Value != tt.value || s.Points != tt.points || s.Why == "" {
				t.Errorf("phone %v: got %+v, want value %q points %v", tt.phone, s, tt.value, tt.points)
			}
		})
	}
}

// TestParseNANP holds phoneType's fast path to what phonenumbers makes of
// the same numbers.
func TestParseNANP(t *testing.T) {
	for _, s := range []string{
		"+14158921234", "+12025550123", "+18005550199", "+19005550123", "+12135550100",
		"+15551234567", "+19999999999", "+16045551234", "+18765551234",
		"+12425551234", "+17875551234", "+14155552671", "+12345678901", "+13115550100",
	} {
		var fast phonenumbers.PhoneNumber
		if !parseNANP(s, &fast) {
			t.Fatalf("parseNANP(%s) = false", s)
		}
		slow, err := phonenumbers.Parse(s, "US")
		if err != nil {
			t.Fatalf("phonenumbers.Parse(%s): %v", s, err)
		}
		if got, want := phonenumbers.GetNumberType(&fast), phonenumbers.GetNumberType(slow); got != want {
			t.Errorf("%s: fast path's type %v, phonenumbers' %v", s, got, want)
		}
		if got, want := phonenumbers.Format(&fast, phonenumbers.E164), phonenumbers.Format(slow, phonenumbers.E164); got != want {
			t.Errorf("%s: fast path formats as %s, phonenumbers' as %s", s, got, want)
		}
	}
	for _, s := range []string{"", "+1415892123", "+141589212345", "+10158921234", "+11158921234", "+11234567890", "+1415892123x", "14158921234 ", "+447400123456", "(415) 892-1234"} {
		var n phonenumbers.PhoneNumber
		if parseNANP(s, &n) {
			t.Errorf("parseNANP(%q) = true, want the slow path", s)
		}
	}
}

func TestPhoneSignalFirstPhoneFieldByName(t *testing.T) {
	in := cleanInput(t)
	in.Campaign.Fields["alt_phone"] = config.Field{Type: config.TypePhone}
	in.Fields["alt_phone"] = "+18005550199" // toll-free, and first by name
	if s := phoneSignal(in); s.Value != PhoneTollFree {
		t.Errorf("got %+v, want alt_phone's toll_free", s)
	}
	in.Fields["alt_phone"] = ""
	if s := phoneSignal(in); s.Value != PhoneMobile {
		t.Errorf("got %+v, want phone's mobile when alt_phone is blank", s)
	}
	in.Campaign = nil
	if s := phoneSignal(in); s.Value != PhoneNone {
		t.Errorf("no campaign: got %+v, want none", s)
	}
}

func TestEmailSignal(t *testing.T) {
	tests := []struct {
		email  any
		value  string
		points float64
	}{
		{"jane@gmail.com", DomainFree, 0},
		{"jane@GMail.COM", DomainFree, 0},
		{"jane@comcast.net", DomainFree, 0},
		{"jane.doe@acme-insurance.com", DomainCorporate, 3},
		{"x@mailinator.com", DomainDisposable, -40},
		{"x@MAILINATOR.COM", DomainDisposable, -40},
		// A subdomain of a listed domain is disposable too.
		{"x@mail.foo.mailinator.com", DomainDisposable, -40},
		{"x@inbox.33mail.com", DomainDisposable, -40},
		// A domain that merely ends like a listed one is not.
		{"x@examplemailinator.com", DomainCorporate, 3},
		// edu.pl is on the upstream list but is a public suffix: dropped.
		{"student@uw.edu.pl", DomainCorporate, 3},
		{"x@guerrillamail.com.", DomainDisposable, -40},
		{nil, DomainNone, 0},
		{"", DomainNone, 0},
	}
	for _, tt := range tests {
		in := cleanInput(t)
		in.Fields["email"] = tt.email
		s := emailSignal(in)
		if s.Value != tt.value || s.Points != tt.points || s.Why == "" {
			t.Errorf("email %v: got %+v, want value %q points %v", tt.email, s, tt.value, tt.points)
		}
	}
}

func TestFreeDomainsAreNotDisposable(t *testing.T) {
	for _, d := range strings.Fields(freeDomains) {
		if isDisposable(d) {
			t.Errorf("free domain %s is on the disposable list", d)
		}
		if got := domainKind(d); got != DomainFree {
			t.Errorf("domainKind(%s) = %s, want free", d, got)
		}
	}
}

// TestDataFiles holds the embedded lists to what hasLine needs: lines
// sorted by byte, unique, lower-case, ending in a newline.
func TestDataFiles(t *testing.T) {
	for name, list := range map[string]string{"disposable_domains.txt": disposableDomains, "free_domains.txt": freeDomains} {
		if !strings.HasSuffix(list, "\n") {
			t.Errorf("%s: does not end in a newline", name)
		}
		lines := strings.Split(strings.TrimSuffix(list, "\n"), "\n")
		for i, l := range lines {
			if l == "" || l != strings.ToLower(strings.TrimSpace(l)) || !strings.Contains(l, ".") {
				t.Errorf("%s line %d: %q is not a lower-case domain", name, i+1, l)
			}
			if i > 0 && lines[i-1] >= l {
				t.Errorf("%s line %d: %q is not after %q", name, i+1, l, lines[i-1])
			}
		}
		// Every line is found, and nothing between them is.
		for i, l := range lines {
			if !hasLine(list, l) {
				t.Fatalf("%s: hasLine(%q) = false", name, l)
			}
			if i%97 == 0 && hasLine(list, l+"-") {
				t.Fatalf("%s: hasLine(%q) = true", name, l+"-")
			}
		}
	}
	if n := strings.Count(disposableDomains, "\n"); n < 100000 {
		t.Errorf("disposable list has %d domains, want the full list", n)
	}
}

func TestHasLine(t *testing.T) {
	tests := []struct {
		list, s string
		want    bool
	}{
		{"", "a", false},
		{"a\n", "a", true},
		{"a\n", "", false},
		{"a\nb\nc\n", "a", true},
		{"a\nb\nc\n", "b", true},
		{"a\nb\nc\n", "c", true},
		{"a\nb\nc\n", "bb", false},
		{"a\nb\nc\n", "0", false},
		{"a\nb\nc\n", "d", false},
		{"ab\nabc\nabd\n", "ab", true},
		{"ab\nabc\nabd\n", "abd", true},
		{"ab\nabc\nabd\n", "abcd", false},
		{"a\nb\nc", "c", true}, // no final newline
		{"a\nb\nc", "d", false},
	}
	for _, tt := range tests {
		if got := hasLine(tt.list, tt.s); got != tt.want {
			t.Errorf("hasLine(%q, %q) = %v, want %v", tt.list, tt.s, got, tt.want)
		}
	}
}

func TestVelocitySignal(t *testing.T) {
	tests := []struct {
		name   string
		v      Velocity
		value  string
		points float64
		why    string
	}{
		{"none", Velocity{}, "0", 5, "no other"},
		{"one by phone", Velocity{Phone: 1, Sources: 0}, "1", -5, "1 other recent lead shares its phone (1)"},
		{"two", Velocity{Email: 1, IP: 1, Sources: 1}, "2-3", -15, "from 1 other source"},
		{"three", Velocity{Phone: 1, Email: 1, IP: 1, Sources: 1}, "2-3", -15, "3 other recent leads"},
		{"four", Velocity{Phone: 2, Email: 2}, "4+", -30, "phone (2), email (2) or IP (0)"},
		{"three across two sources", Velocity{Phone: 1, Email: 1, IP: 1, Sources: 2}, "2-3", -30, "from 2 other sources"},
		{"many across sources", Velocity{Phone: 5, Email: 5, IP: 9, Sources: 4}, "4+", -45, "19 other recent leads"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := velocitySignal(tt.v)
			if s.Value != tt.value || s.Points != tt.points || !strings.Contains(s.Why, tt.why) {
				t.Errorf("%+v: got %+v, want value %q points %v why containing %q", tt.v, s, tt.value, tt.points, tt.why)
			}
		})
	}
}

func TestCompletenessSignal(t *testing.T) {
	tests := []struct {
		name   string
		drop   []string
		blank  []string
		value  string
		points float64
	}{
		{"all six", nil, nil, "1.00", 5},
		{"five of six", []string{"zip"}, nil, "0.83", 3.3}, // to a tenth
		{"blank counts as missing", nil, []string{"zip", "state", "first_name"}, "0.50", 0},
		{"one of six", []string{"zip", "state", "first_name", "email"}, []string{"trustedform_cert_url"}, "0.17", -3.3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := cleanInput(t)
			in.Fields["extra"] = "not declared: does not count"
			for _, f := range tt.drop {
				delete(in.Fields, f)
			}
			for _, f := range tt.blank {
				in.Fields[f] = " "
			}
			s := completenessSignal(in)
			if s.Value != tt.value || !near(s.Points, tt.points) {
				t.Errorf("got %+v, want value %q points %v", s, tt.value, tt.points)
			}
		})
	}
	if s := completenessSignal(Input{}); s.Value != "1.00" || s.Points != 0 {
		t.Errorf("no campaign: got %+v, want 1.00 and no points", s)
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

func TestHourSignal(t *testing.T) {
	tests := []struct {
		name   string
		at     string
		zone   string // "" for nil
		value  string
		points float64
	}{
		// 03:30 UTC on June 1st is 20:30 on May 31st in Los Angeles.
		{"UTC night is LA evening", "2026-06-01T03:30:00Z", "America/Los_Angeles", "20", 0},
		{"nil zone reads UTC", "2026-06-01T03:30:00Z", "", "03", -10},
		// 09:30 UTC is 02:30 in Los Angeles (PDT, UTC-7).
		{"UTC morning is LA night", "2026-06-01T09:30:00Z", "America/Los_Angeles", "02", -10},
		// 23:30 UTC on May 31st is 01:30 on June 1st in Berlin (CEST).
		{"across midnight eastwards", "2026-05-31T23:30:00Z", "Europe/Berlin", "01", -10},
		{"05:59 is still night", "2026-06-01T12:59:00Z", "America/Los_Angeles", "05", -10},
		{"06:00 is day", "2026-06-01T13:00:00Z", "America/Los_Angeles", "06", 0},
		{"23:00 is day", "2026-06-01T23:00:00Z", "", "23", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var zone *time.Location
			if tt.zone != "" {
				zone = mustLoc(t, tt.zone)
			}
			s := hourSignal(mustTime(t, tt.at), zone)
			if s.Value != tt.value || s.Points != tt.points {
				t.Errorf("got %+v, want value %q points %v", s, tt.value, tt.points)
			}
		})
	}
}

func TestConsentSignal(t *testing.T) {
	tests := []struct {
		name   string
		field  string // the campaign's consent_field
		fields map[string]any
		value  string
	}{
		{"default trustedform", "", map[string]any{"trustedform_cert_url": "https://cert.trustedform.com/abc"}, ConsentPresent},
		{"default jornaya", "", map[string]any{"jornaya_leadid": "ABC-123"}, ConsentPresent},
		{"none", "", map[string]any{"email": "a@b.com"}, ConsentMissing},
		{"blank", "", map[string]any{"consent_cert": "  "}, ConsentMissing},
		{"false", "", map[string]any{"consent_cert": false}, ConsentMissing},
		{"custom field", "tcpa_token", map[string]any{"tcpa_token": "t-1"}, ConsentPresent},
		{"custom field replaces the defaults", "tcpa_token", map[string]any{"trustedform_cert_url": "https://cert.trustedform.com/abc"}, ConsentMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cp := testCampaign()
			cp.Scoring.ConsentField = tt.field
			s := consentSignal(Input{Campaign: cp, Fields: tt.fields})
			wantPoints := 0.0
			if tt.value == ConsentPresent {
				wantPoints = 10
			}
			if s.Value != tt.value || s.Points != wantPoints || s.Why == "" {
				t.Errorf("got %+v, want %q with %v points", s, tt.value, wantPoints)
			}
		})
	}
}

func TestRuleScore(t *testing.T) {
	tests := []struct {
		name   string
		points []float64
		want   int
	}{
		{"nothing", nil, 50},
		{"rounds half up", []float64{0.5}, 51},
		{"rounds down", []float64{10, 0.4}, 60},
		{"clamped at 0", []float64{-40, -45, -10}, 0},
		{"clamped at 100", []float64{12, 3, 5, 5, 10, 40}, 100},
	}
	for _, tt := range tests {
		sigs := make([]Signal, len(tt.points))
		for i, p := range tt.points {
			sigs[i].Points = p
		}
		if got := RuleScore(sigs); got != tt.want {
			t.Errorf("%s: RuleScore = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestRuleScoreOfLeads(t *testing.T) {
	clean := cleanInput(t)
	if got := RuleScore(Signals(clean)); got < 80 || got > 90 {
		t.Errorf("clean mobile lead scored %d, want 80-90: %+v", got, Signals(clean))
	}
	us := cleanInput(t)
	us.Fields["phone"] = "+14158921234"
	if got := RuleScore(Signals(us)); got < 75 || got > 90 {
		t.Errorf("clean US lead scored %d, want 75-90: %+v", got, Signals(us))
	}
	bad := cleanInput(t)
	bad.Fields["email"] = "x@mailinator.com"
	bad.Velocity = Velocity{Phone: 2, Email: 2, IP: 3, Sources: 2}
	bad.At = mustTime(t, "2026-06-01T07:00:00Z") // 03:00 in New York
	if got := RuleScore(Signals(bad)); got >= 20 {
		t.Errorf("disposable, high-velocity night lead scored %d, want < 20: %+v", got, Signals(bad))
	}
	// Each bad signal alone costs the clean lead something.
	base := RuleScore(Signals(clean))
	for name, spoil := range map[string]func(*Input){
		"disposable": func(in *Input) { in.Fields["email"] = "x@mailinator.com" },
		"velocity":   func(in *Input) { in.Velocity.Phone = 1 },
		"night":      func(in *Input) { in.At = mustTime(t, "2026-06-01T07:00:00Z") },
		"no consent": func(in *Input) { delete(in.Fields, "trustedform_cert_url") },
		"toll-free":  func(in *Input) { in.Fields["phone"] = "+18005550199" },
	} {
		in := cleanInput(t)
		spoil(&in)
		if got := RuleScore(Signals(in)); got >= base {
			t.Errorf("%s: scored %d, not under the clean lead's %d", name, got, base)
		}
	}
}

func BenchmarkSignals(b *testing.B) {
	in := cleanInput(b)
	in.Fields["phone"] = "+14158921234"
	in.Fields["email"] = "jane@mail.example-corp.com"
	in.Velocity = Velocity{Phone: 1, Sources: 1}
	b.ReportAllocs()
	for b.Loop() {
		RuleScore(Signals(in))
	}
}

func BenchmarkDomainKind(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		domainKind("mail.foo.mailinator.com")
		domainKind("example-corp.com")
	}
}
