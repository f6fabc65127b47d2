package config

import (
	"slices"
	"time"
)

// stateZones is each US state's (and DC's and the territories') most
// populous time zone: a lead's local hour is read in its state's zone when
// it names a state.
var stateZones = map[string]string{
	"AL": "America/Chicago", "AK": "America/Anchorage", "AZ": "America/Phoenix", "AR": "America/Chicago",
	"CA": "America/Los_Angeles", "CO": "America/Denver", "CT": "America/New_York", "DE": "America/New_York",
	"DC": "America/New_York", "FL": "America/New_York", "GA": "America/New_York", "HI": "Pacific/Honolulu",
	"ID": "America/Boise", "IL": "America/Chicago", "IN": "America/Indiana/Indianapolis", "IA": "America/Chicago",
	"KS": "America/Chicago", "KY": "America/New_York", "LA": "America/Chicago", "ME": "America/New_York",
	"MD": "America/New_York", "MA": "America/New_York", "MI": "America/Detroit", "MN": "America/Chicago",
	"MS": "America/Chicago", "MO": "America/Chicago", "MT": "America/Denver", "NE": "America/Chicago",
	"NV": "America/Los_Angeles", "NH": "America/New_York", "NJ": "America/New_York", "NM": "America/Denver",
	"NY": "America/New_York", "NC": "America/New_York", "ND": "America/Chicago", "OH": "America/New_York",
	"OK": "America/Chicago", "OR": "America/Los_Angeles", "PA": "America/New_York", "RI": "America/New_York",
	"SC": "America/New_York", "SD": "America/Chicago", "TN": "America/Chicago", "TX": "America/Chicago",
	"UT": "America/Denver", "VT": "America/New_York", "VA": "America/New_York", "WA": "America/Los_Angeles",
	"WV": "America/New_York", "WI": "America/Chicago", "WY": "America/Denver",
	"PR": "America/Puerto_Rico", "VI": "America/St_Thomas", "GU": "Pacific/Guam", "AS": "Pacific/Pago_Pago",
	"MP": "Pacific/Saipan",
}

// StateZone names the time zone of a US state's postal code ("" when it
// is not one).
func StateZone(state string) string { return stateZones[state] }

// LeadZone is a lead's time zone: its state's (the campaign's first
// us_state field) when it names one, else the agency's.
func (ix *Index) LeadZone(camp *Campaign, fields map[string]any) *time.Location {
	if camp != nil {
		for _, name := range camp.stateFields() {
			st, _ := fields[name].(string)
			if z := StateZone(st); z != "" {
				if loc, ok := ix.locations[z]; ok {
					return loc
				}
			}
		}
	}
	return ix.Location(ix.Config.Timezone)
}

// stateFields are the campaign's us_state fields, by name.
func (c *Campaign) stateFields() []string {
	var out []string
	for name, f := range c.Fields {
		if f.Type == TypeUSState {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}
