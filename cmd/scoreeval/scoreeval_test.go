package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/scoring"
)

// TestEval runs a small evaluation, with a fixed seed, and holds it to the
// targets' direction: the model ranks leads better than the rule score,
// and min_score and the source loop earn more than routing without them.
func TestEval(t *testing.T) {
	r := measure(evalConfig{seed: 1, leads: 4000, minScore: defaultMinScore})
	auc := map[string]float64{}
	for _, s := range r.scores {
		auc[s.name] = s.auc
	}
	best, model, blended, rule := auc["true probability (best possible)"], auc["model"], auc["blended score"], auc["rule score"]
	if model <= rule || blended <= rule {
		t.Errorf("AUC: model %.3f, blended %.3f, rule %.3f; want the model and the blend above the rule", model, blended, rule)
	}
	if model > best+0.01 {
		t.Errorf("AUC: model %.3f above the best possible %.3f: the model sees the truth", model, best)
	}
	profit := map[string]float64{}
	for _, p := range r.policies {
		profit[p.pol.name] = p.money.profit()
	}
	off := profit["off"]
	for _, on := range []string{"min_score", "source loop", "min_score + source loop"} {
		if profit[on] <= off {
			t.Errorf("profit with %s %.0f, without %.0f: want more with it", on, profit[on], off)
		}
	}

	var out bytes.Buffer
	if err := r.write(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"synthetic market: 4000 leads", "true probability (best possible)", "min_score + source loop"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestEvaluateRefusesTooFewLeads(t *testing.T) {
	if err := evaluate(&bytes.Buffer{}, evalConfig{seed: 1, leads: 100}); err == nil {
		t.Error("evaluate ran on 100 leads")
	}
}

// TestMarketShowsItsTruth checks that the platform's signals see the phone
// and email classes the generator drew: the truth and the signals speak of
// the same things.
func TestMarketShowsItsTruth(t *testing.T) {
	mk := newMarket(1)
	camp := campaign()
	signal := func(fields map[string]any, name string) string {
		for _, s := range scoring.Signals(scoring.Input{Campaign: camp, Fields: fields}) {
			if s.Name == name {
				return s.Value
			}
		}
		return ""
	}
	phones := map[string]string{
		phoneNormal: scoring.PhoneFixedLineOrMobile, phoneToll: scoring.PhoneTollFree,
		phonePremium: scoring.PhonePremiumRate, phoneOther: scoring.PhoneOther,
	}
	emails := map[string]string{
		emailFree: scoring.DomainFree, emailCorporate: scoring.DomainCorporate, emailDisposable: scoring.DomainDisposable,
	}
	for range 50 {
		for kind, want := range phones {
			p := mk.phone(kind)
			if got := signal(map[string]any{"phone": p}, scoring.SignalPhoneType); got != want {
				t.Fatalf("phone %s (%s) reads as %s, want %s", p, kind, got, want)
			}
		}
		for class, want := range emails {
			e := mk.emailAddress(class)
			if got := signal(map[string]any{"email": e}, scoring.SignalEmailDomain); got != want {
				t.Fatalf("email %s (%s) reads as %s, want %s", e, class, got, want)
			}
		}
	}
}

func TestMarketDeterministic(t *testing.T) {
	a := newMarket(7).generate(500, 5, startDay())
	b := newMarket(7).generate(500, 5, startDay())
	for i := range a {
		if !a[i].at.Equal(b[i].at) || a[i].p != b[i].p || a[i].phone != b[i].phone {
			t.Fatalf("lead %d differs between two markets of one seed", i)
		}
		if i > 0 && a[i].at.Before(a[i-1].at) {
			t.Fatalf("lead %d arrives before lead %d", i, i-1)
		}
	}
}

func TestVelocity(t *testing.T) {
	at := startDay()
	v := newVelocity(24 * time.Hour)
	add := func(l *lead) scoring.Velocity {
		got := v.count(l)
		v.add(l)
		return got
	}
	first := &lead{at: at, source: 0, phone: "+1", email: "a@x", ip: "1.1.1.1"}
	if got := add(first); got != (scoring.Velocity{}) {
		t.Errorf("first lead: %+v, want nothing", got)
	}
	// Same phone from another source; no email.
	if got, want := add(&lead{at: at.Add(time.Hour), source: 1, phone: "+1", ip: "2.2.2.2"}), (scoring.Velocity{Phone: 1, Sources: 1}); got != want {
		t.Errorf("second lead: %+v, want %+v", got, want)
	}
	// Same phone, email and IP from the first source again.
	if got, want := add(&lead{at: at.Add(2 * time.Hour), source: 0, phone: "+1", email: "a@x", ip: "1.1.1.1"}), (scoring.Velocity{Phone: 2, Email: 1, IP: 1, Sources: 1}); got != want {
		t.Errorf("third lead: %+v, want %+v", got, want)
	}
	// A day after the first, the first is out of the window.
	if got, want := v.count(&lead{at: at.Add(25 * time.Hour), source: 2, phone: "+1"}), (scoring.Velocity{Phone: 2, Sources: 2}); got != want {
		t.Errorf("a day later: %+v, want %+v", got, want)
	}
}
