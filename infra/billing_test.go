package main

import (
	"testing"

	fnsettings "github.com/leadrelay/leadrelay/shared/settings"
)

// The stack sets Stripe's API the functions default to, on every
// function.
func TestStripeURLIsTheFunctionsDefault(t *testing.T) {
	if DefaultStripeURL != fnsettings.DefaultStripeURL {
		t.Errorf("the stack sets %s, the functions default to %s", DefaultStripeURL, fnsettings.DefaultStripeURL)
	}
	f := synthDefault(t)
	for id, fn := range f.resources("AWS::Lambda::Function") {
		env, _ := props(fn)["Environment"].(map[string]any)
		vars, _ := env["Variables"].(map[string]any)
		if vars["LEADRELAY_STRIPE_URL"] != DefaultStripeURL {
			t.Errorf("%s: LEADRELAY_STRIPE_URL = %v, want %s", id, vars["LEADRELAY_STRIPE_URL"], DefaultStripeURL)
		}
	}
}
