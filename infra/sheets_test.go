package main

import (
	"testing"

	fnsettings "github.com/leadrelay/leadrelay/shared/settings"
)

// The stack sets the Sheets API and its token endpoint the functions
// default to, on every function.
func TestSheetsURLsAreTheFunctionsDefaults(t *testing.T) {
	if DefaultSheetsURL != fnsettings.DefaultSheetsURL || DefaultGoogleTokenURL != fnsettings.DefaultGoogleTokenURL {
		t.Errorf("the stack sets %s and %s, the functions default to %s and %s",
			DefaultSheetsURL, DefaultGoogleTokenURL, fnsettings.DefaultSheetsURL, fnsettings.DefaultGoogleTokenURL)
	}
	f := synthDefault(t)
	for id, fn := range f.resources("AWS::Lambda::Function") {
		env, _ := props(fn)["Environment"].(map[string]any)
		vars, _ := env["Variables"].(map[string]any)
		if vars["LEADRELAY_SHEETS_URL"] != DefaultSheetsURL || vars["LEADRELAY_GOOGLE_TOKEN_URL"] != DefaultGoogleTokenURL {
			t.Errorf("%s: LEADRELAY_SHEETS_URL = %v, LEADRELAY_GOOGLE_TOKEN_URL = %v", id, vars["LEADRELAY_SHEETS_URL"], vars["LEADRELAY_GOOGLE_TOKEN_URL"])
		}
	}
}
