package scoring

import (
	"slices"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
)

// featureCampaign declares a field of most types, two enums and a state.
func featureCampaign() *config.Campaign {
	return &config.Campaign{ID: "auto", Fields: map[string]config.Field{
		"first_name": {Type: config.TypeString, Required: true},
		"email":      {Type: config.TypeEmail},
		"phone":      {Type: config.TypePhone},
		"state":      {Type: config.TypeUSState},
		"credit":     {Type: config.TypeEnum, Values: []string{"good", "poor"}},
		"home_owner": {Type: config.TypeEnum, Values: []string{"yes", "no"}},
		"age":        {Type: config.TypeInteger},
	}}
}

func TestFeatures(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skipf("no time zone data: %v", err)
	}
	// 2025-03-04 is a Tuesday; 03:30 UTC is 22:30 on Monday in New York.
	at := time.Date(2025, 3, 4, 3, 30, 0, 0, time.UTC)
	sigs := []Signal{
		{Name: SignalPhoneType, Value: PhoneFixedLineOrMobile},
		{Name: SignalEmailDomain, Value: DomainDisposable},
		{Name: SignalVelocity, Value: "2-3"},
		{Name: SignalCompleteness, Value: "0.86"},
		{Name: SignalHour, Value: "22"},
		{Name: SignalConsent, Value: ConsentPresent},
	}
	tests := []struct {
		name string
		in   Input
		sigs []Signal
		want []string
	}{
		{
			name: "everything",
			in: Input{Campaign: featureCampaign(), Source: "aff", SubID: "s7", At: at, Zone: ny,
				Fields: map[string]any{"state": "ny", "credit": "good", "home_owner": "no", "age": int64(40), "first_name": "Ana"}},
			sigs: sigs,
			want: []string{"src=aff", "sub=aff/s7", "hour=22", "weekday=1", "phone=fixed_line_or_mobile",
				"email=disposable", "velocity=2-3", "complete=0.75", "consent=present",
				"f:credit=good", "f:home_owner=no", "state=NY"},
		},
		{
			name: "no zone is UTC, no sub-id, missing enums",
			in:   Input{Campaign: featureCampaign(), Source: "search", At: at, Fields: map[string]any{"credit": ""}},
			sigs: []Signal{{Name: SignalCompleteness, Value: "1.00"}, {Name: SignalConsent, Value: ConsentMissing}},
			want: []string{"src=search", "hour=03", "weekday=2", "complete=1", "consent=missing"},
		},
		{
			name: "no campaign, no source",
			in:   Input{At: at},
			want: []string{"hour=03", "weekday=2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Features(tt.in, tt.sigs); !slices.Equal(got, tt.want) {
				t.Errorf("Features:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestCompleteBucket(t *testing.T) {
	for v, want := range map[string]string{
		"1.00": "1", "0.99": "0.75", "0.75": "0.75", "0.74": "0.5", "0.50": "0.5", "0.49": "0", "0.00": "0", "x": "unknown",
	} {
		if got := completeBucket(v); got != want {
			t.Errorf("completeBucket(%q) = %q, want %q", v, got, want)
		}
	}
}

// TestFeaturesOfSignals holds Features to the signals Signals really
// returns: each signal but the hour becomes a feature.
func TestFeaturesOfSignals(t *testing.T) {
	in := Input{Campaign: featureCampaign(), Source: "s", At: time.Date(2025, 3, 4, 15, 0, 0, 0, time.UTC),
		Fields: map[string]any{"phone": "+14158921234", "email": "a@gmail.com"}}
	got := Features(in, Signals(in))
	for _, want := range []string{"phone=fixed_line_or_mobile", "email=free", "velocity=0", "consent=missing", "hour=15"} {
		if !slices.Contains(got, want) {
			t.Errorf("Features(Signals) = %q, want it to hold %q", got, want)
		}
	}
	if i := slices.IndexFunc(got, func(f string) bool { return len(f) > 9 && f[:9] == "complete=" }); i < 0 {
		t.Errorf("Features(Signals) = %q, want a completeness bucket", got)
	}
}

func BenchmarkFeatures(b *testing.B) {
	in := scoreInput()
	sigs := Signals(in)
	b.ReportAllocs()
	for b.Loop() {
		Features(in, sigs)
	}
}
