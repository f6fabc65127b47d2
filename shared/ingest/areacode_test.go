package ingest

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

var updateAreaCodes = flag.Bool("update-area-codes", false, "rewrite areacodes.txt from libphonenumber's geocoding data")

func TestAreaCodeState(t *testing.T) {
	for in, want := range map[string]string{
		"+15125550101":  "TX", // Austin
		"+13105550001":  "CA",
		"+12125550100":  "NY",
		"+12025550100":  "DC",
		"+19075550100":  "AK",
		"+17875550100":  "PR",
		"+14165550100":  "", // Toronto
		"+16045550100":  "", // Vancouver
		"+18765550100":  "", // Jamaica
		"+18005550100":  "", // toll-free
		"+442071234567": "",
		"+1512555010":   "", // nine digits
		"+151255501011": "",
		"+1512555O101":  "",
		"5125550101":    "",
		"anonymous":     "",
		"":              "",
	} {
		if got := areaCodeState(in); got != want {
			t.Errorf("areaCodeState(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseAreaCodesRefusesBadLines(t *testing.T) {
	for _, text := range []string{"TX", "tx 512", "TX 51", "TX 5l2", "TX 512\nCA 512", "TEX 512", "TX 099"} {
		if _, err := parseAreaCodes(text); err == nil {
			t.Errorf("%q: no error", text)
		}
	}
}

// usStateNames are the names libphonenumber's English geocoding gives a
// whole area code.
var usStateNames = map[string]string{
	"Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA", "Colorado": "CO",
	"Connecticut": "CT", "Delaware": "DE", "Florida": "FL", "Georgia": "GA", "Hawaii": "HI", "Idaho": "ID",
	"Illinois": "IL", "Indiana": "IN", "Iowa": "IA", "Kansas": "KS", "Kentucky": "KY", "Louisiana": "LA",
	"Maine": "ME", "Maryland": "MD", "Massachusetts": "MA", "Michigan": "MI", "Minnesota": "MN",
	"Mississippi": "MS", "Missouri": "MO", "Montana": "MT", "Nebraska": "NE", "Nevada": "NV",
	"New Hampshire": "NH", "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY", "North Carolina": "NC",
	"North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR", "Pennsylvania": "PA",
	"Rhode Island": "RI", "South Carolina": "SC", "South Dakota": "SD", "Tennessee": "TN", "Texas": "TX",
	"Utah": "UT", "Vermont": "VT", "Virginia": "VA", "Washington": "WA", "Washington State": "WA", "West Virginia": "WV",
	"Wisconsin": "WI", "Wyoming": "WY", "Washington D.C.": "DC", "Washington, DC": "DC",
	"Puerto Rico": "PR", "U.S. Virgin Islands": "VI", "Guam": "GU", "American Samoa": "AS",
	"Northern Mariana Islands": "MP",
}

// usRegions are the regions of country code 1 whose area codes name a US
// state, DC or territory.
var usRegions = []string{"US", "PR", "VI", "GU", "AS", "MP"}

// libphonenumberAreaCodes derives the table from libphonenumber's English
// geocoding of a number in each area code (the library in go.mod): a
// region of usRegions, and a description that is a state's name or ends
// in ", <USPS code>".
func libphonenumberAreaCodes(t *testing.T) map[string][]string {
	t.Helper()
	byState := map[string][]string{}
	for ac := 200; ac <= 999; ac++ {
		var state string
		valid := 0
		// The state of the first numbers valid in the area code: some
		// area codes are valid in a few exchanges only (340, 684), so
		// every 11th exchange is tried, each first digit nine times (a
		// scan of every exchange gives the same table, 7 times slower).
		for exchange := 234; exchange <= 999 && valid < 3; exchange += 11 {
			n, err := phonenumbers.Parse(fmt.Sprintf("+1%d%d5678", ac, exchange), "US")
			if err != nil || !phonenumbers.IsValidNumber(n) {
				continue
			}
			valid++
			if !slices.Contains(usRegions, phonenumbers.GetRegionCodeForNumber(n)) {
				break
			}
			g, err := phonenumbers.GetGeocodingForNumber(n, "en")
			if err != nil {
				t.Fatal(err)
			}
			st := usStateNames[g]
			if i := strings.LastIndex(g, ", "); st == "" && i >= 0 && len(g)-i == 4 {
				st = g[i+2:]
			}
			if st == "" {
				if g != "United States" {
					t.Logf("area code %d: %q is no state", ac, g)
				}
				break
			}
			if state != "" && state != st {
				t.Fatalf("area code %d: %s and %s", ac, state, st)
			}
			state = st
		}
		if state != "" {
			byState[state] = append(byState[state], fmt.Sprint(ac))
		}
	}
	return byState
}

const areaCodesHeader = `# The US area codes by state, DC and territory (USPS code, then its area codes):
# a call's state when Twilio sends no FromState (shared/ingest/areacode.go).
# Derived from libphonenumber's English geocoding data for country code 1
# (github.com/nyaruka/phonenumbers, data/prefix_to_geocodings/en.txt.gz: the
# state of a number in each area code), which follows NANPA's area code
# assignments (nationalnanpa.com). Canada's and the Caribbean nations' area
# codes and non-geographic ones (8XX toll-free, 5XX, 900) are not here.
# Regenerate: go test ./shared/ingest -run TestAreaCodesMatchLibphonenumber -update-area-codes
`

// The embedded table is libphonenumber's, as go.mod pins it.
func TestAreaCodesMatchLibphonenumber(t *testing.T) {
	byState := libphonenumberAreaCodes(t)
	var b strings.Builder
	b.WriteString(areaCodesHeader)
	for _, st := range slices.Sorted(maps.Keys(byState)) {
		fmt.Fprintf(&b, "%s %s\n", st, strings.Join(byState[st], " "))
	}
	if *updateAreaCodes {
		if err := os.WriteFile("areacodes.txt", []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if b.String() != areaCodesText {
		t.Fatal("areacodes.txt differs from libphonenumber's geocoding: regenerate it with -update-area-codes")
	}
	if len(byState) < 50 || byState["TX"] == nil || !slices.Contains(byState["TX"], "512") {
		t.Fatalf("states: %d; TX %v", len(byState), byState["TX"])
	}
}
